"""What a document reader hands to the field extractor: text in reading order, nothing else.

The readers (:mod:`parsers.docx_form`, :mod:`parsers.pdf_form`) turn very different files into
one simple shape, so that the field extractor (:mod:`parsers.allegato`) reads every layout the
same way:

* ``lines``: the document's text in reading order, one entry per paragraph or visual line.
  A table row, or any place where a label stands apart from its value (AcroForm field next to
  its printed label, content control after its label, a tab stop), is ONE line whose cells are
  joined by a single TAB character (``"Codice fiscale\\t96311650558"``). Empty cells stay as empty
  strings between tabs, so ``"Partita IVA\\t"`` means "label present, value empty".
* Checkboxes, whatever they were in the file (content control, legacy form field, Wingdings
  symbol, drawn square, AcroForm check box), are written into the text as exactly one of the
  two canonical glyphs: ``CHECKED`` (☒) or ``UNCHECKED`` (☐), at the place where the box stands,
  followed by a space and the box's label when it has one.
* Whitespace inside a cell is collapsed to single spaces; no line contains a newline.

Readers never interpret labels; the extractor never opens files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CHECKED = "\u2612"  # ☒
UNCHECKED = "\u2610"  # ☐
CELL_SEPARATOR = "\t"


@dataclass(frozen=True)
class FormContent:
    """The readable content of one document.

    ``text_chars`` counts the characters of the text layer (0 for an image-only scan);
    ``image_pages`` counts pages mostly covered by an image. ``is_scan`` is the reader's
    verdict that the text cannot be trusted (no or almost no text layer); ``has_ocr_layer``
    marks a PDF whose text sits over a full-page image (OCR'd scan: readable but error-prone).
    ``unread_pages`` counts pages past the reader's page limit that were not read (at least 1
    when the total is unknown); ``fallback_pages`` counts pages read as plain text by the second
    PDF engine (no tables, no checkboxes). Either one means a person must look.
    """

    format: str  # "docx" | "pdf"
    lines: tuple[str, ...]
    pages: int = 1
    text_chars: int = 0
    image_pages: int = 0
    is_scan: bool = False
    has_ocr_layer: bool = False
    warnings: tuple[str, ...] = field(default_factory=tuple)
    unread_pages: int = 0
    fallback_pages: int = 0
