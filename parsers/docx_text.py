"""Walking WordprocessingML: the text of ``w:body`` in reading order, checkboxes as glyphs.

Pure functions over an lxml tree; :mod:`parsers.docx_form` does the zip and XML safety.
Paragraph text may hold ``\\n`` (from ``w:br``) and ``\\t`` (from ``w:tab``); a table row is one
string of TAB-joined cells, with breaks inside a cell turned into spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from parsers.content import CELL_SEPARATOR, CHECKED, UNCHECKED
from parsers.glyphs import symbol_text, wingdings_glyph

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def _w(name: str) -> str:
    return f"{{{W}}}{name}"


P, TBL, TR, TC, SDT, R, T = _w("p"), _w("tbl"), _w("tr"), _w("tc"), _w("sdt"), _w("r"), _w("t")
SDT_CONTENT, SDT_PR = _w("sdtContent"), _w("sdtPr")
TXBX = _w("txbxContent")
FALLBACK = f"{{{MC}}}Fallback"
_SKIP = frozenset({_w("del"), _w("delText"), _w("moveFrom"), _w("instrText"), _w("delInstrText"),
                   _w("rPr"), _w("pPr"), _w("sdtPr"), _w("sdtEndPr"), _w("tcPr"), _w("trPr"),
                   _w("tblPr"), _w("tblGrid"), _w("fldData"), _w("commentReference"),
                   _w("footnoteReference"), _w("endnoteReference"), FALLBACK})
_BREAKS = frozenset({_w("br"), _w("cr")})
_SYMBOL_FONTS = ("wingdings", "symbol", "webdings")
_TRUE = frozenset({"1", "true", "on"})


@dataclass
class _Paragraph:
    """Text being collected for one paragraph, and text boxes met on the way."""

    parts: list[str] = field(default_factory=list)
    boxes: list[str] = field(default_factory=list)
    in_field_code: bool = False


def body_lines(root: etree._Element) -> list[str]:
    """Lines of the document body (paragraphs, table rows, text boxes) in reading order."""
    body = root.find(_w("body"))
    out: list[str] = []
    if body is not None:
        _blocks(body, out)
    return out


def _blocks(parent: etree._Element, out: list[str]) -> None:
    for child in parent:
        tag = child.tag
        if tag == P:
            text, boxes = paragraph_text(child)
            out.append(text)
            out.extend(boxes)
        elif tag == TBL:
            _table(child, out)
        elif tag == SDT:
            content = child.find(SDT_CONTENT)
            if content is not None:
                _blocks(content, out)
        elif tag in _SKIP or not isinstance(tag, str):
            continue
        else:  # customXml, ins, moveTo, AlternateContent... at block level
            _blocks(child, out)


def _table(table: etree._Element, out: list[str]) -> None:
    for row in table.iter(TR):
        if _owner_table(row) is not table:
            continue
        cells: list[str] = []
        nested: list[str] = []
        for cell in _row_cells(row):
            if _continues_vertical_merge(cell):
                cells.append("")
                continue
            inner: list[str] = []
            _cell_blocks(cell, inner, nested)
            cells.append(" ".join(" ".join(inner).split()))
        out.append(CELL_SEPARATOR.join(cells))
        out.extend(nested)


def _owner_table(row: etree._Element) -> etree._Element | None:
    parent = row.getparent()
    while parent is not None and parent.tag != TBL:
        parent = parent.getparent()
    return parent


def _row_cells(row: etree._Element) -> list[etree._Element]:
    """The cells of a row, including those wrapped in a cell-level content control."""
    cells = []
    for child in row:
        if child.tag == TC:
            cells.append(child)
        elif child.tag in (SDT, _w("customXml")):
            cells.extend(c for c in child.iter(TC) if _owner_row(c) is row)
    return cells


def _owner_row(cell: etree._Element) -> etree._Element | None:
    parent = cell.getparent()
    while parent is not None and parent.tag != TR:
        parent = parent.getparent()
    return parent


def _continues_vertical_merge(cell: etree._Element) -> bool:
    merge = cell.find(f"{_w('tcPr')}/{_w('vMerge')}")
    return merge is not None and merge.get(_w("val"), "continue") == "continue"


def _cell_blocks(cell: etree._Element, inner: list[str], nested: list[str]) -> None:
    for child in cell:
        if child.tag == P:
            text, boxes = paragraph_text(child)
            inner.append(text.replace("\n", " ").replace(CELL_SEPARATOR, " "))
            nested.extend(boxes)
        elif child.tag == TBL:
            _table(child, nested)
        elif child.tag == SDT:
            content = child.find(SDT_CONTENT)
            if content is not None:
                _cell_blocks(content, inner, nested)
        elif isinstance(child.tag, str) and child.tag not in _SKIP:
            _cell_blocks(child, inner, nested)


def paragraph_text(paragraph: etree._Element) -> tuple[str, list[str]]:
    """The paragraph's text and the lines of the text boxes anchored in it."""
    state = _Paragraph()
    _inline(paragraph, state)
    text = re.sub(r"\t{2,}", CELL_SEPARATOR, "".join(state.parts))
    return text, state.boxes


def _inline(element: etree._Element, state: _Paragraph) -> None:
    for child in element:
        tag = child.tag
        if not isinstance(tag, str) or tag in _SKIP:
            continue
        if tag == R:
            _run(child, state)
        elif tag == SDT:
            _inline_control(child, state)
        elif tag == TXBX:
            lines: list[str] = []
            _blocks(child, lines)
            state.boxes.extend(lines)
        elif tag == P:  # a paragraph inside something inline (e.g. a text box shape)
            text, boxes = paragraph_text(child)
            state.boxes.extend([text, *boxes])
        else:
            _inline(child, state)


def _inline_control(sdt: etree._Element, state: _Paragraph) -> None:
    props = sdt.find(SDT_PR)
    content = sdt.find(SDT_CONTENT)
    if props is not None:
        box = props.find(f"{{{W14}}}checkbox")
        if box is not None:
            checked = box.find(f"{{{W14}}}checked")
            value = checked.get(f"{{{W14}}}val", "1") if checked is not None else "0"
            state.parts.append(CHECKED if value.lower() in _TRUE else UNCHECKED)
            return
        if props.find(_w("showingPlcHdr")) is not None:
            return
    if content is not None:
        _inline(content, state)


def _run(run: etree._Element, state: _Paragraph) -> None:
    font = _run_font(run)
    for child in run:
        tag = child.tag
        if tag == _w("fldChar"):
            _field_char(child, state)
        elif state.in_field_code or tag in _SKIP:
            continue
        elif tag == T:
            state.parts.append(_symbol_text(child.text or "", font))
        elif tag == _w("tab"):
            state.parts.append(CELL_SEPARATOR)
        elif tag in _BREAKS:
            state.parts.append("\n")
        elif tag == _w("sym"):
            state.parts.append(wingdings_glyph(child.get(_w("char"), ""),
                                               child.get(_w("font"), "")) or "")
        elif tag == _w("noBreakHyphen"):
            state.parts.append("-")
        elif isinstance(tag, str):
            _inline(child, state)  # drawings and pictures holding text boxes


def _field_char(char: etree._Element, state: _Paragraph) -> None:
    kind = char.get(_w("fldCharType"))
    if kind == "begin":
        state.in_field_code = True
        box = char.find(f"{_w('ffData')}/{_w('checkBox')}")
        if box is not None:
            state.parts.append(CHECKED if _legacy_checked(box) else UNCHECKED)
    elif kind in ("separate", "end"):
        state.in_field_code = False


def _legacy_checked(box: etree._Element) -> bool:
    for name in ("checked", "default"):
        element = box.find(_w(name))
        if element is not None:
            return element.get(_w("val"), "1").lower() in _TRUE
    return False


def _run_font(run: etree._Element) -> str:
    fonts = run.find(f"{_w('rPr')}/{_w('rFonts')}")
    if fonts is None:
        return ""
    return " ".join(fonts.get(_w(a), "") for a in ("ascii", "hAnsi", "cs")).lower()


def _symbol_text(text: str, font: str) -> str:
    if not font or not any(name in font for name in _SYMBOL_FONTS):
        return text
    return symbol_text(text, font)
