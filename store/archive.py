"""The raw-message archive: content-addressed, written once, never rewritten.

A message's bytes live at ``ab/<sha256>.eml`` under the archive root (``ab``: the first two hex
digits of the hash: 256 folders, as git keeps its loose objects; a year of a municipality's PEC,
a few thousand messages, is a few dozen files per folder). Archives written before this layout
keep theirs, ``ab/cd/<sha256>.eml``: such a file is found, read and reused as it is (the
database holds each message's path), and new files go to the one-level layout. The second
level gave each message a folder of its own until an archive held hundreds of thousands: an
inode, a directory block and one more creation per message (on this project's machines a
folder's creation cost as much kernel time as the file's own).

Writing is crash-safe: the bytes go to a temporary file in the
destination folder (a name starting with ``.``, ending in ``.tmp``), which is fsynced, then
hard-linked to its final name (which, unlike rename, never replaces an existing file), and the
folder is fsynced. A crash leaves at most a temporary file, which is not an archived message and
is ignored; the final name exists only with complete, durable content. Files are created 0640
and folders 0750, further narrowed by the process umask.

A poll archives in groups (:meth:`Archive.stage` per message, then :meth:`Archive.settle` once
per batch, before the transaction that names the files commits). The guarantee is the same
(the final name only with durable content, a name durable before the transaction that names it
commits).

How a group is made durable (``sync``):

* ``syncfs``: the temporary files are written and nothing else; settling a group asks the
  file system to write back everything it holds (``syncfs(2)`` on the archive's root), links
  every file to its final name, and asks again. Two calls per batch instead of one fsync per
  file and per folder touched (about 300 for 100 messages, their folders spread by the hash):
  on this project's machines 20 ms per 100 messages instead of 75. The order is the same
  (content durable, then the name). ``syncfs`` writes back the whole file system, other
  programs' pending writes included, so it costs more where the archive shares its file system
  with a busy writer.

  Errors: ``syncfs`` reports a write-back error to a file descriptor opened before it
  happened (Linux 5.8 and later), once per descriptor; before Linux 5.17 it did not report the
  file system's own failure to commit. So the archive keeps one descriptor of its root, opened
  before its first file is written, and every ``syncfs`` goes through it; once a ``syncfs`` has
  failed, every group staged before that failure is refused without asking again (its files
  may have been in the failed write-back, and the error is reported once): its temporary files
  are removed and the message's next attempt writes them again; a name it had linked already
  is settled the ``fsync`` way when found again. ``auto`` picks ``syncfs`` only on Linux 5.17
  or later with the archive on ext4, XFS or btrfs (network and stacked file systems report
  less); an explicit ``syncfs`` needs Linux 5.17. A file found on another file system than the
  root (a folder mounted inside the archive) makes its group settle the ``fsync`` way.
* ``fsync``: each temporary file's fsync starts as soon as it is written, in the process's
  fsync threads, while the message is read and parsed; settling a group waits for those
  fsyncs, hard-links every file to its final name and fsyncs each folder touched once, side by
  side (the file system then commits its journal once for many).

The archive is evidence: a file that exists with other content than its name says is reported
(:class:`~store.errors.ArchiveCorrupt`), never overwritten.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import os
import re
import secrets
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from store.errors import ArchiveCorrupt, ArchiveError, ArchiveMissing

FILE_MODE = 0o640
DIR_MODE = 0o750
SYNC_THREADS = 8  # concurrent fsyncs at a batch's durability point
SYNC_MODES = ("auto", "syncfs", "fsync")  # see the module docstring
_RELATIVE = re.compile(r"^([0-9a-f]{2})/(?:([0-9a-f]{2})/)?([0-9a-f]{64})\.eml$")  # legacy: ab/cd/


@dataclass(frozen=True)
class Staged:
    """A message written but not yet settled: ``temporary`` (None when the bytes were already
    archived) becomes ``relative`` at :meth:`Archive.settle`; ``found``: already archived by
    someone else, whose folders :meth:`Archive.settle` makes durable all the same;
    ``syncing``: the fsync of ``temporary``, started when it was written (settle waits for it);
    ``covered``: on the file system of the archive's root, whose ``syncfs`` makes it durable
    (``sync`` mode ``syncfs`` only); ``failures``: how many ``syncfs`` calls had failed when it
    was staged (a later failure refuses it)."""

    relative: str
    sha256: str
    temporary: Path | None = None
    found: bool = False
    syncing: Future[None] | None = field(default=None, compare=False, repr=False)
    covered: bool = False
    failures: int = 0


_syncers: tuple[int, ThreadPoolExecutor] | None = None  # (pid, pool) kept between batches
_syncers_lock = threading.Lock()


def _sync_pool() -> ThreadPoolExecutor:
    """The process's fsync threads (made once: a batch does not pay for starting threads)."""
    global _syncers
    with _syncers_lock:
        if _syncers is None or _syncers[0] != os.getpid():  # none yet, or a forked child
            _syncers = (os.getpid(), ThreadPoolExecutor(SYNC_THREADS, "archive-fsync"))
        return _syncers[1]


def _side_by_side(sync: Callable[[Path], None], paths: Iterable[Path],
                  started: Iterable[Future[None]] = ()) -> None:
    """``sync`` every path, side by side in the process's fsync threads, or here when there
    is only one; ``started``: syncs already under way, waited for as well."""
    paths = list(paths)
    futures = list(started)
    if len(paths) <= 1 and not futures:
        for path in paths:
            sync(path)
        return
    pool = _sync_pool()
    futures += [pool.submit(sync, path) for path in paths]
    wait(futures)  # all of them finished before a failure is reported (the message is then
    # staged again by its next attempt: a file whose fsync failed is not fsynced again)
    for future in futures:
        future.result()


SYNCFS_KERNEL = (5, 17)  # syncfs reports write-back errors (5.8) and the journal's (5.17)
SYNCFS_FILE_SYSTEMS = ("ext4", "xfs", "btrfs")  # local: what ``auto`` trusts syncfs on


def syncfs_usable() -> bool:
    """Whether ``syncfs(2)`` reports every failure here: Linux 5.17 or later, with a C library
    that offers it (see the module docstring)."""
    if not sys.platform.startswith("linux"):
        return False
    version = re.match(r"(\d+)\.(\d+)", os.uname().release)
    if version is None or (int(version.group(1)), int(version.group(2))) < SYNCFS_KERNEL:
        return False
    return hasattr(_libc(), "syncfs")


def file_system_type(path: Path) -> str | None:
    """The type of the file system holding ``path`` (its nearest existing folder): the mount
    of a descriptor of it (``mnt_id`` in ``/proc/self/fdinfo``) looked up in
    ``/proc/self/mountinfo`` (by mount, not by device: a btrfs subvolume's files carry a device
    number of their own); None when it cannot be told."""
    for candidate in (path, *path.parents):
        try:
            fd = os.open(candidate, os.O_RDONLY | os.O_DIRECTORY)
            break
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            return None
    else:
        return None
    try:
        info = Path(f"/proc/self/fdinfo/{fd}").read_text(encoding="ascii", errors="replace")
        lines = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    finally:
        os.close(fd)
    mount = re.search(r"^mnt_id:\s*(\d+)$", info, re.MULTILINE)
    if mount is None:
        return None
    for line in lines.splitlines():
        fields, _sep, rest = line.partition(" - ")
        if rest and fields.split(" ", 1)[0] == mount.group(1):
            return rest.split(" ", 1)[0]
    return None


def syncfs_chosen(sync: str, root: Path) -> bool:
    """Whether an archive at ``root`` with mode ``sync`` settles with ``syncfs``."""
    if sync == "syncfs":
        return True
    return (sync == "auto" and syncfs_usable()
            and file_system_type(root) in SYNCFS_FILE_SYSTEMS)


class Archive:
    """Raw messages under ``root``, addressed by their sha256; ``sync``: how a group is made
    durable (:data:`SYNC_MODES`, see the module docstring; ``auto``: ``syncfs`` where
    :func:`syncfs_usable` and the root is on one of :data:`SYNCFS_FILE_SYSTEMS`, else
    ``fsync``: :func:`syncfs_chosen`)."""

    def __init__(self, root: Path, sync: str = "auto") -> None:
        if sync not in SYNC_MODES:
            raise ValueError(f"archive sync mode {sync!r}: one of {', '.join(SYNC_MODES)}")
        if sync == "syncfs" and not syncfs_usable():
            raise ValueError("archive sync mode 'syncfs': syncfs(2) does not report every "
                             "failure here (Linux 5.17 or later needed)")
        self.root = Path(root)
        self._sync = sync
        self._device: int | None = None  # the root's file system (syncfs mode)
        self._root_fd: int | None = None  # syncfs mode: opened before the first file is written
        self._sync_lock = threading.Lock()
        self._failures = 0  # syncfs calls that failed (see Staged.failures)
        self._suspect: set[str] = set()  # linked by a group whose second syncfs failed
        self._folders: set[Path] = set()  # folders known to exist (created or seen)

    @functools.cached_property
    def syncfs(self) -> bool:
        """Whether groups settle with ``syncfs`` (decided when first asked: an archive that
        is only read never looks)."""
        return syncfs_chosen(self._sync, self.root)

    def store(self, raw: bytes) -> tuple[str, str]:
        """Archive ``raw`` durably; returns ``(relative_path, sha256)``. Idempotent."""
        staged = self.stage(raw)
        self.settle([staged])
        return staged.relative, staged.sha256

    def stage(self, raw: bytes) -> Staged:
        """Write ``raw`` to a temporary file (not yet durable, not yet under its final name):
        :meth:`settle` must follow before anything names the file."""
        digest = hashlib.sha256(raw).hexdigest()
        relative = f"{digest[:2]}/{digest}.eml"
        target = self.root / relative
        try:
            existing = _stat(target)
            if existing is None:  # archived under the earlier two-level layout?
                legacy = f"{digest[:2]}/{digest[2:4]}/{digest}.eml"
                existing = _stat(self.root / legacy)
                if existing is not None:
                    relative, target = legacy, self.root / legacy
            if existing is not None:
                self._check_existing(target, digest, relative)
                self._open_root()
                covered = self._covers(existing) and relative not in self._suspect
                return Staged(relative, digest, found=True, covered=covered,
                              failures=self._failures)
            self._make_dirs(target.parent)
            self._open_root()  # before the write: its errors reach this descriptor
            failures = self._failures  # likewise: a failure after the write refuses it
            temporary = target.parent / f".{digest[:16]}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
            try:
                fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            except FileNotFoundError:  # a folder removed from outside: look at them again
                self._folders.clear()
                self._make_dirs(target.parent)
                fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
                covered = self._covers(os.fstat(handle.fileno()))
        except OSError as exc:
            raise ArchiveError(f"archivio: impossibile scrivere {relative}: {exc}") from exc
        if covered:  # made durable by settle()'s syncfs of the root's file system
            return Staged(relative, digest, temporary, covered=True, failures=failures)
        # its fsync starts now, in the fsync threads, while the message is read and parsed:
        # settle() waits for it before the final name is linked
        try:
            syncing = _sync_pool().submit(_fsync_written, temporary)
        except RuntimeError:  # the interpreter is shutting down: settle() fsyncs it itself
            syncing = None
        return Staged(relative, digest, temporary, syncing=syncing)

    def settle(self, staged: Iterable[Staged]) -> None:
        """Make the staged messages durable under their final names: every temporary file
        fsynced, then linked, then every folder (leaf, its parent, the root: a folder another
        thread created and has not settled yet is made durable too) fsynced. The fsyncs of a
        step run side by side (:data:`SYNC_THREADS`), so the file system commits its journal
        once for many of them instead of once each. A message found already archived has its
        folders fsynced too (another writer may have linked it without having settled them yet).
        Idempotent."""
        every = [s for s in staged if s.temporary is not None or s.found]
        items = [(s, s.temporary) for s in every if s.temporary is not None]
        if not every:
            return
        if all(item.covered for item in every):
            linked: list[Staged] = []
            try:
                self._sync_filesystem(every)  # every temporary file's content durable
                for item, temporary in items:
                    self._link(item, temporary)
                    linked.append(item)
                self._sync_filesystem(every)  # their names, and the folders made for them
            except OSError as exc:
                self._refused(items, linked)
                raise ArchiveError(f"archivio: impossibile rendere durevoli {len(every)} "
                                   f"messaggi: {exc}") from exc
            return
        folders: set[Path] = set()
        for item in every:
            leaf = (self.root / item.relative).parent
            folders.update((leaf, leaf.parent, self.root))
        try:
            _side_by_side(_fsync_written,
                          [temporary for item, temporary in items if item.syncing is None],
                          [item.syncing for item, _t in items if item.syncing is not None])
            for item, temporary in items:
                self._link(item, temporary)
            _side_by_side(_fsync_dir, folders)
        except OSError as exc:
            raise ArchiveError(f"archivio: impossibile rendere durevoli {len(every)} "
                               f"messaggi: {exc}") from exc

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
        """The absolute path of an archived message; refuses anything but ``ab/<sha>.eml`` (or
        the earlier layout's ``ab/cd/<sha>.eml``) whose folders are the hash's first digits."""
        match = _RELATIVE.fullmatch(relative_path)  # (match's $ lets a final newline in)
        if match is None or not match.group(3).startswith(match.group(1) + (match.group(2) or "")):
            raise ArchiveError(f"archivio: percorso non valido {relative_path!r}")
        return self.root / relative_path

    def _open_root(self) -> None:
        """syncfs mode: the root's descriptor, opened once, before the first file is written
        (a write-back error is reported to descriptors opened before it)."""
        if self._root_fd is not None or not self.syncfs:
            return
        with self._sync_lock:
            if self._root_fd is None:
                fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
                weakref.finalize(self, os.close, fd)
                self._device = os.fstat(fd).st_dev
                self._root_fd = fd

    def _covers(self, status: os.stat_result) -> bool:
        """Whether a file with ``status`` is made durable by a syncfs of the root's file
        system (syncfs mode, same file system as the root)."""
        return self.syncfs and self._root_fd is not None and status.st_dev == self._device

    def _sync_filesystem(self, group: Sequence[Staged]) -> None:
        """``syncfs`` through the root's descriptor (open since before the group's files were
        written); refuses the group when a ``syncfs`` has failed since any of them was staged
        (before asking again: a refused group costs no write-back of the file system)."""
        with self._sync_lock:
            assert self._root_fd is not None  # opened before a file was covered
            if all(item.failures == self._failures for item in group):
                try:
                    _syncfs(self._root_fd)
                except OSError:
                    self._failures += 1
                    raise
            if any(item.failures != self._failures for item in group):
                raise OSError(errno.EIO, "errore di scrittura su disco segnalato da una "
                                         "sincronizzazione precedente")

    def _refused(self, items: Sequence[tuple[Staged, Path]], linked: Sequence[Staged]) -> None:
        """A group whose syncfs failed: its temporary files removed (the message's next
        attempt writes its bytes again), and the names it linked remembered as not known to be
        durable (found again, they are settled the fsync way)."""
        with self._sync_lock:
            self._suspect.update(item.relative for item in linked)
        for _item, temporary in items:
            with contextlib.suppress(OSError):
                temporary.unlink()

    def _check_existing(self, target: Path, digest: str, relative: str) -> None:
        if hashlib.sha256(target.read_bytes()).hexdigest() != digest:
            raise ArchiveCorrupt(
                f"archivio: {relative} esiste con un contenuto diverso; non viene sovrascritto")

    def _make_dirs(self, folder: Path) -> None:
        """Create the missing folders from the root down to ``folder`` (made durable at
        :meth:`settle`); a folder once created or seen is not looked at again (folders are
        never removed while the service runs)."""
        if folder in self._folders:
            return
        chain = [folder, folder.parent, self.root]
        for path in reversed(chain):
            if path in self._folders:
                continue
            with contextlib.suppress(FileExistsError):  # one call, whether it exists or not
                path.mkdir(mode=DIR_MODE, parents=path == self.root)
            self._folders.add(path)

    def _link(self, item: Staged, temporary: Path) -> None:
        """The durable temporary file under its final name (never replacing one)."""
        target = self.root / item.relative
        try:
            os.link(temporary, target)
        except FileExistsError:  # another process archived the same bytes meanwhile
            self._check_existing(target, item.sha256, item.relative)
        except FileNotFoundError:  # settled already (the temporary file is gone)
            if not target.is_file():
                raise
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _fsync_written(temporary: Path) -> None:
    with contextlib.suppress(FileNotFoundError):  # settled already
        _fsync_path(temporary, os.O_RDONLY)


def _fsync_dir(folder: Path) -> None:
    _fsync_path(folder, os.O_RDONLY | os.O_DIRECTORY)


def _fsync_path(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_libc_handle: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL:
    global _libc_handle
    if _libc_handle is None:
        _libc_handle = ctypes.CDLL(None, use_errno=True)
    return _libc_handle


def _syncfs(fd: int) -> None:
    """``syncfs(2)``: write back the file system holding ``fd`` and wait (the interpreter lock
    is released meanwhile); a write-back error raises ``OSError``."""
    if _libc().syncfs(fd) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
