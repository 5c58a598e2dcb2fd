"""Checkbox glyphs: every way a ticked or empty box is typed, mapped to the two canonical ones.

Both the DOCX reader and the field extractor call :func:`canonical_glyphs` (it is idempotent):
the reader so that its output follows :mod:`parsers.content`, the extractor so that any reader
(or a hand-written test) may hand it ``✔``, ``■`` or ``[X]`` as well. Structural checkboxes
(content controls, legacy form fields, Wingdings symbols) are the reader's job alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from parsers.content import CHECKED, UNCHECKED

# Unicode ballot boxes and marks (both readers); the private-use codes only in typed text
BOX_CHECKED = "☒☑✓✔✗✘⊠⌧■▣◼✅❎🗹🗷"
BOX_UNCHECKED = "☐□◻❏❑❒▢⬜◽"
CHECKED_CHARS = BOX_CHECKED + "\uf0fe\uf0fd\uf078"
UNCHECKED_CHARS = BOX_UNCHECKED + "\uf0a8\uf06f"
_TRANSLATION = str.maketrans(
    {**dict.fromkeys(CHECKED_CHARS, CHECKED), **dict.fromkeys(UNCHECKED_CHARS, UNCHECKED)}
)
_BRACKET_CHECKED = re.compile(r"[\[(]\s*[xX✓✔]\s*[\])]")
_BRACKET_EMPTY = re.compile(r"\[\s*\]|\(\s\)")

# Symbol-font codes (the byte a character has under the font) that mean a box, True = ticked.
# The one table both readers use: DOCX w:sym and symbol-font runs, PDF symbol-font characters.
# Wingdings: FE ☑, FD ☒, 78 ⌧, FB ✗, FC ✓, 6E ■ | A8 ◻, 6F □, 71 ❑, 72 ❒, A1 ○
WINGDINGS: Mapping[int, bool] = MappingProxyType({
    0xFE: True, 0xFD: True, 0x78: True, 0xFB: True, 0xFC: True, 0x6E: True,
    0xA8: False, 0x6F: False, 0x71: False, 0x72: False, 0xA1: False})
# Wingdings 2: 4F ✗, 50 ✓, 51 ☒, 52 ☑, 53 ☒, 54 ☒ | A3 □
WINGDINGS2: Mapping[int, bool] = MappingProxyType({
    0x4F: True, 0x50: True, 0x51: True, 0x52: True, 0x53: True, 0x54: True, 0xA3: False})
# codes read as boxes whatever the (unknown or other symbol) font: private-use U+F0xx,
# a w:sym without font, text in Symbol/Webdings runs (no ■ 6E or ❒ 72: Greek letters there)
PRIVATE_USE: Mapping[int, bool] = MappingProxyType({
    0xFE: True, 0xFD: True, 0xFB: True, 0xFC: True, 0x78: True,
    0xA8: False, 0x6F: False, 0x71: False, 0xA1: False})


def symbol_state(code: int, font: str) -> str | None:
    """☒/☐ for the byte ``code`` of a symbol font named ``font``, or None."""
    name = font.lower().replace(" ", "")
    table = (WINGDINGS2 if "wingdings2" in name else WINGDINGS if "wingdings" in name
             else PRIVATE_USE)
    on = table.get(code)
    return None if on is None else CHECKED if on else UNCHECKED


def canonical_glyphs(text: str) -> str:
    """Replace checked/unchecked box glyphs (and ``[X]``/``[ ]``) by ☒/☐."""
    if "[" in text or "(" in text:
        text = _BRACKET_CHECKED.sub(CHECKED, text)
        text = _BRACKET_EMPTY.sub(UNCHECKED, text)
    return text.translate(_TRANSLATION)


def wingdings_glyph(code: str, font: str = "") -> str | None:
    """The canonical glyph for a ``w:sym`` code such as ``F0FE`` (``00FE``), or None."""
    try:
        value = int(code, 16)
    except ValueError:
        return None
    if value >> 8 not in (0x00, 0xF0):
        return None
    return symbol_state(value & 0xFF, font)


def symbol_text(text: str, font: str) -> str:
    """Typed characters of a symbol-font run ("þ" in Wingdings) as ☒/☐, others unchanged."""
    return "".join(symbol_state(ord(c), font) or c if ord(c) < 0x100 else c for c in text)
