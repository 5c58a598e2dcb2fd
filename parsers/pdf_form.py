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

Bounded work on hostile input: the size, the declared and the real page count, and the
decompressed size of every non-image stream are checked before any page is laid out; every
pdfminer failure becomes :class:`~parsers.errors.UnreadableInput`.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import pdfplumber
from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfinterp import PDFResourceManager
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser
from pdfminer.pdftypes import PDFObjRef, PDFStream, resolve1
from pdfminer.psexceptions import PSException
from pdfminer.psparser import LIT
from pdfplumber.page import Page
from pdfplumber.utils.exceptions import PdfminerException

from parsers.content import FormContent
from parsers.errors import LimitExceeded, ParseError, UnreadableInput
from parsers.limits import DEFAULT_LIMITS, Limits
from parsers.pdf_acroform import Widget, read_widgets
from parsers.pdf_checkbox import drawn_boxes, glyph_state
from parsers.pdf_layout import (
    Atom,
    Grid,
    Line,
    cluster_rows,
    merge_paragraphs,
    row_line,
    table_lines,
)

_SCAN_CHARS = 40  # fewer readable characters than this per page: no usable text layer
_IMAGE_COVER = 0.7  # an image covering this share of the page makes it an image page
_MAX_OBJECTS = 200_000
_MAX_DECODED_BYTES = 40 * 1024 * 1024  # all non-image streams, decoded (fonts, drawing, maps)
_MAX_PAGE_DRAWING = 512 * 1024  # one page's content streams: a Word-exported form page has ~6 KB
_MAX_DRAWING = 2 * 1024 * 1024  # all pages and forms: bounds the layout's time (~5 s per MB)
_MAX_REF_CHAIN = 16
_TABLE_SETTINGS = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}
_IMAGE = LIT("Image")
_FORM = LIT("Form")
_FLATE = (LIT("FlateDecode"), LIT("Fl"))
_BROKEN = (PSException, PdfminerException, ValueError, KeyError, TypeError, AttributeError,
           IndexError, AssertionError, EOFError, OverflowError, UnicodeError, zlib.error,
           struct.error)


@dataclass
class _Page:
    lines: list[Line]
    chars: int
    image: bool
    widget_chars: int = 0
    warnings: list[str] = field(default_factory=list)


def read_pdf(data: bytes, limits: Limits = DEFAULT_LIMITS) -> FormContent:
    """Read a PDF form. Raises UnreadableInput (empty, junk, truncated, password-protected,
    no pages) or LimitExceeded (too large, too many pages, a stream that inflates too much)."""
    if len(data) > limits.max_input_bytes:
        raise LimitExceeded(
            f"PDF troppo grande: {len(data)} byte (massimo {limits.max_input_bytes})")
    if not data.strip():
        raise UnreadableInput("PDF vuoto (0 byte)")
    if b"%PDF-" not in data[:1024]:
        raise UnreadableInput("non è un PDF (manca l'intestazione %PDF-)")
    try:
        return _read(data, limits)
    except ParseError:
        raise
    except PDFPasswordIncorrect as exc:
        raise UnreadableInput("PDF protetto da password") from exc
    except PDFEncryptionError as exc:
        raise UnreadableInput(f"PDF cifrato in modo non supportato: {_describe(exc)}") from exc
    except RecursionError as exc:
        raise UnreadableInput(
            "PDF danneggiato o troncato: struttura annidata troppo profonda") from exc
    except _BROKEN as exc:
        raise UnreadableInput(f"PDF danneggiato o troncato: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    inner = exc.args[0] if isinstance(exc, PdfminerException) and exc.args else exc
    if isinstance(inner, PDFPasswordIncorrect):
        return "protetto da password"
    text = " ".join(str(inner).split())[:160]
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__


def _read(data: bytes, limits: Limits) -> FormContent:
    pdf = _PDF(data)
    try:
        sizes, drawing = _check_objects(pdf.doc, limits)
        page_objs = _page_objects(pdf.doc, limits)
        _check_drawing(page_objs, sizes, drawing)
        page_of = _annotation_pages(page_objs)
        widgets, warnings = read_widgets(pdf.doc.catalog, page_of)
        if b"%%EOF" not in data[-2048:]:
            warnings.append("PDF forse troncato (manca %%EOF alla fine): il contenuto può essere "
                            "incompleto")
        return _content(pdf, page_objs, widgets, warnings)
    finally:
        pdf.flush_cache()  # not pdf.close(): it walks the whole page tree, unbounded


def _page_objects(doc: PDFDocument, limits: Limits) -> list[PDFPage]:
    pages = resolve1(doc.catalog.get("Pages"))
    declared = resolve1(pages.get("Count")) if isinstance(pages, dict) else None
    if isinstance(declared, int) and declared > limits.max_pages:
        raise LimitExceeded(f"PDF con troppe pagine: {declared} (massimo {limits.max_pages})")
    found = list(islice(PDFPage.create_pages(doc), limits.max_pages + 1))
    if len(found) > limits.max_pages:
        raise LimitExceeded(f"PDF con troppe pagine: più di {limits.max_pages}")
    if not found:
        raise UnreadableInput("PDF senza pagine")
    return found


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


def _check_drawing(page_objs: Sequence[PDFPage], sizes: dict[int, int], drawing: int) -> None:
    """Refuse more drawing than a form has: it bounds the layout's time and memory."""
    for page in page_objs:
        contents = page.attrs.get("Contents")
        refs = contents if isinstance(contents, list) else [contents]
        page_size = sum(sizes.get(r.objid, 0) for r in refs if isinstance(r, PDFObjRef))
        if page_size > _MAX_PAGE_DRAWING:
            raise LimitExceeded(f"pagina troppo complessa: {page_size} byte di disegno")
        drawing += page_size
    if drawing > _MAX_DRAWING:
        raise LimitExceeded(f"PDF troppo complesso: {drawing} byte di disegno")


def _object(doc: PDFDocument, objid: int) -> object:
    try:
        return doc.getobj(objid)
    except _BROKEN:
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


def _content(pdf: pdfplumber.PDF, page_objs: Sequence[PDFPage], widgets: Sequence[Widget],
             warnings: list[str]) -> FormContent:
    results: list[_Page] = []
    doctop = 0.0
    for index, page_obj in enumerate(page_objs):
        page = Page(pdf, page_obj, page_number=index + 1, initial_doctop=doctop)
        doctop += float(page.height)
        results.append(_read_page(page, [w for w in widgets if w.page == index]))
        page.close()
    lines = [ln.text for r in results for ln in r.lines]
    lines.extend(_orphan_lines([w for w in widgets if w.page is None]))
    warnings.extend(w.warning for w in widgets if w.warning)
    for r in results:
        warnings.extend(r.warnings)
    text_chars = sum(r.chars for r in results)
    image_pages = sum(1 for r in results if r.image)
    readable = text_chars + sum(r.widget_chars for r in results)
    is_scan = readable < _SCAN_CHARS * len(results)
    if is_scan:
        warnings.append("PDF senza testo leggibile (scansione o immagine): serve una verifica"
                        if image_pages else "PDF senza testo leggibile: serve una verifica")
    ocr = not is_scan and any(r.image and r.chars >= _SCAN_CHARS for r in results)
    if ocr:
        warnings.append("testo sovrapposto a immagini di pagina intera (scansione con OCR)")
    return FormContent(
        format="pdf",
        lines=() if is_scan else tuple(t for t in lines if t.strip()),
        pages=len(results), text_chars=text_chars, image_pages=image_pages,
        is_scan=is_scan, has_ocr_layer=ocr, warnings=tuple(dict.fromkeys(warnings)),
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


def _read_page(page: Page, widgets: Sequence[Widget]) -> _Page:
    width, height = float(page.width), float(page.height)
    chars = [c for c in page.chars
             if c["text"] and c.get("upright", True) and _on_page(c, width, height)]
    boxes, used = drawn_boxes(page.rects, page.lines, page.curves, chars)
    atoms = [*boxes, *_char_atoms(chars, used), *_widget_atoms(page, widgets)]
    lines: list[Line] = []
    taken: set[int] = set()
    for grid in _grids(page) if page.lines or page.rects else []:
        inside = [a for a in atoms if id(a) not in taken and _within(a, grid.bbox)]
        found, used_ids = table_lines(grid, inside)
        lines.extend(found)
        taken |= used_ids
    lines.extend(row_line(r) for r in cluster_rows(a for a in atoms if id(a) not in taken))
    lines.sort(key=lambda ln: (ln.top, ln.x0))
    lines = merge_paragraphs(_label_fields(lines), width)
    readable = sum(1 for c in chars if not c["text"].isspace())
    return _Page(lines, readable, _image_page(page.images, width, height),
                 widget_chars=sum(len(w.value) + (w.kind == "box") for w in widgets))


def _on_page(obj: dict[str, Any], width: float, height: float) -> bool:
    """Inside the page (text placed off the page is invisible, and sometimes deliberate)."""
    return bool(obj["x0"] >= -1 and obj["x1"] <= width + 1
                and obj["top"] >= -1 and obj["bottom"] <= height + 1)


def _char_atoms(chars: Sequence[dict[str, Any]], used: set[int]) -> list[Atom]:
    out = []
    for i, c in enumerate(chars):
        if i in used:
            continue
        glyph = glyph_state(c["text"], str(c.get("fontname", "")))
        out.append(Atom(x0=float(c["x0"]), x1=float(c["x1"]), top=float(c["top"]),
                        bottom=float(c["bottom"]), text=glyph or c["text"],
                        size=float(c.get("size") or c["bottom"] - c["top"]),
                        kind="box" if glyph else "text"))
    return out


def _widget_atoms(page: Page, widgets: Sequence[Widget]) -> list[Atom]:
    """Widgets in the page's own coordinates (as pdfminer and pdfplumber place characters)."""
    x0, y0, x1, y1 = (float(v) for v in page.page_obj.mediabox)
    rotation = page.page_obj.rotate % 360
    ctm = {90: (0, -1, 1, 0, -y0, x1), 180: (-1, 0, 0, -1, x1, y1),
           270: (0, 1, -1, 0, y1, -x0)}.get(rotation, (1, 0, 0, 1, -x0, -y0))
    a, b, c, d, e, f = (float(v) for v in ctm)
    mb_x0, mb_top = float(page.mediabox[0]), float(page.mediabox[1])
    out = []
    for w in widgets:
        corners = [(a * x + c * y + e, b * x + d * y + f)
                   for x, y in ((w.rect[0], w.rect[1]), (w.rect[2], w.rect[3]))]
        xs = sorted(p[0] + mb_x0 for p in corners)
        tops = sorted(float(page.height) - p[1] + mb_top for p in corners)
        h = tops[1] - tops[0]
        if w.kind == "box":
            out.append(Atom(xs[0], xs[1], tops[0], tops[1], "☒" if w.checked else "☐", h,
                            kind="box", label=w.label, name=w.name))
        else:
            out.append(Atom(xs[0], xs[1], tops[0], tops[1], w.value, min(max(0.6 * h, 6.0), 14.0),
                            kind="field", label=w.label, name=w.name))
    return out


def _grids(page: Page) -> list[Grid]:
    """Ruled tables with at least two columns somewhere (a lone frame or box is not a table)."""
    out = []
    for table in page.find_tables(_TABLE_SETTINGS):
        rows = tuple(tuple(row.cells) for row in table.rows)
        x0, top, x1, bottom = table.bbox
        if x1 - x0 >= 20 and bottom - top >= 8 and any(
                sum(c is not None for c in row) >= 2 for row in rows):
            out.append(Grid(bbox=(x0, top, x1, bottom), rows=rows))
    return out


def _within(atom: Atom, box: tuple[float, float, float, float]) -> bool:
    cx, cy = (atom.x0 + atom.x1) / 2, (atom.top + atom.bottom) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def _image_page(images: Sequence[dict[str, Any]], width: float, height: float) -> bool:
    for im in images:
        w = min(float(im["x1"]), width) - max(float(im["x0"]), 0.0)
        h = min(float(im["bottom"]), height) - max(float(im["top"]), 0.0)
        if w > 0 and h > 0 and w * h >= _IMAGE_COVER * width * height:
            return True
    return False


def _label_fields(lines: list[Line]) -> list[Line]:
    """Give a label to each field that has no printed text left of it on its row: the short
    printed line right above the widget (which the field line then replaces), else the
    field's meaningful name, else its raw name."""
    out: list[Line] = []
    for line in lines:
        atom = line.unlabelled
        if atom is None:
            out.append(line)
            continue
        above = out[-1] if out else None
        if above is not None and _label_above(above, atom):
            out.pop()
            label = above.cells[0]
        else:
            label = atom.label or atom.name
        line.cells = [label, *line.cells]
        line.unlabelled = None
        line.kind = "table"  # a label/value pair: never part of a paragraph
        out.append(line)
    return out


def _label_above(line: Line, atom: Atom) -> bool:
    if line.kind != "text" or len(line.cells) != 1 or line.unlabelled or line.has_box:
        return False
    text = line.cells[0]
    return (0 < len(text.split()) <= 8 and not text.endswith(".")
            and line.bottom <= atom.top + 2 and atom.top - line.bottom <= 1.5 * line.size
            and atom.x0 - 30 <= line.x0 <= atom.x1 - 5)
