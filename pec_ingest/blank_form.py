"""The office's blank forms (``[procedure] template``): read once, when the configuration is.

A blank is read by the same readers as a submission (DOCX, PDF, AcroForm) and its lines are
kept in the vocabulary, so the parser processes compare every submission with it
(:mod:`parsers.template`).
"""

from __future__ import annotations

from pathlib import Path

from parsers.docx_form import read_docx
from parsers.errors import ParseError
from parsers.pdf_form import read_pdf
from parsers.sniff import detect_format


class BlankFormError(Exception):
    """A blank form that cannot be read: the message says why, in Italian."""


def read_blank(path: Path) -> tuple[str, ...]:
    """The lines of the blank form at ``path`` (DOCX or PDF)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BlankFormError(f"{path}: impossibile leggere il modello ({exc.strerror})") from exc
    fmt = detect_format(data)
    try:
        if fmt == "docx":
            return tuple(read_docx(data).lines)
        if fmt == "pdf":
            return tuple(read_pdf(data).lines)
    except ParseError as exc:
        raise BlankFormError(f"{path}: modello non leggibile ({exc})") from exc
    raise BlankFormError(f"{path}: il modello deve essere un DOCX o un PDF (trovato: {fmt})")
