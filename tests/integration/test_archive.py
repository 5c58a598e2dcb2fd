"""The raw-message archive on a real filesystem: content addressing, durability, evidence."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from store.archive import Archive
from store.errors import ArchiveCorrupt, ArchiveError, ArchiveMissing

RAW = b"From: ente@pec.it\r\nSubject: POSTA CERTIFICATA: Allegato 1\r\n\r\ncorpo\r\n"
DIGEST = hashlib.sha256(RAW).hexdigest()


def test_store_is_content_addressed_and_readable(archive: Archive) -> None:
    relative, digest = archive.store(RAW)
    assert digest == DIGEST
    assert relative == f"{DIGEST[:2]}/{DIGEST[2:4]}/{DIGEST}.eml"
    assert archive.path(relative) == archive.root / relative
    assert archive.read(relative) == RAW
    assert archive.exists(relative)


def test_permissions_are_0640_and_0750_under_a_permissive_umask(archive: Archive) -> None:
    old = os.umask(0o000)
    try:
        relative, _ = archive.store(RAW)
    finally:
        os.umask(old)
    path = archive.path(relative)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o750


def test_umask_narrows_permissions(archive: Archive) -> None:
    old = os.umask(0o077)
    try:
        relative, _ = archive.store(RAW)
    finally:
        os.umask(old)
    assert stat.S_IMODE(archive.path(relative).stat().st_mode) == 0o600


def test_storing_again_never_rewrites(archive: Archive) -> None:
    relative, _ = archive.store(RAW)
    path = archive.path(relative)
    before = path.stat()
    os.utime(path, ns=(before.st_atime_ns, 1_000_000_000))
    assert archive.store(RAW) == (relative, DIGEST)
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, 1_000_000_000)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left


def test_different_content_under_an_existing_name_is_reported_not_overwritten(
        archive: Archive) -> None:
    relative, _ = archive.store(RAW)
    path = archive.path(relative)
    path.write_bytes(b"tampered")
    with pytest.raises(ArchiveCorrupt):
        archive.store(RAW)
    assert path.read_bytes() == b"tampered"
    with pytest.raises(ArchiveCorrupt):
        archive.read(relative)


def test_a_leftover_temp_file_is_not_an_archived_message(archive: Archive) -> None:
    relative = f"{DIGEST[:2]}/{DIGEST[2:4]}/{DIGEST}.eml"
    folder = archive.root / DIGEST[:2] / DIGEST[2:4]
    folder.mkdir(parents=True)
    (folder / f".{DIGEST[:16]}.1234.deadbeef.tmp").write_bytes(RAW[:10])  # crash mid-write
    assert not archive.exists(relative)
    with pytest.raises(ArchiveMissing):
        archive.read(relative)
    assert archive.store(RAW) == (relative, DIGEST)
    assert archive.read(relative) == RAW


def test_a_crash_before_the_file_is_durable_leaves_no_archived_file(
        archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    def power_cut(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", power_cut)
    with pytest.raises(ArchiveError):
        archive.store(RAW)
    monkeypatch.undo()
    relative = f"{DIGEST[:2]}/{DIGEST[2:4]}/{DIGEST}.eml"
    assert not archive.exists(relative)
    assert archive.store(RAW) == (relative, DIGEST)
    assert archive.read(relative) == RAW


def test_a_staged_file_is_linked_only_after_its_early_fsync_finished(
        archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    """stage() starts the file's fsync at once, in the background; settle() links the final
    name only once that fsync has returned, however long it takes."""
    import threading
    import time

    events: list[tuple[str, int]] = []
    lock = threading.Lock()
    real_fsync, real_link = os.fsync, os.link

    def slow_fsync(fd: int) -> None:
        inode = os.fstat(fd).st_ino
        if stat.S_ISREG(os.fstat(fd).st_mode):
            time.sleep(0.2)
        real_fsync(fd)
        with lock:
            events.append(("fsync", inode))

    def link(src: os.PathLike[str] | str, dst: os.PathLike[str] | str) -> None:
        with lock:
            events.append(("link", os.stat(src).st_ino))
        real_link(src, dst)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    monkeypatch.setattr(os, "link", link)
    staged = [archive.stage(RAW + bytes([i])) for i in range(5)]
    assert all(s.syncing is not None for s in staged)
    archive.settle(staged)
    for s in staged:
        assert archive.read(s.relative)[:-1] == RAW
    linked = [inode for kind, inode in events if kind == "link"]
    assert len(linked) == 5
    for inode in linked:
        assert events.index(("fsync", inode)) < events.index(("link", inode))


def test_paths_outside_the_archive_are_refused(archive: Archive) -> None:
    for bad in ("../etc/passwd", f"{DIGEST[:2]}/{DIGEST[2:4]}/../../x.eml",
                f"00/00/{DIGEST}.eml", f"/{DIGEST[:2]}/{DIGEST[2:4]}/{DIGEST}.eml"):
        with pytest.raises(ArchiveError):
            archive.path(bad)


def test_empty_message_and_many_messages(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "deep" / "archive")
    stored = {archive.store(bytes([i]) * i)[0] for i in range(50)}
    assert len(stored) == 50
    assert archive.read(archive.store(b"")[0]) == b""
