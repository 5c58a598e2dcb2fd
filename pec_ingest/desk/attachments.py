"""Write a message's attachments from the archive to a folder, so staff can open the
original PDF or DOCX. A signed ``.p7m`` is written as received and, beside it, the document
inside it (the name without ``.p7m``).

File names come from the sender: only the last path component is kept; control characters,
bidirectional overrides (``fattura\u202efdp.exe``), characters Windows refuses and leading
dots are removed; Windows reserved names (``CON``, ``LPT1``...) get a ``_``; names are cut to
fit the file-system limit (in bytes, keeping the extension); an existing file is never
overwritten (a number is added). One attachment that cannot be written does not stop the
others: it is reported. Files are created readable by the owner and group only (0640,
whatever the umask): they hold personal data.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from parsers import cades
from parsers.envelope import parse_envelope
from parsers.errors import ParseError
from parsers.limits import Limits
from pec_ingest.desk.errors import DeskError
from store.archive import Archive
from store.audit import purged_message_ids
from store.errors import ArchiveMissing
from store.model import Message

FILE_MODE = 0o640
NAME_BYTES = 200  # under the usual 255-byte limit, with room for "-NN"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f/\\:*?\"<>|]+")
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)


@dataclass
class Saved:
    """What ``save_attachments`` wrote, and what it could not write (name, reason)."""

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def safe_name(name: str | None, fallback: str) -> str:
    """A harmless file name for ``name`` as the sender wrote it."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = "".join(c for c in base if unicodedata.category(c) != "Cf")  # bidi, zero-width
    cleaned = _UNSAFE.sub("_", base).strip().lstrip(".").strip().rstrip(". ")
    if _RESERVED.match(cleaned):
        cleaned = "_" + cleaned
    return _fit(cleaned) or fallback


def _fit(name: str, limit: int = NAME_BYTES) -> str:
    """``name`` cut to ``limit`` UTF-8 bytes, keeping a short extension."""
    if len(name.encode("utf-8")) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext.encode("utf-8")) > 16:
        stem, ext = name, ""
    room = limit - len(ext.encode("utf-8")) - (1 if ext else 0)
    cut = stem.encode("utf-8")[:room].decode("utf-8", errors="ignore").rstrip(". ")
    return f"{cut}.{ext}" if ext else cut


def _write_new(folder: Path, name: str, data: bytes) -> Path:
    stem, dot, suffix = name.partition(".")
    candidate, n = folder / name, 1
    while True:
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            n += 1
            candidate = folder / f"{stem}-{n}{dot}{suffix}"
            continue
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(data)
        return candidate


def read_original(session: Session, archive: Archive, message: Message) -> bytes:
    """The archived bytes of ``message``; a missing file is told apart from a purged one."""
    if message.id in purged_message_ids(session):
        raise DeskError(f"il messaggio originale M{message.id} è stato cancellato per la "
                        "conservazione dei dati (purge): restano solo i dati registrati")
    try:
        return archive.read(message.archive_path)
    except ArchiveMissing:
        raise DeskError(
            f"il messaggio originale M{message.id} non è nell'archivio {archive.root}: "
            "l'archivio è nella cartella di stato di chi lo ha registrato; usare la stessa "
            "configurazione (--config con [state] dir), non solo PEC_INGEST_DATABASE_URL"
        ) from None


def save_attachments(raw: bytes, folder: Path, limits: Limits) -> list[Path]:
    """Write every attachment of the archived message ``raw`` to ``folder``; the paths
    written (what could not be written is left out: :func:`save_all` reports it)."""
    return save_all(raw, folder, limits).written


def save_all(raw: bytes, folder: Path, limits: Limits) -> Saved:
    """Write every attachment of the archived message ``raw`` to ``folder``."""
    try:
        envelope = parse_envelope(raw, limits)
    except ParseError as exc:
        raise DeskError(f"il messaggio originale non si può aprire: {exc}") from exc
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeskError(f"impossibile creare la cartella {folder}: {exc.strerror}") from exc
    saved = Saved()
    for index, att in enumerate(envelope.attachments, start=1):
        name = safe_name(att.filename, f"allegato-{index}")
        _save_one(saved, folder, name, att.data)
        if not cades.is_signed_container(att.data):
            continue
        try:
            inner = cades.unwrap(att.data, limits)
        except ParseError:
            continue
        inner_name = re.sub(r"\.(p7m|m7m|tsd)$", "", name, flags=re.IGNORECASE)
        if inner_name == name:
            inner_name = f"{name}.{inner.format}"
        _save_one(saved, folder, inner_name, inner.content)
    return saved


def _save_one(saved: Saved, folder: Path, name: str, data: bytes) -> None:
    try:
        saved.written.append(_write_new(folder, name, data))
    except OSError as exc:
        saved.failed.append((name, exc.strerror or str(exc)))
