"""Checkboxes on a PDF page: symbol characters and drawn squares, as canonical ☒/☐ atoms.

Characters: Unicode ballot boxes and marks, Wingdings / Wingdings 2 codes (as private-use
U+F0xx or as the raw Latin-1 byte when the font has no Unicode map), read with the code tables
of :mod:`parsers.glyphs` that the DOCX reader uses too. Drawn boxes: small
squares (about 6-16 pt) given as a rectangle, as four line segments or as one closed curve;
a box is ticked when a diagonal stroke (an X or a check mark), a dark filled square or a mark
character (X, x, V, ✓...) lies inside it. Rows of touching squares (comb fields for codes)
and squares holding other text (tiny table cells) are not checkboxes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

from pdfminer.encodingdb import EncodingDB

from parsers.content import CHECKED, UNCHECKED
from parsers.glyphs import BOX_CHECKED, BOX_UNCHECKED, symbol_state
from parsers.pdf_layout import Atom, Box

Obj = dict[str, Any]

_CHECKED_CHARS = frozenset(BOX_CHECKED)
_EMPTY_CHARS = frozenset(BOX_UNCHECKED)
_STANDARD = MappingProxyType({ch: code for code, ch in EncodingDB.std2unicode.items()})
_SYMBOL = re.compile(r"^(?:\w{6}\+)?symbol(?:mt)?(?:$|[,-])")  # Adobe Symbol: U+F0xx are Greek
_MARK_CHARS = frozenset("XxVv✓✔✗✘×*")
_MIN_SIDE, _MAX_SIDE = 5.5, 17.0
_MAX_SEGMENTS = 3000  # beyond this many short strokes a page is a drawing, not a form


def glyph_state(text: str, fontname: str) -> str | None:
    """☒ or ☐ when this character is a checkbox symbol, else None."""
    if text in _CHECKED_CHARS:
        return CHECKED
    if text in _EMPTY_CHARS:
        return UNCHECKED
    font = fontname.lower().replace(" ", "")
    if "wingdings" not in font:
        if len(text) == 1 and 0xF000 <= ord(text) <= 0xF0FF and not _SYMBOL.match(font):
            return symbol_state(ord(text) & 0xFF, "")
        return None
    for code in _symbol_codes(text):
        state = symbol_state(code, font)
        if state is not None:
            return state
    return None


def _symbol_codes(text: str) -> list[int]:
    """The byte a symbol-font character may have been, as pdfminer reports it: "(cid:254)",
    a private-use U+F0FE, the Latin-1 "þ", or the StandardEncoding character ("¤" for A8)."""
    match = re.fullmatch(r"\(cid:(\d+)\)", text)
    if match:
        return [int(match.group(1))]
    if len(text) != 1:
        return []
    code = ord(text)
    if 0xF000 <= code <= 0xF0FF:
        return [code & 0xFF]
    out = [code] if code < 0x100 else []
    standard = _STANDARD.get(text)
    return [*out, standard] if standard is not None else out


def drawn_boxes(rects: Sequence[Obj], lines: Sequence[Obj], curves: Sequence[Obj],
                chars: Sequence[Obj]) -> tuple[list[Atom], set[int]]:
    """Checkboxes drawn as vector squares, and the indexes of mark characters they consumed."""
    strokes = [o for o in (*lines, *curves) if _small(o)]
    if len(strokes) > _MAX_SEGMENTS:
        strokes = []
    outlines = _dedupe([*_rect_outlines(rects), *_line_outlines(strokes), *_curve_outlines(curves)])
    outlines = [b for b in outlines if not _in_comb(b, outlines)]
    atoms: list[Atom] = []
    used: set[int] = set()
    for box in outlines:
        inside = [i for i, c in enumerate(chars) if _centre_in(c, box, 0.5)]
        texts = [chars[i]["text"] for i in inside if not chars[i]["text"].isspace()]
        if any(t not in _MARK_CHARS for t in texts):
            continue  # a glyph box or a tiny cell with text: the characters speak for it
        ticked = bool(texts) or _has_mark(box, strokes, rects)
        used.update(inside)
        atoms.append(Atom(x0=box[0], x1=box[2], top=box[1], bottom=box[3],
                          text=CHECKED if ticked else UNCHECKED, size=box[3] - box[1], kind="box"))
    return atoms, used


def _small(obj: Obj) -> bool:
    return float(obj["x1"]) - float(obj["x0"]) <= _MAX_SIDE + 1 and (
        float(obj["bottom"]) - float(obj["top"]) <= _MAX_SIDE + 1)


def _square(w: float, h: float) -> bool:
    return _MIN_SIDE <= w <= _MAX_SIDE and _MIN_SIDE <= h <= _MAX_SIDE and (
        max(w, h) <= 1.34 * min(w, h))


def _bbox(obj: Obj) -> Box:
    return (float(obj["x0"]), float(obj["top"]), float(obj["x1"]), float(obj["bottom"]))


def _dark(colour: Any) -> bool:
    """Is a pdfplumber colour value dark (black-ish)? Unknown shapes count as dark."""
    if isinstance(colour, int | float):
        values: tuple[float, ...] = (float(colour),)
    elif isinstance(colour, tuple | list) and all(isinstance(v, int | float) for v in colour):
        values = tuple(float(v) for v in colour)
    else:
        return True
    if len(values) == 1:
        return values[0] < 0.5
    if len(values) == 3:
        return sum(values) / 3 < 0.5
    if len(values) == 4:  # CMYK
        return values[3] > 0.5 or sum(values[:3]) / 3 > 0.5
    return True


def _rect_outlines(rects: Sequence[Obj]) -> list[Box]:
    out = []
    for r in rects:
        box = _bbox(r)
        if not _square(box[2] - box[0], box[3] - box[1]):
            continue
        filled_dark = bool(r.get("fill")) and _dark(r.get("non_stroking_color"))
        if (r.get("stroke") or r.get("fill")) and not filled_dark:
            out.append(box)
    return out


def _line_outlines(strokes: Sequence[Obj]) -> list[Box]:
    """Squares made of separate segments: two horizontal sides joined by vertical ones."""
    flat = [_bbox(s) for s in strokes if len(s.get("pts", ())) == 2]
    horizontal = [b for b in flat if b[3] - b[1] < 0.8 and _MIN_SIDE <= b[2] - b[0] <= _MAX_SIDE]
    vertical = [b for b in flat if b[2] - b[0] < 0.8 and _MIN_SIDE <= b[3] - b[1] <= _MAX_SIDE]
    out = []
    for i, top in enumerate(horizontal):
        for bottom in horizontal[i + 1:]:
            if abs(top[0] - bottom[0]) > 1 or abs(top[2] - bottom[2]) > 1:
                continue
            y0, y1 = sorted((top[1], bottom[1]))
            box = (min(top[0], bottom[0]), y0, max(top[2], bottom[2]), y1)
            if _square(box[2] - box[0], y1 - y0) and _sides(box, vertical):
                out.append(box)
    return out


def _sides(box: Box, vertical: Sequence[Box]) -> bool:
    def side(x: float) -> bool:
        return any(abs(v[0] - x) <= 1 and v[1] <= box[1] + 1 and v[3] >= box[3] - 1
                   for v in vertical)
    return side(box[0]) and side(box[2])


def _curve_outlines(curves: Sequence[Obj]) -> list[Box]:
    out = []
    for c in curves:
        box = _bbox(c)
        pts = c.get("pts") or []
        if not _square(box[2] - box[0], box[3] - box[1]) or len(pts) < 4:
            continue
        if all(_on_border(p, box) for p in pts):
            out.append(box)
    return out


def _on_border(pt: Any, box: Box, tol: float = 1.2) -> bool:
    x, y = float(pt[0]), float(pt[1])
    return min(abs(x - box[0]), abs(x - box[2]), abs(y - box[1]), abs(y - box[3])) <= tol


def _dedupe(boxes: list[Box]) -> list[Box]:
    """One box per square; a square inside another one belongs to it."""
    out: list[Box] = []
    for box in sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1])):
        if not any(_contains(kept, box, 1.5) for kept in out):
            out.append(box)
    return out


def _contains(outer: Box, inner: Box, tol: float) -> bool:
    return (inner[0] >= outer[0] - tol and inner[1] >= outer[1] - tol
            and inner[2] <= outer[2] + tol and inner[3] <= outer[3] + tol)


def _in_comb(box: Box, boxes: Sequence[Box]) -> bool:
    """Is this square one of a row of touching squares (a comb field for a code)?"""
    return any(other is not box and abs(other[1] - box[1]) < 1.5 and (
        abs(other[0] - box[2]) < 2 or abs(box[0] - other[2]) < 2) for other in boxes)


def _centre_in(obj: Obj, box: Box, tol: float) -> bool:
    cx = (float(obj["x0"]) + float(obj["x1"])) / 2
    cy = (float(obj["top"]) + float(obj["bottom"])) / 2
    return box[0] - tol <= cx <= box[2] + tol and box[1] - tol <= cy <= box[3] + tol


def _has_mark(box: Box, strokes: Sequence[Obj], rects: Sequence[Obj]) -> bool:
    """A diagonal stroke or a dark filled square inside the box."""
    w, h = box[2] - box[0], box[3] - box[1]
    for s in strokes:
        b = _bbox(s)
        if not _contains(box, b, 1.5):
            continue
        pts = s.get("pts") or []
        if b[2] - b[0] < 0.3 * w or b[3] - b[1] < 0.3 * h:
            continue  # a side of the box, or a speck
        # a straight diagonal may run corner to corner (LibreOffice's ticked form field); a
        # curve whose points all lie on the border is the box's own rounded outline
        if len(pts) <= 2 or not all(_on_border(p, box) for p in pts):
            return True
    for r in rects:
        b = _bbox(r)
        area = (b[2] - b[0]) * (b[3] - b[1])
        if (r.get("fill") and _dark(r.get("non_stroking_color")) and _contains(box, b, 1.0)
                and 0.1 * w * h <= area):
            return True
    return False
