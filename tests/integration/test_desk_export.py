"""Exports staff open in Excel or LibreOffice: adherents (filters, CSV for Italian Excel, XLSX
with a summary), attendance lists and stats, run as commands on a filled database."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from pec_ingest.cli import main
from pec_ingest.export import COLUMNS, HEADINGS, SHEET_NAMES, TAVOLO_NAMES
from tests.integration.desk_support import Desk, desk_fixture, keep_logging  # noqa: F401

TABLE_SHEETS = list(SHEET_NAMES.values())


def run(desk: Desk, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(["--config", str(desk.config_file), *argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def as_json(desk: Desk, capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(run(desk, capsys, "adherents", "--format", "json",
                                                *argv))
    return rows


def test_filters_since_comune_natura(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    everyone = as_json(desk, capsys)
    assert all(list(r) == list(COLUMNS) for r in everyone)
    since = as_json(desk, capsys, "--since", "09/09/2019")
    assert {r["registration_number"] for r in since} == {
        r["registration_number"] for r in everyone
        if datetime.fromisoformat(r["received_at"]).date() >= datetime(2019, 9, 9).date()}
    assert 0 < len(since) < len(everyone)
    comune = next(r["comune"] for r in everyone if r["comune"])
    by_comune = as_json(desk, capsys, "--comune", comune.upper())
    assert by_comune and {r["comune"] for r in by_comune} == {comune}
    natura = next(r["natura_giuridica"] for r in everyone if r["natura_giuridica"])
    by_natura = as_json(desk, capsys, "--natura", natura)
    assert {r["registration_number"] for r in by_natura} == {
        r["registration_number"] for r in everyone if r["natura_giuridica"] == natura}


def test_csv_for_italian_excel(desk: Desk, capsys: pytest.CaptureFixture[str],
                               tmp_path: Path) -> None:
    out = tmp_path / "aderenti.csv"
    run(desk, capsys, "adherents", "--format", "csv", "--excel", "--output", str(out))
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert table[0] == [HEADINGS[c] for c in COLUMNS]
    assert len(table) - 1 == len(as_json(desk, capsys))
    assert all(len(row) == len(COLUMNS) for row in table)


def test_xlsx_sheets_rows_types_and_summary(desk: Desk, capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    rows = as_json(desk, capsys)
    out = tmp_path / "aderenti.xlsx"
    run(desk, capsys, "adherents", "--format", "xlsx", "--output", str(out))
    wb = load_workbook(out)
    assert wb.sheetnames == ["Tutti gli aderenti", *TABLE_SHEETS, "Riepilogo"]
    for ws, code in zip(wb.worksheets[1:4], TAVOLO_NAMES, strict=True):
        values = list(ws.iter_rows(values_only=True))
        assert list(values[0]) == [HEADINGS[c] for c in COLUMNS]
        assert values[0][0] == "Protocollo adesione"
        assert {v[0] for v in values[1:]} == {r["registration_number"] for r in rows
                                              if code in r["tavoli"].split(";")}
        assert all(isinstance(v[1], datetime) and v[2] in ("sì", "no") for v in values[1:])
        assert TAVOLO_NAMES[code] in ws.oddHeader.center.text
    summary = {(s, v): n for s, v, n in wb["Riepilogo"].iter_rows(min_row=2, values_only=True)}
    assert summary[("Totale", "Aderenti")] == len(rows)
    assert summary[("Totale", "In ritardo")] == sum(r["late"] for r in rows)
    for code, name in TAVOLO_NAMES.items():
        assert summary[("Tavolo", name)] == sum(code in r["tavoli"].split(";") for r in rows)


def test_attendance_lists(desk: Desk, capsys: pytest.CaptureFixture[str],
                          tmp_path: Path) -> None:
    rows = as_json(desk, capsys)
    out = tmp_path / "presenze.xlsx"
    run(desk, capsys, "attendance", "--format", "xlsx", "--output", str(out))
    wb = load_workbook(out)
    assert wb.sheetnames == TABLE_SHEETS
    for ws, code in zip(wb.worksheets, TAVOLO_NAMES, strict=True):
        values = list(ws.iter_rows(values_only=True))
        assert values[0][:3] == ("Protocollo adesione", "Ente", "Firma")
        members = [r for r in rows if code in r["tavoli"].split(";")]
        assert sorted(v[0] for v in values[1:]) == sorted(r["registration_number"]
                                                          for r in members)
        names = [v[1] for v in values[1:]]
        assert names == sorted(names, key=lambda n: (n or "").casefold())
        for v in values[1:]:
            source = next(r for r in members if r["registration_number"] == v[0])
            assert v[4] == (source["referente"] or source["legale_rappresentante"])
            assert (v[6], v[5]) == (source["email"], source["telefono"])
    text = run(desk, capsys, "attendance", "--tavolo", "poverta", "--format", "csv")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][0] == "Protocollo adesione"
    assert len(table) - 1 == sum("poverta" in r["tavoli"].split(";") for r in rows)


def test_stats_table_and_json(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    figures = json.loads(run(desk, capsys, "stats", "--format", "json"))
    rows = as_json(desk, capsys)
    assert figures["adherents"] == len(rows)
    table = run(desk, capsys, "stats")
    for code, name in TAVOLO_NAMES.items():
        line = next(line for line in table.splitlines() if name in line)
        assert int(line.split()[-2]) == figures["per_tavolo"][code]
        assert line.rstrip().endswith("%")
