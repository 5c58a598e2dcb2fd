"""Words read by OCR, turned into the form reader's lines and measured for confidence. Pure.

The OCR runner (:mod:`pec_ingest.ocr`) hands over the words tesseract found, each with its
confidence (0-100), its page, its box and the line it belongs to. :func:`ocr_lines` writes them
as :class:`~parsers.content.FormContent` lines (a wide gap between two words becomes the TAB
that separates a label from its value); :func:`locate` finds where a value the reader chose
was read, and the LOWEST confidence of the words that carry it (tesseract's word confidence
is itself bounded by its characters', so the minimum over the words bounds every character).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from parsers.content import CELL_SEPARATOR

_GAP = 3.0  # a gap wider than this many character heights separates two cells
_KEEP = re.compile(r"[^0-9a-z@.]")


@dataclass(frozen=True)
class OcrWord:
    text: str
    conf: float
    page: int  # 1-based
    box: tuple[int, int, int, int]  # left, top, width, height in page pixels
    line: tuple[int, int, int]  # block, paragraph, line numbers on the page


@dataclass(frozen=True)
class Located:
    """Where a value was read: the words' lowest confidence, their page and bounding box."""

    confidence: float
    page: int
    box: tuple[int, int, int, int]


def group_lines(words: Sequence[OcrWord]) -> list[list[OcrWord]]:
    """The words grouped by page and line, in reading order."""
    lines: dict[tuple[int, int, int, int], list[OcrWord]] = {}
    for word in words:
        if word.text.strip():
            lines.setdefault((word.page, *word.line), []).append(word)
    return [sorted(ws, key=lambda w: w.box[0]) for _, ws in sorted(lines.items())]


def ocr_lines(words: Sequence[OcrWord]) -> tuple[str, ...]:
    """One text line per OCR line; cells split where the gap is wide."""
    out = []
    for line in group_lines(words):
        parts = [line[0].text]
        for before, word in pairwise(line):
            gap = word.box[0] - (before.box[0] + before.box[2])
            height = max(before.box[3], word.box[3], 1)
            parts.append(CELL_SEPARATOR if gap > _GAP * height else " ")
            parts.append(word.text)
        out.append("".join(parts))
    return tuple(out)


def _compact(text: str) -> str:
    return _KEEP.sub("", text.casefold())


def locate(value: str, words: Sequence[OcrWord]) -> Located | None:
    """The best place where ``value`` was read as a run of words on one line, or None.

    Spaces, punctuation other than ``@`` and ``.``, and case are ignored when comparing; among
    several places the one whose weakest word is strongest is returned."""
    target = _compact(value)
    if not target:
        return None
    best: Located | None = None
    for line in group_lines(words):
        for end in range(len(line)):
            text = ""
            for start in range(end, -1, -1):  # the shortest run of words ending at `end`
                text = _compact(line[start].text) + text
                if target in text:
                    run = line[start:end + 1]
                    found = Located(min(w.conf for w in run), run[0].page, _union(run))
                    if best is None or found.confidence > best.confidence:
                        best = found
                    break
                if len(text) > len(target) + 40:
                    break
    return best


def _union(words: Sequence[OcrWord]) -> tuple[int, int, int, int]:
    left = min(w.box[0] for w in words)
    top = min(w.box[1] for w in words)
    right = max(w.box[0] + w.box[2] for w in words)
    bottom = max(w.box[1] + w.box[3] for w in words)
    return left, top, right - left, bottom - top
