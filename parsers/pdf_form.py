"""Read a PDF Allegato 1 into :class:`~parsers.content.FormContent` (pure: bytes in, value out).

What is read, page by page (at most ``Limits.max_pages``):

* the text layer, as lines in reading order: ruled label|value tables become one line per row
  with cells joined by TAB, wide gaps (tab stops, columns) separate cells, wrapped paragraph
  lines are joined back into paragraphs (:mod:`parsers.pdf_layout`);
* checkboxes, as ☒/☐ at the box's place: symbol characters and drawn squares
  (:mod:`parsers.pdf_checkbox`), AcroForm check boxes and radio buttons;
* AcroForm text fields, as "label<TAB>value" where the printed label sits, the label being the
  printed text left of (or just above) the widget, else the field's meaningful name
  (:mod:`parsers.pdf_acroform`);
* scans: a document with (almost) no characters is ``is_scan`` with no lines; characters over
  full-page images mark ``has_ocr_layer``.

Bounded work on hostile input: the size, the page count and the decompressed size of every
non-image stream are checked before any page is laid out. A document longer than
``Limits.max_pages`` is read up to the limit (warning, ``unread_pages``). When pdfminer cannot
open the file, or pdfplumber one page (or a page has more drawing than a form), the text of
those pages comes from the second engine, pdfium (:mod:`parsers.pdf_fallback`), with a warning
naming it; only a file neither engine opens is :class:`~parsers.errors.UnreadableInput`.
Exceptions are caught as library failures only when raised inside pdfminer/pdfplumber.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from itertools import islice
from typing import Any

import pdfplumber
from pdfminer.pdfdocument import PDFDocument, PDFPasswordIncorrect
from pdfminer.pdfinterp import PDFResourceManager
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser
from pdfminer.pdftypes import PDFObjRef, PDFStream, resolve1
from pdfminer.psexceptions import PSException
from pdfminer.psparser import LIT
from pdfplumber.utils.exceptions import MalformedPDFException, PdfminerException

from parsers.content import FormContent
from parsers.errors import LimitExceeded, UnreadableInput
from parsers.limits import DEFAULT_LIMITS, Limits
from parsers.origin import raised_by_library
from parsers.pdf_acroform import Widget, read_widgets
from parsers.pdf_fallback import ENGINE, read_text
from parsers.pdf_page import CharPage, PageText, read_page

_SCAN_CHARS = 40  # fewer readable characters than this per page: no usable text layer
_MAX_OBJECTS = 200_000
_MAX_DECODED_BYTES = 40 * 1024 * 1024  # all non-image streams, decoded (fonts, drawing, maps)
_MAX_PAGE_DRAWING = 512 * 1024  # one page's content streams: a Word-exported form page has ~6 KB
_MAX_DRAWING = 2 * 1024 * 1024  # all pages and forms: bounds the layout's time (~5 s per MB)
_MAX_REF_CHAIN = 16
_IMAGE = LIT("Image")
_FORM = LIT("Form")
_FLATE = (LIT("FlateDecode"), LIT("Fl"))
# What pdfminer and pdfplumber raise on malformed input. They are caught only when raised
# inside those libraries (:func:`raised_by_library`): the same exception raised by our code is a
# bug and goes up to the per-message guard.
_LEAKED = (PSException, PdfminerException, MalformedPDFException, ValueError, KeyError,
           TypeError, AttributeError, IndexError, AssertionError, EOFError,
           OverflowError, UnicodeError, NotImplementedError, RecursionError, zlib.error,
           struct.error)
_LIBRARIES = ("pdfminer", "pdfplumber")
_TEXT_ONLY = "solo testo, senza tabelle né caselle di spunta: serve una verifica"


def read_pdf(data: bytes, limits: Limits = DEFAULT_LIMITS) -> FormContent:
    """Read a PDF form. Raises UnreadableInput (empty, junk, password-protected, unreadable by
    both engines, no pages) or LimitExceeded (too large, a stream that inflates too much).
    A document longer than ``limits.max_pages`` is read up to the limit, with a warning."""
    if len(data) > limits.max_input_bytes:
        raise LimitExceeded(
            f"PDF troppo grande: {len(data)} byte (massimo {limits.max_input_bytes})")
    if not data.strip():
        raise UnreadableInput("PDF vuoto (0 byte)")
    if b"%PDF-" not in data[:1024]:
        raise UnreadableInput("non è un PDF (manca l'intestazione %PDF-)")
    try:
        return _read(data, limits)
    except PDFPasswordIncorrect as exc:
        raise UnreadableInput("PDF protetto da password") from exc
    except _LEAKED as exc:
        if not raised_by_library(exc, _LIBRARIES):
            raise
        return _read_fallback(data, limits, "pdfminer non riesce ad aprire il file")


def _read(data: bytes, limits: Limits) -> FormContent:
    pdf = _PDF(data)
    try:
        sizes, drawing = _check_objects(pdf.doc, limits)
        page_objs, total = _page_objects(pdf.doc, limits)
        if not page_objs:
            return _read_fallback(data, limits, "pdfminer non trova le pagine")
        heavy = _heavy_pages(page_objs, sizes, drawing)
        page_of = _annotation_pages(page_objs)
        widgets, warnings = read_widgets(pdf.doc.catalog, page_of)
        if b"%%EOF" not in data[-2048:]:
            warnings.append("PDF forse troncato (manca %%EOF alla fine): il contenuto può essere "
                            "incompleto")
        pages = _read_pages(pdf, page_objs, widgets, heavy)
        return _content(pages, _fill_fallback(data, pages, limits, warnings), widgets, warnings,
                        total)
    finally:
        pdf.flush_cache()  # not pdf.close(): it walks the whole page tree, unbounded


def _read_fallback(data: bytes, limits: Limits, why: str) -> FormContent:
    """The whole document read by the second engine (text only)."""
    found = read_text(data, None, limits.max_pages)
    if not found.pages:
        raise UnreadableInput("PDF senza pagine")
    lines = [line for i in sorted(found.pages) for line in found.pages[i]]
    warnings = [f"PDF letto con il motore di riserva {ENGINE} ({why}): {_TEXT_ONLY}"]
    count = len(found.pages)
    if found.total_pages > count:
        warnings.append(_long_warning(count, found.total_pages))
    chars = sum(len("".join(line.split())) for line in lines)
    is_scan = chars < _SCAN_CHARS * count
    if is_scan:
        warnings.append("PDF senza testo leggibile: serve una verifica")
    return FormContent(format="pdf", lines=() if is_scan else tuple(lines), pages=count,
                       text_chars=chars, is_scan=is_scan, warnings=tuple(warnings),
                       unread_pages=found.total_pages - count, fallback_pages=count)


def _long_warning(read: int, total: int | None) -> str:
    of = f"di {total}" if total else "(il documento ne ha di più)"
    return (f"documento lungo: lette solo le prime {read} pagine {of}; "
            "le altre non sono state lette")


def _page_objects(doc: PDFDocument, limits: Limits) -> tuple[list[PDFPage], int]:
    """The first ``max_pages`` pages, and the number of pages the document has (at least
    one more than read when unknown and longer)."""
    pages = resolve1(doc.catalog.get("Pages"))
    declared = resolve1(pages.get("Count")) if isinstance(pages, dict) else None
    found = list(islice(PDFPage.create_pages(doc), limits.max_pages + 1))
    if len(found) <= limits.max_pages:
        return found, len(found)
    total = declared if isinstance(declared, int) and declared > limits.max_pages else 0
    return found[:limits.max_pages], total


def _check_objects(doc: PDFDocument, limits: Limits) -> tuple[dict[int, int], int]:
    """Visit every object once, before pages are read, and refuse chains of references that
    loop (pdfminer would follow them forever) and non-image streams that inflate beyond the
    limits (a flate bomb). Returns the decoded size of each stream and of all form XObjects."""
    budget = min(limits.max_unzipped_bytes, _MAX_DECODED_BYTES)
    sizes: dict[int, int] = {}
    total = drawing = 0
    for count, objid in enumerate(objid for xref in doc.xrefs for objid in xref.get_objids()):
        if count >= _MAX_OBJECTS:
            raise LimitExceeded(f"PDF con troppi oggetti (più di {_MAX_OBJECTS})")
        obj = _object(doc, objid)
        if not isinstance(obj, PDFStream) or obj.get("Subtype") is _IMAGE:
            continue
        sizes[objid] = size = _inflated_size(obj, budget - total)
        total += size
        drawing += size if obj.get("Subtype") is _FORM else 0
        if total > budget:
            raise LimitExceeded(f"PDF con contenuto compresso troppo grande (oltre {budget} byte)")
    return sizes, drawing


def _heavy_pages(page_objs: Sequence[PDFPage], sizes: dict[int, int], drawing: int) -> set[int]:
    """Pages with more drawing than a form has (on their own, or once the document's total is
    spent), which the layout would take too long over: their text comes from the second
    engine. ``drawing`` is what all form XObjects already cost."""
    heavy: set[int] = set()
    for index, page in enumerate(page_objs):
        contents = page.attrs.get("Contents")
        refs = contents if isinstance(contents, list) else [contents]
        page_size = sum(sizes.get(r.objid, 0) for r in refs if isinstance(r, PDFObjRef))
        if page_size > _MAX_PAGE_DRAWING or drawing + page_size > _MAX_DRAWING:
            heavy.add(index)
        else:
            drawing += page_size
    return heavy


def _object(doc: PDFDocument, objid: int) -> object:
    try:
        return doc.getobj(objid)
    except _LEAKED as exc:
        if not raised_by_library(exc, _LIBRARIES):
            raise
        return None  # pdfminer reports it when (if) a page needs the object


class _Document(PDFDocument):
    """pdfminer's document, refusing chains of bare references ("6 0 obj 7 0 R endobj" and
    back): pdfminer's ``resolve1`` would follow them forever."""

    def getobj(self, objid: int) -> Any:
        obj = super().getobj(objid)
        for _ in range(_MAX_REF_CHAIN):
            if not isinstance(obj, PDFObjRef):
                return obj
            obj = super().getobj(obj.objid)
        raise UnreadableInput("PDF danneggiato: riferimenti circolari tra oggetti")


class _PDF(pdfplumber.PDF):
    """pdfplumber's PDF over a :class:`_Document`. Its own constructor (not called) would
    build a plain pdfminer document; these are the attributes its pages use."""

    def __init__(self, data: bytes) -> None:
        self.stream = io.BytesIO(data)
        self.stream_is_external = False
        self.path = None
        self.pages_to_parse = None
        self.laparams = None
        self.password = ""
        self.unicode_norm = None
        self.raise_unicode_errors = True
        self.doc = _Document(PDFParser(self.stream), password="")
        self.rsrcmgr = PDFResourceManager()
        self.metadata = {}


def _inflated_size(stream: PDFStream, budget: int) -> int:
    """Decompressed size of a Flate stream, counting no further than ``budget`` + 1 byte."""
    filters = resolve1(stream.get("Filter"))
    first = filters[0] if isinstance(filters, list) and filters else filters
    raw = stream.rawdata
    if resolve1(first) not in _FLATE or raw is None or stream.decipher is not None:
        return len(raw or b"")  # other filters are not bombs worth fearing; encrypted: skipped
    inflater = zlib.decompressobj()
    size = 0
    pending = raw
    try:
        while pending and size <= budget:
            size += len(inflater.decompress(pending, 1 << 20))
            pending = inflater.unconsumed_tail
    except zlib.error:
        return size  # broken data: pdfminer will complain, or not, when it decodes it
    return size


def _annotation_pages(page_objs: Sequence[PDFPage]) -> dict[int, int]:
    """Object id of each page and of each of its annotations -> page index."""
    out: dict[int, int] = {}
    for index, page in enumerate(page_objs):
        if isinstance(page.pageid, int):
            out[page.pageid] = index
        annots = resolve1(page.annots)
        if isinstance(annots, list):
            for ref in annots:
                if isinstance(ref, PDFObjRef):
                    out.setdefault(ref.objid, index)
    return out


def _read_pages(pdf: pdfplumber.PDF, page_objs: Sequence[PDFPage], widgets: Sequence[Widget],
                skip: set[int]) -> dict[int, PageText | None]:
    """Each page laid out by pdfplumber; ``None`` for a page it cannot read (or ``skip``)."""
    out: dict[int, PageText | None] = {}
    doctop = 0.0
    for index, page_obj in enumerate(page_objs):
        out[index] = None
        if index in skip:
            continue
        try:
            page = CharPage(pdf, page_obj, page_number=index + 1, initial_doctop=doctop)
            doctop += float(page.height)
            text = read_page(page, [w for w in widgets if w.page == index])
            page.close()
            # text printed sideways (a landscape table on a portrait page): the layout reads
            # upright lines only, pdfium reads it
            out[index] = None if text.chars < _SCAN_CHARS <= text.sideways else text
        except _LEAKED as exc:
            if not raised_by_library(exc, _LIBRARIES):
                raise
    return out


def _fill_fallback(data: bytes, pages: dict[int, PageText | None], limits: Limits,
                   warnings: list[str]) -> dict[int, list[str]]:
    """Text of the pages pdfplumber could not read, from the second engine."""
    missing = [i for i, page in pages.items() if page is None]
    if not missing:
        return {}
    numbers = ", ".join(str(i + 1) for i in missing)
    try:
        found = read_text(data, missing, limits.max_pages).pages
    except UnreadableInput:
        warnings.append(f"pagine non leggibili da nessuno dei due motori: {numbers}")
        return {i: [] for i in missing}
    warnings.append(f"pagine lette con il motore di riserva {ENGINE}: {numbers}; {_TEXT_ONLY}")
    return {i: found.get(i, []) for i in missing}


def _content(pages: dict[int, PageText | None], fallback: dict[int, list[str]],
             widgets: Sequence[Widget], warnings: list[str], total: int) -> FormContent:
    results = [p for p in pages.values() if p is not None]
    lines: list[str] = []
    for index, page in pages.items():
        lines.extend(fallback.get(index, []) if page is None else (ln.text for ln in page.lines))
    lines.extend(_orphan_lines([w for w in widgets if w.page is None]))
    warnings.extend(w.warning for w in widgets if w.warning)
    for r in results:
        warnings.extend(r.warnings)
    count = len(pages)
    if total != count:
        warnings.append(_long_warning(count, total))
    text_chars = sum(r.chars for r in results) + sum(
        len("".join(line.split())) for page_lines in fallback.values() for line in page_lines)
    image_pages = sum(1 for r in results if r.image)
    readable = text_chars + sum(r.widget_chars for r in results)
    is_scan = readable < _SCAN_CHARS * count
    if is_scan:
        warnings.append("PDF senza testo leggibile (scansione o immagine): serve una verifica"
                        if image_pages else "PDF senza testo leggibile: serve una verifica")
    ocr = not is_scan and any(r.image and r.chars >= _SCAN_CHARS for r in results)
    if ocr:
        warnings.append("testo sovrapposto a immagini di pagina intera (scansione con OCR)")
    return FormContent(
        format="pdf",
        lines=() if is_scan else tuple(t for t in lines if t.strip()),
        pages=count, text_chars=text_chars, image_pages=image_pages,
        is_scan=is_scan, has_ocr_layer=ocr, warnings=tuple(dict.fromkeys(warnings)),
        unread_pages=max(total - count, 1) if total != count else 0,
        fallback_pages=len(fallback),
    )


def _orphan_lines(widgets: Sequence[Widget]) -> list[str]:
    """Widgets that sit on no page we read: their name is all the label there is."""
    out = []
    for w in widgets:
        label = w.label or w.name
        if w.kind == "box":
            out.append(f"{'☒' if w.checked else '☐'} {label}".strip())
        else:
            out.append(f"{label}\t{w.value}")
    return out

