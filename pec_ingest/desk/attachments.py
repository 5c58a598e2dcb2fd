"""Write a message's attachments from the archive to a folder, so staff can open the
original PDF or DOCX. A signed ``.p7m`` is written as received and, beside it, the document
inside it (the name without ``.p7m``).

File names come from the sender: only the last path component is kept, control characters
and leading dots are removed, and an existing file is never overwritten (a number is added).
Files are created readable by the owner and group only: they hold personal data.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from parsers import cades
from parsers.envelope import parse_envelope
from parsers.errors import ParseError
from parsers.limits import Limits

FILE_MODE = 0o640
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def safe_name(name: str | None, fallback: str) -> str:
    """A harmless file name for ``name`` as the sender wrote it."""
    base = re.split(r"[/\\]", name or "")[-1]
    cleaned = _UNSAFE.sub("_", base).strip().lstrip(".").strip()
    return cleaned[:200] or fallback


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
            handle.write(data)
        return candidate


def save_attachments(raw: bytes, folder: Path, limits: Limits) -> list[Path]:
    """Write every attachment of the archived message ``raw`` to ``folder``; the paths."""
    envelope = parse_envelope(raw, limits)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for index, att in enumerate(envelope.attachments, start=1):
        name = safe_name(att.filename, f"allegato-{index}")
        written.append(_write_new(folder, name, att.data))
        if not cades.is_signed_container(att.data):
            continue
        try:
            inner = cades.unwrap(att.data, limits)
        except ParseError:
            continue
        inner_name = re.sub(r"\.(p7m|m7m|tsd)$", "", name, flags=re.IGNORECASE)
        if inner_name == name:
            inner_name = f"{name}.{inner.format}"
        written.append(_write_new(folder, inner_name, inner.content))
    return written
