"""Rebuild reading-order lines from positioned PDF pieces (pure geometry, no file access).

A page arrives as :class:`Atom` objects: characters, checkboxes (glyphs or drawn squares, already
decided ☒/☐) and AcroForm widgets. They are grouped into visual rows by vertical overlap, rows
into words and cells, ruled tables into one line per table row (cells joined by TAB), and
wrapped paragraph lines back into paragraphs, so that the extractor sees what a DOCX reader
would give for the same form.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal

from parsers.content import CELL_SEPARATOR, CHECKED, UNCHECKED

Kind = Literal["text", "box", "field"]
Box = tuple[float, float, float, float]  # x0, top, x1, bottom (pdfplumber page coordinates)

_WORD_GAP = 0.2  # x gap (in font sizes) above which two characters belong to different words
_CELL_GAP = 1.8  # x gap (in font sizes) that separates two cells outside ruled tables
_PARA_PITCH = 1.7  # largest baseline distance (in font sizes) inside one paragraph
_ABOVE_PITCH = 2.6  # largest distance (in font sizes) from a label line to the widget below it
_SPACES = re.compile(r"\s+")
_GLYPHS = (CHECKED, UNCHECKED)


@dataclass(frozen=True, slots=True)
class Atom:
    """One positioned piece of a page.

    ``kind`` is ``text`` (a character, or a word once grouped), ``box`` (a checkbox whose
    ``text`` is ☒ or ☐) or ``field`` (an AcroForm text/choice widget whose ``text`` is its value).
    ``label`` is the meaningful label taken from a widget's name ("" when the name is generic);
    ``name`` is the raw field name, the label of last resort.
    """

    x0: float
    x1: float
    top: float
    bottom: float
    text: str
    size: float
    kind: Kind = "text"
    label: str = ""
    name: str = ""

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(slots=True)
class Line:
    """A line of output before it is flattened to a string, with what later passes need."""

    cells: list[str]
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    first_width: float = 0.0  # width of the first word (does it fit on the line above?)
    single_token: bool = False
    kind: Literal["text", "table"] = "text"
    unlabelled: Atom | None = None  # a field that stands first on its row, with no printed label
    has_box: bool = False
    last_top: float = -1.0  # top of the last visual row merged into this line
    last_cell_x0: float = -1.0  # where the last cell starts (a tab stop, a value column)

    def __post_init__(self) -> None:
        if self.last_top < 0:
            self.last_top = self.top

    @property
    def text(self) -> str:
        return CELL_SEPARATOR.join(self.cells)


@dataclass(frozen=True, slots=True)
class Grid:
    """A ruled table: ``rows`` of cell boxes (None where a merged cell leaves a hole)."""

    bbox: Box
    rows: tuple[tuple[Box | None, ...], ...]


@dataclass(slots=True)
class _Row:
    top: float
    bottom: float
    atoms: list[Atom] = field(default_factory=list)


def collapse(text: str) -> str:
    """Whitespace collapsed to single spaces, stripped."""
    return _SPACES.sub(" ", text).strip()


def cluster_rows(atoms: Iterable[Atom]) -> list[list[Atom]]:
    """Group atoms into visual rows: an atom joins a recent row it overlaps by half its height."""
    rows: list[_Row] = []
    for atom in sorted(atoms, key=lambda a: (a.top, a.x0)):
        target = None
        for row in reversed(rows[-4:]):
            overlap = min(row.bottom, atom.bottom) - max(row.top, atom.top)
            if overlap >= 0.5 * max(0.1, min(atom.height, row.bottom - row.top)):
                target = row
                break
        if target is None:
            rows.append(_Row(atom.top, atom.bottom, [atom]))
        else:
            target.atoms.append(atom)
    return [sorted(r.atoms, key=lambda a: a.x0) for r in rows]


def group_words(row: Sequence[Atom]) -> list[Atom]:
    """Characters of one row (sorted by x) merged into words; boxes and fields stay single."""
    words: list[Atom] = []
    current: list[Atom] = []
    for atom in row:
        if atom.kind != "text":
            _flush(current, words)
            words.append(atom)
            continue
        if atom.text.isspace():
            _flush(current, words)
            continue
        if current:
            last = current[-1]
            if atom.text == last.text and abs(atom.x0 - last.x0) < 1 and (
                    abs(atom.top - last.top) < 1):
                continue  # the same glyph drawn twice (fake bold, shadow)
            if atom.x0 - last.x1 > _WORD_GAP * max(atom.size, last.size):
                _flush(current, words)
        current.append(atom)
    _flush(current, words)
    return words


def _flush(chars: list[Atom], words: list[Atom]) -> None:
    if not chars:
        return
    sizes = sorted(c.size for c in chars)
    words.append(Atom(
        x0=chars[0].x0, x1=max(c.x1 for c in chars), top=min(c.top for c in chars),
        bottom=max(c.bottom for c in chars), text="".join(c.text for c in chars),
        size=sizes[len(sizes) // 2],
    ))
    chars.clear()


def split_cells(words: Sequence[Atom]) -> list[list[Atom]]:
    """Cells of a row outside ruled tables: a widget is a cell of its own; a wide gap (a tab
    stop, a second column) separates cells, except right after a checkbox (box and its label)."""
    cells: list[list[Atom]] = []
    gaps = sorted(b.x0 - a.x1 for a, b in pairwise(words) if a.kind == b.kind == "text")
    typical = gaps[len(gaps) // 2] if len(gaps) >= 3 else 0.0
    for word in words:
        if not cells:
            cells.append([word])
            continue
        prev = cells[-1][-1]
        gap = word.x0 - prev.x1
        wide = gap > _CELL_GAP * max(word.size, prev.size) and gap > 2.5 * typical
        if word.kind == "field" or prev.kind == "field" or (wide and prev.kind != "box"):
            cells.append([word])
        else:
            cells[-1].append(word)
    return cells


def cell_text(words: Sequence[Atom], *, alone: bool = False) -> str:
    """The text of one cell. A checkbox that ends a cell after its label moves in front of it
    (the contract is "glyph, space, label"); a lone checkbox of a widget gets the field's label
    when ``alone`` (nothing else printed on its row)."""
    items = list(words)
    boxes = [w for w in items if w.kind == "box"]
    if len(boxes) == 1 and len(items) > 1 and items[-1].kind == "box":
        items = [items[-1], *items[:-1]]
    parts = [w.text for w in items]
    if alone and len(items) == 1 and items[0].kind == "box":
        label = items[0].label or items[0].name
        if label:
            parts.append(label)
    return collapse(" ".join(parts))


def row_line(row: Sequence[Atom]) -> Line | None:
    """One visual row outside tables as a :class:`Line`; ``None`` for a row of blanks only
    (spaces drawn as characters, as Word's PDF export does)."""
    words = group_words(row)
    if not words:
        return None
    alone = all(w.kind == "box" for w in words)
    cells = [[w] for w in words] if alone else split_cells(words)
    texts = [cell_text(c, alone=alone) for c in cells]
    first = words[0]
    unlabelled = first if first.kind == "field" else None
    sizes = sorted(w.size for w in words if w.kind == "text") or [first.size]
    return Line(
        cells=texts, x0=first.x0, x1=max(w.x1 for w in words), top=min(w.top for w in words),
        bottom=max(w.bottom for w in words), size=sizes[len(sizes) // 2],
        first_width=first.x1 - first.x0, single_token=len(words) == 1 and first.kind == "text",
        unlabelled=unlabelled, has_box=any(w.kind == "box" for w in words),
        last_cell_x0=cells[-1][0].x0,
    )


def join_wrapped(before: str, after: str, *, glued: bool) -> str:
    """Join a wrapped line to the next one: with a space, or without when the break fell inside
    a word (``glued``: the line was one token filling the width) or after a hyphen."""
    if not before:
        return after
    if not after:
        return before
    if glued or re.search(r"\w-$", before):
        return before + after
    return before + " " + after


def table_lines(grid: Grid, atoms: Sequence[Atom]) -> tuple[list[Line], set[int]]:
    """One line per ruled table row (cells joined by TAB); rows with a single cell come back as
    ordinary visual lines. Returns the lines and the ``id`` of every atom used."""
    used: set[int] = set()
    lines: list[Line] = []
    by_middle = sorted(range(len(atoms)), key=lambda i: _middle(atoms[i]))
    middles = [_middle(atoms[i]) for i in by_middle]
    for cells in grid.rows:
        boxes = [c for c in cells if c is not None]
        if not boxes:
            continue
        # only the atoms whose middle lies in the row's height: a long table stays linear
        start = bisect_left(middles, min(b[1] for b in boxes))
        stop = bisect_right(middles, max(b[3] for b in boxes))
        near = [atoms[i] for i in sorted(by_middle[start:stop])]
        content = [[a for a in near if _inside(a, b)] for b in boxes]
        for group in content:
            used.update(id(a) for a in group)
        if len(boxes) == 1:
            lines.extend(ln for ln in map(row_line, cluster_rows(content[0])) if ln is not None)
            continue
        if not any(content):
            continue
        texts = _glyph_with_label([_cell_block(g, b) for g, b in zip(content, boxes, strict=True)])
        everything = [a for group in content for a in group]
        sizes = sorted(a.size for a in everything)
        lines.append(Line(
            cells=texts, x0=boxes[0][0], x1=boxes[-1][2], top=min(b[1] for b in boxes),
            bottom=max(b[3] for b in boxes), size=sizes[len(sizes) // 2], kind="table",
            has_box=any(a.kind == "box" for a in everything),
        ))
    return lines, used


def _glyph_with_label(cells: list[str]) -> list[str]:
    """A cell holding only a checkbox is joined to the label in the next cell ("☒ label")."""
    out: list[str] = []
    for text in cells:
        if out and out[-1] in _GLYPHS and text and not any(g in text for g in _GLYPHS):
            out[-1] = f"{out[-1]} {text}"
        else:
            out.append(text)
    return out


def _middle(atom: Atom) -> float:
    return (atom.top + atom.bottom) / 2


def _inside(atom: Atom, box: Box) -> bool:
    cx = (atom.x0 + atom.x1) / 2
    cy = (atom.top + atom.bottom) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def _cell_block(atoms: Sequence[Atom], box: Box) -> str:
    """All visual rows of one table cell joined into one string."""
    text = ""
    glued = False
    for row in cluster_rows(atoms):
        words = group_words(row)
        if not words:
            continue
        piece = cell_text(words, alone=all(w.kind == "box" for w in words))
        text = join_wrapped(text, piece, glued=glued)
        glued = len(words) == 1 and words[0].kind == "text" and (
            box[2] - words[0].x1 <= 1.2 * words[0].size)
    return text


def merge_paragraphs(lines: list[Line], page_width: float) -> list[Line]:
    """Join the wrapped lines of a paragraph: a plain line whose next line's first word would
    not have fitted at its end, at paragraph line spacing, with the same left edge and size."""
    plain = [ln for ln in lines if _plain(ln)]
    if not plain:
        return lines
    rights = _right_edges(plain, page_width)
    out: list[Line] = []
    for line in lines:
        prev = out[-1] if out else None
        right = rights.get(round(prev.x0), page_width) if prev is not None else page_width
        if prev is not None and _continues_value(prev, line, right):
            prev.cells[-1] = join_wrapped(prev.cells[-1], line.cells[0], glued=False)
            prev.x1, prev.bottom, prev.last_top = max(prev.x1, line.x1), line.bottom, line.top
            continue
        if prev is not None and _continues(prev, line, right):
            glued = prev.single_token and right - prev.x1 <= 1.2 * prev.size
            prev.cells = [join_wrapped(prev.cells[0], line.cells[0], glued=glued)]
            prev.x1, prev.bottom, prev.last_top = line.x1, line.bottom, line.top
            prev.single_token = line.single_token
            continue
        out.append(line)
    return out


def _right_edges(plain: list[Line], page_width: float) -> dict[int, float]:
    """The right edge of the text block of each left edge: the widest of its lines when at
    least two reach it (a justified or filled block, e.g. a narrow text box), else the page's
    right margin mirrored from the most common left edge."""
    left = Counter(round(ln.x0) for ln in plain).most_common(1)[0][0]
    fallback = max(max(ln.x1 for ln in plain), page_width - left)
    edges: dict[int, float] = {}
    for x0 in {round(ln.x0) for ln in plain}:
        block = [ln.x1 for ln in plain if round(ln.x0) == x0]
        widest = max(block)
        near = sum(1 for x1 in block if widest - x1 <= 1.5)
        edges[x0] = widest if near >= 2 else max(widest, fallback)
    return edges


def _continues_value(prev: Line, line: Line, right: float) -> bool:
    """A wrapped value of a "label<TAB>value" line: the next row, alone, at paragraph spacing
    and in the same size, starts exactly under the value (a hanging indent, a second column),
    or at the paragraph's left edge when its first word would not have fitted on the row."""
    if prev.kind != "text" or len(prev.cells) < 2 or not _plain(line) or line.has_box:
        return False
    if abs(prev.size - line.size) > 0.6:
        return False
    pitch = line.top - prev.last_top
    if not 0 < pitch <= _PARA_PITCH * prev.size:
        return False
    if prev.last_cell_x0 >= 0 and abs(line.x0 - prev.last_cell_x0) <= 1.5:
        return True
    return abs(line.x0 - prev.x0) <= 1.5 and (
        prev.x1 + 0.3 * prev.size + line.first_width > right - 1.0)


def _plain(line: Line) -> bool:
    return line.kind == "text" and len(line.cells) == 1 and line.unlabelled is None


def _continues(prev: Line, line: Line, right: float) -> bool:
    """Is ``line`` the continuation of the paragraph whose last visual line is ``prev``?"""
    if not (_plain(prev) and _plain(line)) or line.has_box:
        return False
    if abs(prev.size - line.size) > 0.6:
        return False
    pitch = line.top - prev.last_top
    if not 0 < pitch <= _PARA_PITCH * prev.size:
        return False
    if line.x0 > prev.x0 + 2 or line.x0 < prev.x0 - 40:
        return False  # centred, indented or outdented: a new paragraph
    return prev.x1 + 0.3 * prev.size + line.first_width > right - 1.0
