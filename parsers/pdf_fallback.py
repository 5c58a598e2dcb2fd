"""The second PDF engine: plain text from pdfium (pypdfium2) when pdfminer cannot read.

pdfminer/pdfplumber give the layout the form reader needs (tables, drawn checkboxes, widget
positions); pdfium is stricter about nothing and reads many files pdfminer gives up on (broken
xref tables it cannot repair, unknown encryption filters, odd font programs). When pdfminer
cannot open a file, or one of its pages, the text of those pages comes from here instead:
lines in reading order, no tables or drawn boxes. The caller says so in a warning.

:func:`raised_by_library` tells a library's failure on bad input from a bug of ours: an
exception whose innermost frame lies in the library's own code is the library refusing the
input (pdfminer leaks ``KeyError`` or ``IndexError`` on malformed objects); anything raised in
this package is our bug and must not be reported as a damaged file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pypdfium2
import pypdfium2.raw as pdfium_c

from parsers.errors import UnreadableInput

ENGINE = "pdfium (pypdfium2)"
_OWN_PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class FallbackText:
    """The text of some pages of a document, and how many pages the document has."""

    pages: dict[int, list[str]]  # page index -> lines
    total_pages: int


def read_text(data: bytes, page_indexes: Sequence[int] | None, max_pages: int) -> FallbackText:
    """Text lines of the given pages (all pages up to ``max_pages`` when ``None``).

    Raises :class:`UnreadableInput` when pdfium cannot open the file either."""
    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise UnreadableInput(_open_reason(exc.err_code)) from exc
    try:
        total = len(pdf)
        wanted = range(min(total, max_pages)) if page_indexes is None else page_indexes
        pages = {i: _page_lines(pdf, i) for i in wanted if i < total}
        return FallbackText(pages, total)
    finally:
        pdf.close()


def _page_lines(pdf: pypdfium2.PdfDocument, index: int) -> list[str]:
    try:
        page = pdf[index]
    except pypdfium2.PdfiumError:
        return []  # a page pdfium cannot load either: nothing to read on it
    try:
        textpage = page.get_textpage()
        try:
            text = textpage.get_text_range()
        finally:
            textpage.close()
    except pypdfium2.PdfiumError:
        return []
    finally:
        page.close()
    lines = (" ".join(line.split()) for line in text.splitlines())
    return [line for line in lines if line]


def _open_reason(code: int | None) -> str:
    if code == pdfium_c.FPDF_ERR_PASSWORD:
        return "PDF protetto da password"
    if code == pdfium_c.FPDF_ERR_SECURITY:
        return "PDF cifrato con una protezione non supportata"
    return "PDF danneggiato o troncato: nessuno dei due motori di lettura (pdfminer, pdfium) " \
           "riesce ad aprirlo"
