"""Scanned forms read with Tesseract (Italian model), inside the parser's child process.

Called from :func:`pec_ingest.isolation.parse_one`, so a scan is read under the same time
and memory limits as any document (the ``tesseract`` program is a child of the parser child
and inherits its ``RLIMIT_AS``; a page that overruns is killed with it).

Why ``pytesseract`` (the ``tesseract`` command) rather than ``ocrmypdf``: we need the words
with their confidences and boxes (TSV), not a new PDF; ocrmypdf would add Ghostscript, a PDF/A
conversion and a second rendering per page (several seconds and more ways to fail) for output
we would throw away. Pages are rendered with pypdfium2 (already used by pdfplumber), images
opened with Pillow (PNG, JPEG with its EXIF orientation, multi-page TIFF). Orientation comes
from tesseract's OSD (``--psm 0``, on a half-size copy), asked only when a page reads badly
as it is (OSD costs about a third of a page's OCR); small skew is handled by tesseract's own
line finder. One thread per tesseract (``OMP_THREAD_LIMIT=1``): pages use one core each.

The child returns the READINGS (what the form reader found in the OCR text, where and how
confidently) with every field of the result still empty: only the parent, which knows the
certified sender and the earlier versions, decides through :mod:`parsers.proof` what is proved.
"""

from __future__ import annotations

import base64
import io
import os
import re
import time
from dataclasses import dataclass
from typing import Any

import pypdfium2 as pdfium
import pytesseract
from PIL import Image, ImageChops, ImageFilter, ImageOps, ImageSequence, UnidentifiedImageError

from parsers import cades
from parsers.allegato import extract
from parsers.content import FormContent
from parsers.form import IMAGE_FORMATS, FormResult
from parsers.limits import Limits
from parsers.ocr_text import OcrWord, locate, ocr_lines
from parsers.origin import raised_by_library
from parsers.vocabulary import Vocabulary
from pec_ingest.ocr_boxes import mark_boxes

DPI = 300
MAX_PAGES = 4  # an Allegato 1 scan is 1-2 pages (plus an identity document)
MAX_PIXELS = 40_000_000  # per page, after rendering
# One tesseract run at most this long (pytesseract kills it). When the parser's own timeout
# kills this child first, its process group goes, a running tesseract with it (isolation).
PAGE_SECONDS = 60
_SCAN_CHARS = 40  # a PDF page with fewer text characters than this is an image
_UPRIGHT_WORDS, _UPRIGHT_CONF = 20, 70.0  # a page read with fewer/weaker words gets OSD
_ROTATE = re.compile(r"Rotate:\s*(\d+)")
_OSD_CONF = re.compile(r"Orientation confidence:\s*([\d.]+)")


@dataclass(frozen=True)
class Page:
    image: Image.Image
    rotation: int


def wanted(result: FormResult) -> bool:
    """Is this parse result a scan worth reading with OCR?"""
    if result.document.format in IMAGE_FORMATS:
        return True
    return (result.document.format == "pdf" and result.status == "needs_review"
            and not any(result.fields.values()) and result.relevance <= 1)


def read_scan(data: bytes, result: FormResult, vocabulary: Vocabulary,
              limits: Limits) -> tuple[dict[str, Any], int] | None:
    """(an ``ocr`` section for the plain result, relevance), or None when no page is an image.

    A missing or failing tesseract gives an ``ocr`` section with only an ``error``."""
    started = time.monotonic()
    if result.signature is not None:
        data = cades.unwrap(data, limits).content
    images = _images(data, result.document.format)
    if not images:
        return None
    os.environ["OMP_THREAD_LIMIT"] = "1"  # this child process only: one core per page
    try:
        read = [_read_page(image, number) for number, image in enumerate(images, 1)]
    except pytesseract.TesseractNotFoundError:
        return {"ocr": {"error": "OCR non disponibile: programma tesseract non installato"}}, 1
    except pytesseract.TesseractError as exc:
        return {"ocr": {"error": f"OCR non riuscito: {exc.message}"[:300]}}, 1
    except RuntimeError as exc:  # pytesseract's own timeout: tesseract was killed
        if not raised_by_library(exc, ("pytesseract",)):
            raise  # ours (RecursionError, NotImplementedError...): a bug, not the scan
        return {"ocr": {"error": f"OCR interrotto: {exc}"[:300]}}, 1
    return _section(read, result, vocabulary, time.monotonic() - started)


def _section(read: list[tuple[Page, list[OcrWord]]], result: FormResult,
             vocabulary: Vocabulary, seconds: float) -> tuple[dict[str, Any], int]:
    """The readings of the pages: form fields found, where, how sure, the crops, the text."""
    pages = [page for page, _ in read]
    marked = [mark_boxes(page.image, page_words) for page, page_words in read]
    words = [w for page_words, _ in marked for w in page_words]
    lines = ocr_lines(words)
    content = FormContent(result.document.format, lines, pages=len(pages),
                          text_chars=sum(len(w.text) for w in words), image_pages=len(pages))
    extraction = extract(content, vocabulary)
    where = {name: locate(value, words) for name, value in extraction.fields.items() if value}
    ocr = {
        "text": "\n".join(lines), "pages": len(pages), "rotations": [p.rotation for p in pages],
        "seconds": round(seconds, 2),
        "readings": dict(extraction.fields),
        "tavoli": [{"code": t.code, "rank": t.rank} for t in extraction.tavoli],
        "boxes": {"located": sum(c.located for _, c in marked),
                  "uncertain": sum(c.uncertain for _, c in marked)},
        "where": {k: None if v is None else {"confidence": v.confidence, "page": v.page,
                                             "box": list(v.box)} for k, v in where.items()},
        "crops": {k: _crop(pages[v.page - 1].image, v.box) for k, v in where.items() if v},
        "warnings": [*(result.signature.warnings if result.signature else ()),
                     *extraction.warnings],
    }
    found = sum(1 for v in extraction.fields.values() if v) + 2 * len(extraction.tavoli)
    # One value alone is no sign of an Allegato 1: the scan stays "unreadable" (relevance 1),
    # so the subject's keywords decide, as for a scan that could not be read at all.
    return {"ocr": ocr}, 1 + found if found >= 2 else 1


def _images(data: bytes, fmt: str) -> list[Image.Image]:
    if fmt == "pdf":
        return _pdf_pages(data)
    try:
        with Image.open(io.BytesIO(data)) as image:
            frames = [ImageOps.exif_transpose(frame.convert("L"))
                      for _, frame in zip(range(MAX_PAGES), ImageSequence.Iterator(image),
                                          strict=False)]
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError):
        return []
    return [f for f in frames if f.width * f.height <= MAX_PIXELS]


def _pdf_pages(data: bytes) -> list[Image.Image]:
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        return []
    images = []
    try:
        for index in range(min(len(pdf), MAX_PAGES)):
            page = pdf[index]
            width, height = page.get_size()
            text = page.get_textpage().get_text_range()
            if len(text.strip()) >= _SCAN_CHARS or width * height * (DPI / 72) ** 2 > MAX_PIXELS:
                continue
            images.append(page.render(scale=DPI / 72, grayscale=True).to_pil().convert("L"))
    except pdfium.PdfiumError:
        return images
    finally:
        pdf.close()
    return images


def _read_page(image: Image.Image, number: int) -> tuple[Page, list[OcrWord]]:
    """The page's words. A landscape page (an A4 scanned sideways) is turned upright by OSD
    first; a portrait page is read as it is, and turned and read again only when its words
    look like a page upside down (few words, low confidence)."""
    if image.width > image.height:
        page = _upright(image)
        return page, _words(page.image, number)
    words = _words(image, number)
    confs = sorted(w.conf for w in words)
    if len(words) >= _UPRIGHT_WORDS and confs[len(confs) // 2] >= _UPRIGHT_CONF:
        return Page(image, 0), words
    page = _upright(image)
    if page.rotation == 0:
        return page, words
    return page, _words(page.image, number)


def _upright(image: Image.Image) -> Page:
    """The page turned upright by the angle tesseract's OSD detects (0 when unsure)."""
    try:
        osd = pytesseract.image_to_osd(image.reduce(2), config="--psm 0", timeout=PAGE_SECONDS)
    except pytesseract.TesseractError:  # too few characters to tell: leave it as it is
        return Page(image, 0)
    rotate, conf = _ROTATE.search(osd), _OSD_CONF.search(osd)
    angle = int(rotate.group(1)) if rotate else 0
    if angle == 0 or conf is None or float(conf.group(1)) < 1.5:
        return Page(image, 0)
    return Page(image.rotate(-angle, expand=True, fillcolor=255), angle)


def without_rules(image: Image.Image) -> Image.Image:
    """The page with the ruling of its tables whitened: tesseract takes a ruled table for a
    picture and skips its text. A rule is a dark run longer than 1/25 of the page width
    (horizontal) or 1/45 of its height (vertical), found by averaging over boxes that long."""
    width, height = image.size
    kx, ky = max(8, width // 25), max(8, height // 45)
    rows = image.resize((max(1, width // kx), height), Image.Resampling.BOX)
    cols = image.resize((width, max(1, height // ky)), Image.Resampling.BOX)
    mask = ImageChops.lighter(  # grown by one step each way: a skewed rule is a staircase
        rows.point(_rule).filter(ImageFilter.MaxFilter(3)).resize((width, height),
                                                                  Image.Resampling.NEAREST),
        cols.point(_rule).filter(ImageFilter.MaxFilter(3)).resize((width, height),
                                                                  Image.Resampling.NEAREST))
    return ImageChops.lighter(image, mask)


def _rule(value: int) -> int:
    return 255 if value < 90 else 0


def _words(image: Image.Image, page: int) -> list[OcrWord]:
    data = pytesseract.image_to_data(without_rules(image), lang="ita", config="--psm 3",
                                     output_type=pytesseract.Output.DICT, timeout=PAGE_SECONDS)
    out = []
    for i, text in enumerate(data["text"]):
        conf = float(data["conf"][i])
        if text.strip() and conf >= 0:
            out.append(OcrWord(text.strip(), conf, page,
                               (data["left"][i], data["top"][i], data["width"][i],
                                data["height"][i]),
                               (data["block_num"][i], data["par_num"][i], data["line_num"][i])))
    return out


def _crop(image: Image.Image, box: tuple[int, int, int, int]) -> str:
    """The region of a value (with a margin), as a small base64 PNG for staff."""
    left, top, width, height = box
    margin = max(height, 10)
    region = image.crop((max(0, left - margin), max(0, top - margin),
                         min(image.width, left + width + margin),
                         min(image.height, top + height + margin)))
    if region.width > 900:
        region = region.resize((900, max(1, region.height * 900 // region.width)))
    buf = io.BytesIO()
    region.save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")
