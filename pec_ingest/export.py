"""Adherent lists as rows, and their renderings: terminal table, CSV, JSON, XLSX.

One row per organisation (its current submission). Column names are the contract other tools
read (``adherents --format json`` prints a list of objects with exactly these keys).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from store.model import Submission

COLUMNS = ("registration_number", "received_at", "late", "sender", "denominazione",
           "natura_giuridica", "codice_fiscale", "partita_iva", "sede_legale", "comune",
           "legale_rappresentante", "referente", "email", "pec", "telefono", "tavoli", "status")
HEADINGS = {
    "registration_number": "Protocollo adesione", "received_at": "Ricevuta il",
    "late": "In ritardo", "sender": "Mittente PEC", "denominazione": "Denominazione",
    "natura_giuridica": "Natura giuridica", "codice_fiscale": "Codice fiscale",
    "partita_iva": "Partita IVA", "sede_legale": "Sede legale", "comune": "Comune",
    "legale_rappresentante": "Legale rappresentante", "referente": "Referente",
    "email": "E-mail", "pec": "PEC", "telefono": "Telefono", "tavoli": "Tavoli",
    "status": "Stato",
}
TAVOLO_NAMES = {
    "famiglia": "Area Promozione del benessere familiare",
    "poverta": "Area Contrasto alla povertà",
    "autonomie": "Area Promozione delle autonomie",
}


def adherent_row(sub: Submission, zone: ZoneInfo) -> dict[str, Any]:
    """One organisation's current submission as a flat row (``received_at`` local, aware)."""
    return {
        "registration_number": sub.registration_number,
        "received_at": sub.received_at.astimezone(zone),
        "late": bool(sub.late),
        "sender": sub.message.sender if sub.message is not None else None,
        **{f: getattr(sub, f) for f in COLUMNS[4:15]},
        "tavoli": ";".join(sub.tavolo_codes),
        "status": sub.status,
    }


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, bool):
        return "sì" if value else "no"
    return "" if value is None else str(value)


def to_json(rows: Sequence[dict[str, Any]]) -> str:
    plain = [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}
             for r in rows]
    return json.dumps(plain, ensure_ascii=False, indent=2)


def to_csv(rows: Sequence[dict[str, Any]], delimiter: str = ",") -> str:
    """CSV with a UTF-8 BOM so that Excel opens accented names right."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([r[c].isoformat() if isinstance(r[c], datetime) else
                         ("true" if r[c] is True else "false" if r[c] is False else
                          "" if r[c] is None else r[c]) for c in COLUMNS])
    return "\ufeff" + out.getvalue()


def to_table(rows: Sequence[dict[str, Any]],
             columns: Sequence[str] = ("registration_number", "received_at", "late",
                                       "denominazione", "codice_fiscale", "comune", "tavoli",
                                       "status")) -> str:
    """A plain-text table for the terminal."""
    header = [HEADINGS[c] for c in columns]
    body = [[_cell(r[c]) for c in columns] for r in rows]
    widths = [min(40, max(len(h), *(len(b[i]) for b in body))) if body else len(h)
              for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v[:w].ljust(w) for v, w in zip(b, widths, strict=True)) for b in body]
    return "\n".join(lines)


def to_xlsx(rows: Sequence[dict[str, Any]]) -> bytes:
    """A workbook: everyone, then one sheet per table (full names), frozen header, filters."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    sheets = [("Tutti gli aderenti", list(rows))] + [
        (name[:31], [r for r in rows if code in r["tavoli"].split(";")])
        for code, name in TAVOLO_NAMES.items()]
    wb.remove(wb.active)
    for title, subset in sheets:
        ws = wb.create_sheet(title)
        ws.append([HEADINGS[c] for c in COLUMNS])
        for r in subset:
            ws.append([r[c].replace(tzinfo=None) if isinstance(r[c], datetime) else r[c]
                       for c in COLUMNS])
        for cell in ws["B"][1:]:
            cell.number_format = "DD/MM/YYYY HH:MM"
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{max(1, len(subset) + 1)}"
        for i, c in enumerate(COLUMNS, start=1):
            ws.column_dimensions[get_column_letter(i)].width = max(12, len(HEADINGS[c]) + 2)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
