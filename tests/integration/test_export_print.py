"""Exports as an office opens and prints them: layout and print settings read back with
openpyxl, the attendance PDF read back with pdfplumber, and every export rendered by
LibreOffice to PDF and PNG (``PEC_INGEST_RENDER_DIR=DIR`` keeps the PNGs to look at)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pdfplumber
import pytest
from openpyxl import load_workbook

from pec_ingest.cli import main
from pec_ingest.desk.attendance import SIGN_HEIGHT, SIGN_WIDTH
from pec_ingest.export import (
    NATURA_LABELS,
    SHEET_NAMES,
    STATUS_LABELS,
    TAVOLO_NAMES,
)
from pec_ingest.sheets import DATE_FORMAT, MAX_WIDTH, MIN_WIDTH
from tests.integration.desk_support import Desk, desk_fixture, keep_logging  # noqa: F401

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
CALC = Path("/usr/lib/libreoffice/program/libsclo.so")  # Debian's libreoffice-calc-nogui


def run(desk: Desk, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(["--config", str(desk.config_file), *argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def test_adherents_xlsx_ready_to_read_and_print(desk: Desk, capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    out = tmp_path / "aderenti.xlsx"
    run(desk, capsys, "adherents", "--output", str(out))  # format from the extension
    wb = load_workbook(out)
    assert wb.sheetnames[1:4] == list(SHEET_NAMES.values())
    assert all(len(name) <= 31 for name in wb.sheetnames)
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == ("portrait" if ws.title == "Riepilogo"
                                             else "landscape")
        assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.print_title_rows == "$1:$1"
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
        for letter, dim in ws.column_dimensions.items():
            assert MIN_WIDTH <= dim.width <= MAX_WIDTH, (ws.title, letter, dim.width)
    ws = wb["Tutti gli aderenti"]
    header = [c.value for c in ws[1]]
    received, late = header.index("Ricevuta il") + 1, header.index("In ritardo") + 1
    status, natura = header.index("Stato") + 1, header.index("Natura giuridica") + 1
    assert ws.column_dimensions["B"].width >= len("00/00/0000 00:00")
    for row in ws.iter_rows(min_row=2):
        assert isinstance(row[received - 1].value, datetime)
        assert row[received - 1].number_format == DATE_FORMAT
        assert row[late - 1].value in ("sì", "no")
        assert row[status - 1].value in STATUS_LABELS.values()
        assert row[natura - 1].value in (None, *NATURA_LABELS.values())
        assert all(cell.alignment.wrap_text for cell in row)
    assert TAVOLO_NAMES["famiglia"] in wb["Benessere familiare"].oddHeader.center.text


def test_attendance_xlsx_and_pdf(desk: Desk, capsys: pytest.CaptureFixture[str],
                                 tmp_path: Path) -> None:
    out = tmp_path / "presenze.xlsx"
    run(desk, capsys, "attendance", "--output", str(out))
    wb = load_workbook(out)
    for ws in wb.worksheets:
        assert [c.value for c in ws[1]][1:3] == ["Ente", "Firma"]
        assert ws.column_dimensions["C"].width == SIGN_WIDTH
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.orientation == "landscape"
        for r in range(2, ws.max_row + 1):
            assert ws.row_dimensions[r].height >= SIGN_HEIGHT
            assert all(c.border.left.style == "thin" and c.border.bottom.style == "thin"
                       for c in ws[r])
    pdf = tmp_path / "presenze.pdf"
    run(desk, capsys, "attendance", "--output", str(pdf))
    with pdfplumber.open(pdf) as doc:
        assert len(doc.pages) == len(TAVOLO_NAMES)  # one table per page
        for page, name in zip(doc.pages, TAVOLO_NAMES.values(), strict=True):
            assert page.width > page.height
            text = page.extract_text() or ""
            assert name in text and "Firma" in text


def test_output_path_format_and_mode(desk: Desk, capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    config = ["--config", str(desk.config_file)]
    assert main([*config, "adherents", "--format", "csv", "--output",
                 str(tmp_path / "a.xlsx")]) == 2
    assert "non corrisponde" in capsys.readouterr().err
    assert not (tmp_path / "a.xlsx").exists()
    for command in ("adherents", "attendance"):
        assert main([*config, command, "--output", str(tmp_path / "nope" / "x.xlsx")]) == 2
        assert "non esiste" in capsys.readouterr().err
    assert main([*config, "adherents", "--output", str(tmp_path / "a.dat")]) == 2
    capsys.readouterr()
    old = os.umask(0)
    try:
        for name in ("a.csv", "a.xlsx", "p.pdf"):
            command = "attendance" if name.endswith("pdf") else "adherents"
            run(desk, capsys, command, "--output", str(tmp_path / name))
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
    text = (tmp_path / "a.csv").read_text(encoding="utf-8-sig")
    assert text.startswith("registration_number,")  # plain CSV: the JSON keys


def _soffice(tmp_path: Path, src: Path, target: str, infilter: str | None = None) -> Path:
    assert SOFFICE is not None
    cmd = [SOFFICE, f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}", "--headless"]
    cmd += [f"--infilter={infilter}"] if infilter else []
    subprocess.run([*cmd, "--convert-to", target, "--outdir", str(tmp_path / "lo"), str(src)],
                   check=True, capture_output=True, timeout=240)
    found = tmp_path / "lo" / f"{src.stem}.{target}"
    assert found.exists(), f"LibreOffice did not convert {src.name}"
    return found


def _require_soffice() -> None:
    if SOFFICE is None or not CALC.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("LibreOffice Calc (soffice) richiesto in CI")
        pytest.skip("LibreOffice Calc non installato")


@pytest.mark.slow
def test_rendered_by_libreoffice(desk: Desk, capsys: pytest.CaptureFixture[str],
                                 tmp_path: Path) -> None:
    """Calc opens every export; the attendance list prints one table per page; the --excel CSV
    keeps codes as text and reads dates the Italian way."""
    _require_soffice()
    if desk.config.database_url.startswith("postgresql"):
        pytest.skip("the rendering does not depend on the database: once is enough")
    keep = Path(os.environ["PEC_INGEST_RENDER_DIR"]) if "PEC_INGEST_RENDER_DIR" in os.environ \
        else None
    files = {"aderenti.xlsx": "adherents", "presenze.xlsx": "attendance",
             "presenze.pdf": "attendance"}
    for name, command in files.items():
        run(desk, capsys, command, "--output", str(tmp_path / name))
    pages = {}
    for name in files:
        pdf = tmp_path / name if name.endswith(".pdf") else _soffice(tmp_path, tmp_path / name,
                                                                     "pdf")
        with pdfplumber.open(pdf) as doc:
            pages[name] = len(doc.pages)
        if keep is not None and shutil.which("pdftoppm"):
            keep.mkdir(parents=True, exist_ok=True)
            subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf),
                            str(keep / name.replace(".", "-"))], check=True, timeout=120)
    assert pages["presenze.xlsx"] == len(TAVOLO_NAMES) == pages["presenze.pdf"]
    assert pages["aderenti.xlsx"] == 1 + len(TAVOLO_NAMES) + 1  # each sheet one page wide
    csv_file = tmp_path / "aderenti-excel.csv"
    run(desk, capsys, "adherents", "--excel", "--output", str(csv_file))
    book = _soffice(tmp_path, csv_file, "xlsx", "CSV:59,34,76,1,,1040")
    ws = load_workbook(book, data_only=True).active
    assert ws is not None
    source = list(csv.reader(io.StringIO(csv_file.read_text("utf-8-sig")), delimiter=";"))
    header = source[0]
    cf, date = header.index("Codice fiscale") + 1, header.index("Ricevuta il") + 1
    for row, expected in zip(ws.iter_rows(min_row=2), source[1:], strict=True):
        if expected[cf - 1]:
            assert row[cf - 1].value == expected[cf - 1][2:-1]  # text, leading zeros kept
        day, month = int(expected[date - 1][:2]), int(expected[date - 1][3:5])
        assert isinstance(row[date - 1].value, datetime)
        assert (row[date - 1].value.day, row[date - 1].value.month) == (day, month)
