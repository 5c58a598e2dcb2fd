"""The raw-message archive: content-addressed, written once, never rewritten.

A message's bytes live at ``ab/cd/<sha256>.eml`` under the archive root (``ab``, ``cd``: the
first hex digits of the hash). Writing is crash-safe: the bytes go to a temporary file in the
destination folder (a name starting with ``.``, ending in ``.tmp``), which is fsynced, then
hard-linked to its final name (which, unlike rename, never replaces an existing file), and the
folder is fsynced. A crash leaves at most a temporary file, which is not an archived message and
is ignored; the final name exists only with complete, durable content. Files are created 0640
and folders 0750, further narrowed by the process umask.

The archive is evidence: a file that exists with other content than its name says is reported
(:class:`~store.errors.ArchiveCorrupt`), never overwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from pathlib import Path

from store.errors import ArchiveCorrupt, ArchiveError, ArchiveMissing

FILE_MODE = 0o640
DIR_MODE = 0o750
_RELATIVE = re.compile(r"^([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})\.eml$")


class Archive:
    """Raw messages under ``root``, addressed by their sha256."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def store(self, raw: bytes) -> tuple[str, str]:
        """Archive ``raw`` durably; returns ``(relative_path, sha256)``. Idempotent."""
        digest = hashlib.sha256(raw).hexdigest()
        relative = f"{digest[:2]}/{digest[2:4]}/{digest}.eml"
        target = self.root / relative
        try:
            if target.exists():
                self._check_existing(target, digest, relative)
                return relative, digest
            self._make_dirs(target.parent)
            self._write_new(target, raw, digest, relative)
        except OSError as exc:
            raise ArchiveError(f"archivio: impossibile scrivere {relative}: {exc}") from exc
        return relative, digest

    def read(self, relative_path: str) -> bytes:
        """The archived bytes, checked against the sha256 in their name."""
        path = self.path(relative_path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ArchiveMissing(f"archivio: {relative_path} non trovato") from None
        except OSError as exc:
            raise ArchiveError(f"archivio: impossibile leggere {relative_path}: {exc}") from exc
        if hashlib.sha256(data).hexdigest() != path.stem:
            raise ArchiveCorrupt(f"archivio: {relative_path} non corrisponde al suo sha256")
        return data

    def exists(self, relative_path: str) -> bool:
        """Whether a message is archived at ``relative_path`` (temporary files do not count)."""
        return self.path(relative_path).is_file()

    def path(self, relative_path: str) -> Path:
        """The absolute path of an archived message; refuses anything but ``ab/cd/<sha>.eml``."""
        match = _RELATIVE.match(relative_path)
        if match is None or not match.group(3).startswith(match.group(1) + match.group(2)):
            raise ArchiveError(f"archivio: percorso non valido {relative_path!r}")
        return self.root / relative_path

    def _check_existing(self, target: Path, digest: str, relative: str) -> None:
        if hashlib.sha256(target.read_bytes()).hexdigest() != digest:
            raise ArchiveCorrupt(
                f"archivio: {relative} esiste con un contenuto diverso; non viene sovrascritto")

    def _make_dirs(self, folder: Path) -> None:
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):
                path.mkdir(mode=DIR_MODE)
            if path.parent.exists():
                _fsync_dir(path.parent)

    def _write_new(self, target: Path, raw: bytes, digest: str, relative: str) -> None:
        temporary = target.parent / f".{digest[:16]}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temporary, target)
            except FileExistsError:  # another process archived the same bytes meanwhile
                self._check_existing(target, digest, relative)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
        _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
