"""Checkbox glyphs: every way a ticked or empty box is typed, mapped to the two canonical ones.

Both the DOCX reader and the field extractor call :func:`canonical_glyphs` (it is idempotent):
the reader so that its output follows :mod:`parsers.content`, the extractor so that any reader
(or a hand-written test) may hand it ``✔``, ``■`` or ``[X]`` as well. Structural checkboxes
(content controls, legacy form fields, Wingdings symbols) are the reader's job alone.
"""

from __future__ import annotations

import re

from parsers.content import CHECKED, UNCHECKED

CHECKED_CHARS = "☒☑✓✔✗✘⊠⌧■\u2705\u274e\uf0fe\uf0fd\uf078"
UNCHECKED_CHARS = "☐□◻\u25a2\u274f\uf0a8\uf06f"
_TRANSLATION = str.maketrans(
    {**dict.fromkeys(CHECKED_CHARS, CHECKED), **dict.fromkeys(UNCHECKED_CHARS, UNCHECKED)}
)
_BRACKET_CHECKED = re.compile(r"[\[(]\s*[xX✓✔]\s*[\])]")
_BRACKET_EMPTY = re.compile(r"\[\s*\]|\(\s\)")

# Wingdings / Symbol code points that mean a box, as w:sym/@w:char or as typed text.
WINGDINGS_CHECKED = frozenset({"F0FE", "F0FD", "F078", "00FE", "00FD", "F0FB", "F0FC"})
WINGDINGS_UNCHECKED = frozenset({"F0A8", "F06F", "00A8", "006F", "F071", "F0A1"})
WINGDINGS_TEXT = {"þ": CHECKED, "ý": CHECKED, "¨": UNCHECKED, "o": UNCHECKED, "x": CHECKED,
                  "ü": CHECKED, "q": UNCHECKED}


def canonical_glyphs(text: str) -> str:
    """Replace checked/unchecked box glyphs (and ``[X]``/``[ ]``) by ☒/☐."""
    if "[" in text or "(" in text:
        text = _BRACKET_CHECKED.sub(CHECKED, text)
        text = _BRACKET_EMPTY.sub(UNCHECKED, text)
    return text.translate(_TRANSLATION)


def wingdings_glyph(code: str) -> str | None:
    """The canonical glyph for a Wingdings ``w:sym`` code such as ``F0FE``, or None."""
    code = code.upper().rjust(4, "0")
    if code in WINGDINGS_CHECKED:
        return CHECKED
    if code in WINGDINGS_UNCHECKED:
        return UNCHECKED
    return None
