"""One PDF page as lines: characters, checkboxes and widgets laid out (see pdf_layout)."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pdfminer.layout import LTChar, LTItem
from pdfplumber.page import Page, fix_fontname_bytes
from pdfplumber.utils import resolve_all

from parsers.pdf_acroform import Widget
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

# pdfminer's text for a glyph its font maps to no Unicode character (CID font without a
# ToUnicode map): not text, and never a value
_UNMAPPED = re.compile(r"\(cid:\d+\)")
_IMAGE_COVER = 0.7  # an image covering this share of the page makes it an image page
_TABLE_SETTINGS = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}


@dataclass
class PageText:
    """A page's lines, its readable characters, whether an image covers it, widget text."""

    lines: list[Line]
    chars: int
    image: bool
    widget_chars: int = 0
    warnings: list[str] = field(default_factory=list)
    sideways: int = 0  # readable characters not upright (vertical or rotated text), not read

class CharPage(Page):
    """pdfplumber's page, its characters turned into smaller dicts.

    pdfplumber copies some twenty attributes of every character (resolving each one
    recursively) and this reader uses a handful; on a text-heavy form that copy costs more
    than the content stream's interpretation. A character here has its position (``x0``,
    ``x1``, ``y0``, ``y1``, ``top``, ``bottom``, ``doctop``, ``width``, ``height``, computed as
    pdfplumber computes them), ``text``, ``fontname`` (resolved and decoded as pdfplumber does),
    ``size``, ``upright``, ``adv``, ``matrix`` and its colours; no marked-content ids, no
    colour space. Lines, rectangles, curves and images are pdfplumber's own."""

    def process_object(self, obj: LTItem) -> dict[str, Any]:
        if type(obj) is not LTChar or self.pdf.unicode_norm is not None:
            return super().process_object(obj)
        fontname = resolve_all(obj.fontname)
        if isinstance(fontname, bytes):
            fontname = fix_fontname_bytes(fontname)
        gs = obj.graphicstate
        mb_x0, mb_top = self.mediabox[:2]
        top = (self.height - obj.y1) + mb_top
        x0, x1 = (obj.x0 + mb_x0, obj.x1 + mb_x0) if mb_x0 != 0 else (obj.x0, obj.x1)
        return {
            "object_type": "char", "page_number": self.page_number, "text": obj.get_text(),
            "fontname": fontname, "size": obj.size, "upright": obj.upright, "adv": obj.adv,
            "matrix": obj.matrix, "x0": x0, "x1": x1, "y0": obj.y0, "y1": obj.y1,
            "width": obj.width, "height": obj.height, "top": top,
            "bottom": (self.height - obj.y0) + mb_top, "doctop": self.initial_doctop + top,
            "stroking_color": gs.scolor if isinstance(gs.scolor, tuple) else (gs.scolor,),
            "non_stroking_color": gs.ncolor if isinstance(gs.ncolor, tuple) else (gs.ncolor,),
        }


def read_page(page: Page, widgets: Sequence[Widget]) -> PageText:
    """The lines of one page, with its AcroForm ``widgets`` placed among the printed text."""
    width, height = float(page.width), float(page.height)
    shown = [c for c in page.chars if c["text"] and _on_page(c, width, height)]
    unmapped = {id(c) for c in shown if _unmapped(c)}
    chars = [c for c in shown if c.get("upright", True) and id(c) not in unmapped]
    chars = _without_struck_out(chars, page.lines, page.rects)
    boxes, used = drawn_boxes(page.rects, page.lines, page.curves, chars)
    atoms = [*boxes, *_char_atoms(chars, used), *_widget_atoms(page, widgets)]
    lines: list[Line] = []
    taken: set[int] = set()
    for grid in _grids(page) if page.lines or page.rects else []:
        inside = [a for a in atoms if id(a) not in taken and _within(a, grid.bbox)]
        found, used_ids = table_lines(grid, inside)
        lines.extend(found)
        taken |= used_ids
    rows = cluster_rows(a for a in atoms if id(a) not in taken)
    lines.extend(line for line in map(row_line, rows) if line is not None)
    lines.sort(key=lambda ln: (ln.top, ln.x0))
    lines = merge_paragraphs(_label_fields(lines), width)
    readable = sum(1 for c in chars if not c["text"].isspace())
    sideways = sum(1 for c in page.chars if not c.get("upright", True) and c["text"].strip())
    warnings = [f"{len(unmapped)} caratteri senza codifica Unicode (font senza ToUnicode) non "
                "letti: il testo può essere incompleto"] if unmapped else []
    return PageText(lines, readable, _image_page(page.images, width, height),
                 widget_chars=sum(len(w.value) + (w.kind == "box") for w in widgets),
                 warnings=warnings, sideways=sideways)


def _unmapped(char: dict[str, Any]) -> bool:
    """A glyph with no Unicode text that is not a known checkbox glyph of a symbol font."""
    text = char["text"]
    return bool(_UNMAPPED.fullmatch(text)) and not glyph_state(text, str(char.get("fontname", "")))


_MAX_STRIKE_SEGMENTS = 500


def _without_struck_out(chars: list[dict[str, Any]], lines: Sequence[dict[str, Any]],
                        rects: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop characters with a horizontal stroke through their middle: text deleted with
    tracked changes, which Word and LibreOffice print struck out. Underlines (at the
    baseline) and table borders (between rows) do not cross a character's middle band."""
    segments = [(float(o["x0"]), float(o["x1"]), (float(o["top"]) + float(o["bottom"])) / 2)
                for o in (*lines, *rects)
                if float(o["bottom"]) - float(o["top"]) <= 1.5 and
                float(o["x1"]) - float(o["x0"]) >= 2.0]
    if not segments or len(segments) > _MAX_STRIKE_SEGMENTS:
        return chars
    # by height, so that each character looks only at the strokes level with its middle band
    # (a stroke at a NaN height, from a broken matrix, crosses nothing)
    segments = sorted((s for s in segments if s[2] == s[2]), key=lambda s: s[2])
    heights = [y for _, _, y in segments]
    kept = []
    for c in chars:
        top, bottom = float(c["top"]), float(c["bottom"])
        low, high = top + 0.35 * (bottom - top), top + 0.75 * (bottom - top)
        cx = (float(c["x0"]) + float(c["x1"])) / 2
        level = segments[bisect_left(heights, low):bisect_right(heights, high)]
        if not any(x0 <= cx <= x1 and low <= y <= high for x0, x1, y in level):
            kept.append(c)
    return kept


def _on_page(obj: dict[str, Any], width: float, height: float) -> bool:
    """Inside the page (text placed off the page is invisible, and sometimes deliberate)."""
    return bool(obj["x0"] >= -1 and obj["x1"] <= width + 1
                and obj["top"] >= -1 and obj["bottom"] <= height + 1)


def _char_atoms(chars: Sequence[dict[str, Any]], used: set[int]) -> list[Atom]:
    out = []
    glyphs: dict[tuple[str, str], str | None] = {}  # a page has few (character, font) pairs
    for i, c in enumerate(chars):
        if i in used:
            continue
        key = (c["text"], str(c.get("fontname", "")))
        glyph = glyphs[key] if key in glyphs else glyphs.setdefault(key, glyph_state(*key))
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
    for table in page.filter(_is_rule).find_tables(_TABLE_SETTINGS):
        rows = tuple(tuple(row.cells) for row in table.rows)
        x0, top, x1, bottom = table.bbox
        if x1 - x0 >= 20 and bottom - top >= 8 and any(
                sum(c is not None for c in row) >= 2 for row in rows):
            out.append(Grid(bbox=(x0, top, x1, bottom), rows=rows))
    return out


_SHADING = 3.0  # a filled, unstroked rectangle thicker than this both ways is shading


def _is_rule(obj: dict[str, Any]) -> bool:
    """Objects that may rule a table: not the cell shading Word paints under each cell's
    text area (filled, unstroked rectangles inset by the cell margins), whose edges would
    split every cell into three columns."""
    if obj.get("object_type") != "rect" or obj.get("stroke") or not obj.get("fill"):
        return True
    width = float(obj["x1"]) - float(obj["x0"])
    height = float(obj["bottom"]) - float(obj["top"])
    return width <= _SHADING or height <= _SHADING


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
