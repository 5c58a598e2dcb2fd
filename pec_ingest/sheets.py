"""Spreadsheet cells staff can read and print: Italian values, safe text, fitted layout.

Shared by the adherent and attendance exports (:mod:`pec_ingest.export`,
:mod:`pec_ingest.desk.attendance`). A value that starts like a formula (``=``, ``+``, ``-``,
``@``, tab, CR) is written as text: in XLSX as a string cell, in CSV with a leading ``'``
(the OWASP advice for CSV injection). Control characters (ESC, ...) never reach a cell.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

DATE_FORMAT = "DD/MM/YYYY HH:MM"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_WIDTH = 30  # characters; longer values wrap
MIN_CAP = 14  # a wide sheet narrows its long columns down to this before it prints smaller
SHORT = 18  # columns this narrow (codes, phones, dates) are never narrowed
PAGE_CHARS = 220  # characters across an A4 landscape page at a readable size (about 7 pt)
LINE_HEIGHT = 13  # points per line of wrapped text
MIN_WIDTH = 6
# C0/C1 controls except TAB/LF, DEL, and bidi overrides: never shown to staff as they are
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# codes and phone numbers Excel/Calc would turn into numbers (losing leading zeros)
_NUMBER_LIKE = re.compile(r"^\+?[0-9][0-9 ./-]*$")


def printable(text: str) -> str:
    """``text`` with control characters (ESC, OSC, bidi overrides) shown as ``\\xNN`` escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)


def clean(text: str) -> str:
    """``text`` without control characters (for a spreadsheet cell)."""
    return _CONTROL.sub("", text)


def csv_safe(value: str) -> str:
    """A CSV field that no spreadsheet evaluates: formula-like values get a leading ``'``."""
    value = clean(value)
    return "'" + value if value.startswith(FORMULA_START) else value


def excel_text(value: str) -> str:
    """A code or phone for the ``--excel`` CSV: kept as text (``="06433040398"``).

    Only digits, spaces and ``+./-`` are wrapped, so the formula can hold nothing else."""
    if _NUMBER_LIKE.match(value):
        return f'="{value}"'
    return csv_safe(value)


def put(ws: Worksheet, row: int, column: int, value: Any) -> None:
    """One cell: dates with the Italian format, strings always as text (never a formula)."""
    cell = ws.cell(row=row, column=column)
    if isinstance(value, datetime):
        cell.value = value.replace(tzinfo=None)
        cell.number_format = DATE_FORMAT
    elif isinstance(value, str):
        cell.value = clean(value)
        cell.data_type = "s"
    else:
        cell.value = value


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return "00/00/0000 00:00"
    return "" if value is None else str(value)


def fit_widths(ws: Worksheet, headings: Sequence[str], rows: Sequence[Sequence[Any]],
               fixed: dict[int, float] | None = None) -> list[float]:
    """Column widths fitted to the longest line of each column, within ``MAX_WIDTH`` and
    lowered for wide sheets until the row fits :data:`PAGE_CHARS` (the sheet prints one page
    wide at a readable size: longer values wrap), and row heights for the lines a wrapped
    value takes (neither Excel nor Calc grows them on open)."""
    from openpyxl.utils import get_column_letter

    natural = []
    for i, heading in enumerate(headings):
        longest = max((len(w) for w in heading.split()), default=0)
        for row in rows:
            longest = max(longest, *(len(line) for line in _text(row[i]).splitlines() or [""]))
        natural.append(max(MIN_WIDTH, longest) + 2)
    fixed = dict(fixed or {})
    for i in range(len(headings)):  # dates and short values (codes, phones) stay on one line
        if natural[i] <= SHORT or any(isinstance(row[i], datetime) for row in rows):
            fixed.setdefault(i, natural[i])
    cap = MAX_WIDTH
    while cap > MIN_CAP and sum(fixed.get(i, min(cap, w))
                                for i, w in enumerate(natural)) > PAGE_CHARS:
        cap -= 1
    widths = [float(fixed.get(i, min(cap, w))) for i, w in enumerate(natural)]
    for i, width in enumerate(widths):
        ws.column_dimensions[get_column_letter(i + 1)].width = width
    for r, row in enumerate([headings, *rows], start=1):
        lines = max((_lines(_text(v), w) for v, w in zip(row, widths, strict=True)), default=1)
        ws.row_dimensions[r].height = LINE_HEIGHT * lines + 3
    return widths


def _lines(text: str, width: float) -> int:
    """How many lines ``text`` takes wrapped at ``width`` characters (word by word)."""
    room = max(1, int(width * 1.1) - 2)  # proportional text is narrower than digits
    total = 0
    for paragraph in text.splitlines() or [""]:
        used, count = 0, 1
        for word in paragraph.split():
            need = len(word)
            if used and used + 1 + need > room:
                count, used = count + 1, 0
            while need > room:  # a word longer than the column is broken across lines
                count, need = count + 1, need - room
            used += (1 if used else 0) + need
        total += count
    return total


def print_setup(ws: Worksheet, title: str, landscape: bool = True) -> None:
    """A4, landscape, one page wide, header row on every page, title and page numbers."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"
    ws.print_options.gridLines = False
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.9  # room for the title and page number
    ws.page_margins.header = ws.page_margins.footer = 0.3
    ws.oddHeader.center.text = title
    ws.oddFooter.right.text = "Pagina &P di &N"
