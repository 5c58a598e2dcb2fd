"""The raw-message archive on a real filesystem: content addressing, durability, evidence."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

import store.archive
from store.archive import SYNCFS_FILE_SYSTEMS, Archive, file_system_type, syncfs_usable
from store.errors import ArchiveCorrupt, ArchiveError, ArchiveMissing

RAW = b"From: ente@pec.it\r\nSubject: POSTA CERTIFICATA: Allegato 1\r\n\r\ncorpo\r\n"
DIGEST = hashlib.sha256(RAW).hexdigest()


def test_store_is_content_addressed_and_readable(archive: Archive) -> None:
    relative, digest = archive.store(RAW)
    assert digest == DIGEST
    assert relative == f"{DIGEST[:2]}/{DIGEST}.eml"
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
    relative = f"{DIGEST[:2]}/{DIGEST}.eml"
    folder = archive.root / DIGEST[:2]
    folder.mkdir(parents=True)
    (folder / f".{DIGEST[:16]}.1234.deadbeef.tmp").write_bytes(RAW[:10])  # crash mid-write
    assert not archive.exists(relative)
    with pytest.raises(ArchiveMissing):
        archive.read(relative)
    assert archive.store(RAW) == (relative, DIGEST)
    assert archive.read(relative) == RAW


needs_syncfs = pytest.mark.skipif(not syncfs_usable() and os.environ.get("CI") != "true",
                                  reason="syncfs(2) not reliable here (Linux < 5.17)")


@pytest.mark.parametrize("mode", ["fsync", pytest.param("syncfs", marks=needs_syncfs)])
def test_a_crash_before_the_file_is_durable_leaves_no_archived_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    archive = Archive(tmp_path / "archive", sync=mode)

    def power_cut(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", power_cut)
    monkeypatch.setattr(store.archive, "_syncfs", power_cut)
    with pytest.raises(ArchiveError):
        archive.store(RAW)
    monkeypatch.undo()
    relative = f"{DIGEST[:2]}/{DIGEST}.eml"
    assert not archive.exists(relative)
    assert archive.store(RAW) == (relative, DIGEST)
    assert archive.read(relative) == RAW


def test_a_staged_file_is_linked_only_after_its_early_fsync_finished(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fsync mode: stage() starts the file's fsync at once, in the background; settle() links
    the final name only once that fsync has returned, however long it takes."""
    import threading
    import time

    archive = Archive(tmp_path / "archive", sync="fsync")

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


@needs_syncfs
def test_syncfs_mode_links_between_two_write_backs_of_the_file_system(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """syncfs mode: nothing is fsynced one by one; settle() writes the file system back (the
    real syncfs(2)), then links every name, then writes it back again, before returning."""
    archive = Archive(tmp_path / "archive", sync="syncfs")
    assert archive.syncfs
    events: list[str] = []
    real_syncfs, real_link = store.archive._syncfs, os.link

    def syncfs(fd: int) -> None:
        assert os.path.samefile(f"/proc/self/fd/{fd}", archive.root)
        real_syncfs(fd)
        events.append("syncfs")

    def link(src: os.PathLike[str] | str, dst: os.PathLike[str] | str) -> None:
        events.append("link")
        real_link(src, dst)

    def no_fsync(fd: int) -> None:
        raise AssertionError("fsync called in syncfs mode")

    monkeypatch.setattr(store.archive, "_syncfs", syncfs)
    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(os, "fsync", no_fsync)
    staged = [archive.stage(RAW + bytes([i])) for i in range(5)]
    assert all(s.covered and s.syncing is None for s in staged)
    assert all(not archive.exists(s.relative) for s in staged)  # no final name before settle
    archive.settle(staged)
    assert events == ["syncfs", *["link"] * 5, "syncfs"]
    for s in staged:
        assert archive.read(s.relative)[:-1] == RAW
    # found already archived (by another writer that may not have settled it): written back too
    events.clear()
    again = archive.stage(RAW + bytes([0]))
    assert again.found and again.covered
    archive.settle([again])
    assert events == ["syncfs", "syncfs"]


@needs_syncfs
def test_syncfs_mode_settles_a_file_on_another_file_system_with_fsyncs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file not on the root's file system (a folder mounted inside the archive, simulated)
    is not covered by the root's syncfs: its group is settled the fsync way."""
    archive = Archive(tmp_path / "archive", sync="syncfs")
    archive.store(b"first")  # the root exists; its device is known
    archive._device = -1  # every file now looks foreign
    calls: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        calls.append("fsync")
        real_fsync(fd)

    def no_syncfs(fd: int) -> None:
        raise AssertionError("syncfs used for a file it does not cover")

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(store.archive, "_syncfs", no_syncfs)
    staged = archive.stage(RAW)
    assert not staged.covered and staged.syncing is not None
    archive.settle([staged])
    assert calls.count("fsync") >= 3  # the file, its folder, the root
    assert archive.read(staged.relative) == RAW


@needs_syncfs
def test_syncfs_mode_refuses_a_group_staged_before_a_failed_syncfs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write-back error is reported once: when another group's syncfs failed after this
    group's files were written, their content may be lost even though this group's own syncfs
    succeeds. The group is refused; staged again, it settles."""
    archive = Archive(tmp_path / "archive", sync="syncfs")
    opened: list[str] = []
    real_open, real_syncfs = os.open, store.archive._syncfs

    def spy_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        opened.append(str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", spy_open)
    early = archive.stage(RAW)
    monkeypatch.undo()
    # the root's descriptor was opened before the first file was written
    assert opened[0] == str(archive.root) and opened[1].endswith(".tmp")
    other = archive.stage(RAW + b"other")

    def fails_once(fd: int) -> None:
        monkeypatch.setattr(store.archive, "_syncfs", real_syncfs)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(store.archive, "_syncfs", fails_once)
    with pytest.raises(ArchiveError, match="Input/output error"):
        archive.settle([other])
    assert other.temporary is not None and not other.temporary.exists()  # written again later

    def not_again(fd: int) -> None:
        raise AssertionError("a refused group asks for a write-back")

    monkeypatch.setattr(store.archive, "_syncfs", not_again)
    with pytest.raises(ArchiveError, match="sincronizzazione precedente"):
        archive.settle([early])  # the failure came after it was written: refused at once
    assert not archive.exists(early.relative)
    assert early.temporary is not None and not early.temporary.exists()
    monkeypatch.setattr(store.archive, "_syncfs", real_syncfs)
    again = archive.stage(RAW)
    archive.settle([again])
    assert archive.read(again.relative) == RAW


@needs_syncfs
def test_syncfs_mode_settles_names_linked_before_a_failed_syncfs_the_fsync_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second syncfs (the names) fails after the names were linked: found again, such a
    name is not taken as durable on the strength of a later syncfs; its folders are fsynced."""
    archive = Archive(tmp_path / "archive", sync="syncfs")
    staged = archive.stage(RAW)
    calls = {"syncfs": 0}
    real_syncfs, real_fsync = store.archive._syncfs, os.fsync

    def second_fails(fd: int) -> None:
        calls["syncfs"] += 1
        if calls["syncfs"] == 2:
            raise OSError(5, "Input/output error")
        real_syncfs(fd)

    monkeypatch.setattr(store.archive, "_syncfs", second_fails)
    with pytest.raises(ArchiveError):
        archive.settle([staged])
    assert archive.exists(staged.relative)  # linked, its name not known to be durable
    fsynced: list[int] = []

    def fsync(fd: int) -> None:
        fsynced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    again = archive.stage(RAW)
    assert again.found and not again.covered
    archive.settle([again])
    assert len(fsynced) >= 2  # its folder, the root


def test_archive_sync_mode_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one of auto, syncfs, fsync"):
        Archive(tmp_path, sync="sometimes")
    assert not Archive(tmp_path, sync="fsync").syncfs
    kind = file_system_type(tmp_path)
    assert kind is not None and kind in Path("/proc/filesystems").read_text()
    assert Archive(tmp_path).syncfs is (syncfs_usable() and kind in SYNCFS_FILE_SYSTEMS)


def test_paths_outside_the_archive_are_refused(archive: Archive) -> None:
    for bad in ("../etc/passwd", f"{DIGEST[:2]}/{DIGEST[2:4]}/../../x.eml",
                f"00/00/{DIGEST}.eml", f"/{DIGEST[:2]}/{DIGEST[2:4]}/{DIGEST}.eml",
                f"00/{DIGEST}.eml", f"{DIGEST[:2]}/00/{DIGEST}.eml", f"/{DIGEST[:2]}/{DIGEST}.eml",
                f"{DIGEST[:2]}/{DIGEST[2:4]}/{DIGEST[4:6]}/{DIGEST}.eml", f"{DIGEST[:2]}/{DIGEST}",
                f"{DIGEST[:2]}/{DIGEST}.eml\n"):
        with pytest.raises(ArchiveError):
            archive.path(bad)


@pytest.mark.parametrize("mode", ["fsync", pytest.param("syncfs", marks=needs_syncfs)])
def test_a_message_archived_under_the_earlier_layout_is_found_there(
        tmp_path: Path, mode: str) -> None:
    """An archive written with two folder levels (``ab/cd/<sha>.eml``) keeps them: the same
    bytes archived again are found there, not written a second time, and that path reads."""
    archive = Archive(tmp_path / "archive", sync=mode)
    legacy = f"{DIGEST[:2]}/{DIGEST[2:4]}/{DIGEST}.eml"
    (archive.root / DIGEST[:2] / DIGEST[2:4]).mkdir(parents=True)
    (archive.root / legacy).write_bytes(RAW)
    assert archive.store(RAW) == (legacy, DIGEST)
    assert archive.read(legacy) == RAW and archive.exists(legacy)
    assert not (archive.root / DIGEST[:2] / f"{DIGEST}.eml").exists()
    assert sorted(p.name for p in (archive.root / DIGEST[:2]).iterdir()) == [DIGEST[2:4]]
    (archive.root / legacy).write_bytes(b"tampered")  # evidence, even there
    with pytest.raises(ArchiveCorrupt):
        archive.store(RAW)
    other = RAW + b"nuovo\r\n"
    relative, digest = archive.store(other)
    assert relative == f"{digest[:2]}/{digest}.eml" and archive.read(relative) == other


def test_empty_message_and_many_messages(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "deep" / "archive")
    stored = {archive.store(bytes([i]) * i)[0] for i in range(50)}
    assert len(stored) == 50
    assert archive.read(archive.store(b"")[0]) == b""
