"""``pec-ingest attendance``: attendance lists to convene the tables (one per table), with
the organisation, its representative, whom to contact, e-mail, PEC, phone and a column to sign.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pec_ingest.commands import output
from pec_ingest.commands.adherents_cmd import add_separator_options, separator
from pec_ingest.config import load_config
from pec_ingest.database import open_database
from pec_ingest.desk.attendance import (
    COLUMNS,
    HEADINGS,
    attendance_csv,
    attendance_rows,
    attendance_xlsx,
)
from pec_ingest.desk.attendance_pdf import attendance_pdf
from pec_ingest.desk.errors import UsageError
from pec_ingest.export import TAVOLO_NAMES, to_table
from store.reports import current_submissions

FORMATS = ("table", "csv", "xlsx", "pdf")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("attendance", help="fogli presenze per la convocazione dei tavoli")
    p.add_argument("--tavolo", choices=tuple(TAVOLO_NAMES),
                   help="un tavolo (obbligatorio per csv; senza: tutti)")
    p.add_argument("--format", choices=FORMATS,
                   help="formato (default: dall'estensione di --output, altrimenti tabella); "
                        "pdf: il foglio firme da stampare")
    p.add_argument("--output", type=Path, metavar="FILE",
                   help="scrive su file (.xlsx, .pdf, .csv, .txt) invece che a video")
    add_separator_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    fmt = output.choose_format(args.format, args.output, FORMATS)
    if fmt == "csv" and args.tavolo is None:
        raise UsageError("il formato csv richiede --tavolo CODICE (un file per tavolo)")
    codes = [args.tavolo] if args.tavolo else list(TAVOLO_NAMES)
    db = open_database(config)
    try:
        with db.sessions() as session:
            subs = current_submissions(session)
            tables = {code: attendance_rows(subs, code) for code in codes}
    finally:
        db.close()
    write(tables, fmt, args.output, separator(args), args.excel)
    return 0


def write(tables: dict[str, list[dict[str, Any]]], fmt: str, out: Path | None,
          delimiter: str, excel: bool = False) -> None:
    count = sum(len(rows) for rows in tables.values())
    done = f"{count} righe scritte in {out}"
    if fmt in ("xlsx", "pdf"):
        assert out is not None
        data = attendance_xlsx(tables) if fmt == "xlsx" else attendance_pdf(tables)
        output.write_private(out, data)
        print(done, file=sys.stderr)
        return
    if fmt == "csv":
        text = attendance_csv(next(iter(tables.values())), delimiter, excel)
    else:
        blocks = [f"{TAVOLO_NAMES[code]} ({len(rows)} enti)\n" + to_table(
            rows, [c for c in COLUMNS if c != "firma"], HEADINGS)
            for code, rows in tables.items()]
        text = "\n\n".join(blocks) + "\n"
    output.emit(text, out, done)
