"""Attendance lists for convening a table: one row per adherent organisation of the table,
by name, with whom to contact, and an empty column to sign at the meeting.

The contact is the referente the form names for the tables; when there is none, the legal
representative. Rejected submissions are left out.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from pec_ingest.export import TAVOLO_NAMES, fill_sheet, sheet_title, to_csv
from store.model import Submission

COLUMNS = ("registration_number", "denominazione", "firma", "legale_rappresentante",
           "contatto", "telefono", "email", "pec", "comune", "preferenza")
HEADINGS = {
    "registration_number": "Protocollo adesione", "denominazione": "Ente",
    "legale_rappresentante": "Legale rappresentante", "contatto": "Referente (contatto)",
    "email": "E-mail", "pec": "PEC", "telefono": "Telefono", "comune": "Comune",
    "preferenza": "Preferenza", "firma": "Firma",
}
SIGN_WIDTH = 30  # characters: room for a signature beside the organisation's name
SIGN_HEIGHT = 42  # points (about 1.5 cm): a row tall enough to sign


def attendance_rows(subs: Sequence[Submission], tavolo: str) -> list[dict[str, Any]]:
    """The organisations that chose ``tavolo``, by name."""
    rows = []
    for sub in subs:
        chosen = next((t for t in sub.tavoli if t.code == tavolo), None)
        if chosen is None or sub.review_state == "rejected":
            continue
        rows.append({
            "registration_number": sub.registration_number,
            "denominazione": sub.denominazione, "legale_rappresentante":
            sub.legale_rappresentante, "contatto": sub.referente or sub.legale_rappresentante,
            "email": sub.email, "pec": sub.pec, "telefono": sub.telefono, "comune": sub.comune,
            "preferenza": chosen.rank, "firma": None})
    return sorted(rows, key=lambda r: ((r["denominazione"] or "").casefold(),
                                       r["registration_number"]))


def attendance_csv(rows: Sequence[dict[str, Any]], delimiter: str = ",",
                   excel: bool = False) -> str:
    return to_csv(rows, delimiter, COLUMNS, [HEADINGS[c] for c in COLUMNS], excel=excel)


def attendance_xlsx(tables: dict[str, list[dict[str, Any]]]) -> bytes:
    """One sheet per table, printed one table per page group, one page wide: borders, rows
    tall enough to sign, "Firma" beside the organisation, the table's full name as header."""
    from openpyxl import Workbook
    from openpyxl.styles import Border, Side

    wb = Workbook()
    wb.remove(wb.active)
    line = Side(style="thin", color="000000")
    box = Border(left=line, right=line, top=line, bottom=line)
    for code, rows in tables.items():
        ws = wb.create_sheet(sheet_title(code))
        fill_sheet(ws, [HEADINGS[c] for c in COLUMNS], [[r[c] for c in COLUMNS] for r in rows],
                   f"{TAVOLO_NAMES[code]}: foglio presenze",
                   {COLUMNS.index("firma"): SIGN_WIDTH})
        for row in ws.iter_rows(min_row=1, max_row=len(rows) + 1):
            for cell in row:
                cell.border = box
        for r in range(2, len(rows) + 2):
            ws.row_dimensions[r].height = max(SIGN_HEIGHT, ws.row_dimensions[r].height or 0)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
