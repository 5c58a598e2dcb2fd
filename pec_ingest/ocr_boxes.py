"""Checkboxes on a scanned page, read from their geometry rather than from OCR characters.

Tesseract reads a ticked square as "DC]", "&i" or nothing at all. Left of the first real word
of each line we look for a square (two dark columns and two dark rows, as far apart as the
line is tall, give or take) and measure the ink inside it: clearly inked is a tick, clearly
blank is an empty box, anything between is left to staff. A located box becomes the canonical
glyph (☒/☐) in front of the line, in place of the characters OCR made of it, so the form
reader sees the same text as from a digital form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from parsers.content import CHECKED, UNCHECKED
from parsers.ocr_text import OcrWord, group_lines

_DARK = 140  # gray level below which a pixel is ink
_SIDE = 0.65  # a side is dark over at least this share of its length
_TICKED, _BLANK = 0.10, 0.025  # ink share inside the box: ticked above, empty below


@dataclass(frozen=True)
class BoxCount:
    located: int = 0
    uncertain: int = 0


def mark_boxes(image: Image.Image, words: Sequence[OcrWord]) -> tuple[list[OcrWord], BoxCount]:
    """The page's words with a ☒/☐ word for every checkbox located in front of a line."""
    out: list[OcrWord] = []
    located = uncertain = 0
    for line in group_lines(words):
        anchor = next((w for w in line if sum(c.isalpha() for c in w.text) >= 3
                       and w.conf >= 60), None)
        found = _box(image, anchor) if anchor is not None else None
        if anchor is None or found is None:
            out.extend(line)
            continue
        box, ink = found
        right = box[0] + box[2]
        kept = [w for w in line if w.box[0] + w.box[2] // 2 > right or w is anchor
                or w.box[0] >= anchor.box[0]]
        if ink is None:
            uncertain += 1
            out.extend(kept)
            continue
        located += 1
        glyph = CHECKED if ink else UNCHECKED
        out.append(OcrWord(glyph, 100.0, anchor.page, box, anchor.line))
        out.extend(kept)
    return out, BoxCount(located, uncertain)


def _box(image: Image.Image, anchor: OcrWord) -> tuple[tuple[int, int, int, int],
                                                      bool | None] | None:
    """(box, ticked) of a square just left of ``anchor``; ticked None when unclear."""
    left, top, _, height = anchor.box
    x0, y0 = max(0, left - 4 * height), max(0, top - height)
    region = image.crop((x0, y0, max(x0 + 1, left - 2), min(image.height, top + 2 * height)))
    width, rows = region.size
    ink = [1 if v < _DARK else 0 for v in region.convert("L").tobytes()]
    columns = [sum(ink[y * width + x] for y in range(rows)) for x in range(width)]
    low, high = int(0.8 * height), int(2.2 * height)
    strong = [x for x, count in enumerate(columns) if count >= _SIDE * low]
    if not strong:
        return None
    right = strong[-1]
    lefts = [x for x in strong if low <= right - x <= high]
    if not lefts:
        return None
    side_left = lefts[0]
    span = right - side_left
    row_ink = [sum(ink[y * width + side_left:y * width + right + 1]) for y in range(rows)]
    dark_rows = [y for y, count in enumerate(row_ink) if count >= _SIDE * span]
    if len(dark_rows) < 2 or abs((dark_rows[-1] - dark_rows[0]) - span) > 0.3 * span:
        return None
    top_row, inset = dark_rows[0], max(2, span // 4)
    inner = [ink[y * width + x] for y in range(top_row + inset, top_row + span - inset + 1)
             for x in range(side_left + inset, right - inset + 1)]
    share = sum(inner) / max(1, len(inner))
    ticked = True if share > _TICKED else False if share < _BLANK else None
    return (x0 + side_left, y0 + top_row, span, span), ticked
