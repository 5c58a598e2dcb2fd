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
from pec_ingest.errors import ConfigError


def read_blank(path: Path) -> tuple[str, ...]:
    """The lines of the blank form at ``path`` (DOCX or PDF); :class:`ConfigError` (one
    problem) when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: impossibile leggere il modello ({exc.strerror})") from exc
    fmt = detect_format(data)
    try:
        if fmt == "docx":
            return tuple(read_docx(data).lines)
        if fmt == "pdf":
            return tuple(read_pdf(data).lines)
    except ParseError as exc:
        raise ConfigError(f"{path}: modello non leggibile ({exc})") from exc
    raise ConfigError(f"{path}: il modello deve essere un DOCX o un PDF (trovato: {fmt})")
