"""Adherent lists as rows, and their renderings: terminal table, CSV, JSON, XLSX.

One row per organisation (its current submission). Column names are the contract other tools
read (``adherents --format json`` prints a list of objects with exactly these keys).

CSV is UTF-8 with a BOM, so that Excel opens accented names right; ``--excel`` gives what
Excel set to Italian expects (``;``, Italian headings and labels, dd/mm/yyyy, codes as text).
XLSX: the registration number first, dates as real dates (local time of the procedure), one
sheet with everyone, one per table, and a summary sheet with the counts; laid out to print
(:mod:`pec_ingest.sheets`).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pec_ingest import sheets
from pec_ingest.wording import NATURA_LABELS as NATURA_LABELS
from pec_ingest.wording import STATUS_LABELS as STATUS_LABELS
from store.model import Submission

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

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
# sheet names: whole words within Excel's 31 characters (the full name is the print header)
SHEET_NAMES = {"famiglia": "Benessere familiare", "poverta": "Contrasto alla povertà",
               "autonomie": "Promozione delle autonomie"}
TEXT_COLUMNS = frozenset({"registration_number", "codice_fiscale", "partita_iva", "telefono"})
ALL_SHEET = "Tutti gli aderenti"
SUMMARY_SHEET = "Riepilogo"
DATE_FORMAT = sheets.DATE_FORMAT
SEPARATORS = {",": ",", ";": ";", "tab": "\t", "\\t": "\t"}


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


def sheet_title(code: str) -> str:
    """A table's sheet name: a short name in whole words, within Excel's 31 characters."""
    return SHEET_NAMES[code]


def display(column: str, value: Any) -> Any:
    """What staff read for a value: Italian labels for codes, sì/no (dates stay dates)."""
    if isinstance(value, bool):
        return "sì" if value else "no"
    if column == "status":
        return STATUS_LABELS.get(value, value)
    if column == "natura_giuridica" and value:
        return NATURA_LABELS.get(value, value)
    if column == "tavoli" and isinstance(value, str):
        return ", ".join(SHEET_NAMES.get(c, c) for c in value.split(";") if c)
    return value


def _cell(value: Any, column: str = "") -> str:
    value = display(column, value)
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    return "" if value is None else sheets.printable(str(value))


def to_json(rows: Sequence[dict[str, Any]]) -> str:
    plain = [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}
             for r in rows]
    return json.dumps(plain, ensure_ascii=False, indent=2)


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return sheets.csv_safe(value)
    return "" if value is None else value


def _excel_value(column: str, value: Any) -> Any:
    value = display(column, value)
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, str):
        return sheets.excel_text(value) if column in TEXT_COLUMNS else sheets.csv_safe(value)
    return "" if value is None else value


def to_csv(rows: Sequence[dict[str, Any]], delimiter: str = ",",
           columns: Sequence[str] = COLUMNS, header: Sequence[str] | None = None,
           excel: bool = False, headings: dict[str, str] | None = None) -> str:
    """CSV with a UTF-8 BOM so that Excel opens accented names right.

    Plain: the JSON keys as header, ISO dates, ``true``/``false``, codes (for programs).
    ``excel``: Italian headings and labels, ``dd/mm/yyyy`` dates, sì/no, codes and phones kept
    as text. Either way a value that starts like a formula is neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    if excel:
        writer.writerow(header or [(headings or HEADINGS).get(c, c) for c in columns])
        for r in rows:
            writer.writerow([_excel_value(c, r[c]) for c in columns])
    else:
        writer.writerow(header or columns)
        for r in rows:
            writer.writerow([_csv_value(r[c]) for c in columns])
    return "\ufeff" + out.getvalue()


def to_table(rows: Sequence[dict[str, Any]],
             columns: Sequence[str] = ("registration_number", "received_at", "late",
                                       "denominazione", "codice_fiscale", "comune", "tavoli",
                                       "status"),
             headings: dict[str, str] | None = None) -> str:
    """A plain-text table for the terminal (control characters escaped)."""
    header = [(headings or HEADINGS)[c] for c in columns]
    body = [[_cell(r[c], c) for c in columns] for r in rows]
    widths = [min(40, max(len(h), *(len(b[i]) for b in body))) if body else len(h)
              for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v[:w].ljust(w) for v, w in zip(b, widths, strict=True)) for b in body]
    return "\n".join(lines)


def fill_sheet(ws: Worksheet, headings: Sequence[str], rows: Sequence[Sequence[Any]],
               title: str | None = None, fixed_widths: dict[int, float] | None = None) -> None:
    """Header row and rows, ready to read and print: Italian date format, text never a
    formula, fitted widths with wrapped text, frozen header with filters, A4 landscape one
    page wide with the header row on every page."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDE4EE")
    wrap = Alignment(wrap_text=True, vertical="top")
    for col, heading in enumerate(headings, start=1):
        sheets.put(ws, 1, col, heading)
        cell = ws.cell(row=1, column=col)
        cell.font, cell.fill, cell.alignment = bold, fill, wrap
    for r, row in enumerate(rows, start=2):
        for col, value in enumerate(row, start=1):
            sheets.put(ws, r, col, value)
            ws.cell(row=r, column=col).alignment = wrap
    sheets.fit_widths(ws, headings, rows, fixed_widths)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headings))}{max(1, len(rows) + 1)}"
    sheets.print_setup(ws, title or ws.title)


def to_xlsx(rows: Sequence[dict[str, Any]]) -> bytes:
    """Everyone, one sheet per table (full name as the print header), a summary."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    parts = [(ALL_SHEET, "Tutti gli aderenti", list(rows))] + [
        (sheet_title(code), name, [r for r in rows if code in r["tavoli"].split(";")])
        for code, name in TAVOLO_NAMES.items()]
    for title, full_name, subset in parts:
        ws = wb.create_sheet(title)
        fill_sheet(ws, [HEADINGS[c] for c in COLUMNS],
                   [[display(c, r[c]) for c in COLUMNS] for r in subset], full_name)
    summary = wb.create_sheet(SUMMARY_SHEET)
    fill_summary(summary, rows)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def summary_counts(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """``(section, label, count)`` over the exported rows, with Italian labels."""
    counts: list[tuple[str, str, int]] = [
        ("Totale", "Aderenti", len(rows)),
        ("Totale", "Nei termini", sum(1 for r in rows if not r["late"])),
        ("Totale", "In ritardo", sum(1 for r in rows if r["late"]))]
    counts += [("Tavolo", name, sum(1 for r in rows if code in r["tavoli"].split(";")))
               for code, name in TAVOLO_NAMES.items()]
    for section, key in (("Comune", "comune"), ("Natura giuridica", "natura_giuridica"),
                         ("Stato", "status")):
        tally = Counter(display(key, r[key]) or "(non indicato)" for r in rows)
        counts += [(section, label, n) for label, n in
                   sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))]
    return counts


def fill_summary(ws: Worksheet, rows: Sequence[dict[str, Any]]) -> None:
    fill_sheet(ws, ["Sezione", "Voce", "Numero"], summary_counts(rows), "Riepilogo")
    ws.page_setup.orientation = "portrait"
