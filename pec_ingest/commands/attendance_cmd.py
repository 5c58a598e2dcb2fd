"""``pec-ingest attendance``: attendance lists to convene the tables (one per table), with
the organisation, its representative, whom to contact, e-mail, PEC, phone and a column to sign.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

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
from pec_ingest.export import TAVOLO_NAMES, to_table
from store.reports import current_submissions


def add_parser(sub: Any) -> None:
    p = sub.add_parser("attendance", help="fogli presenze per la convocazione dei tavoli")
    p.add_argument("--tavolo", choices=tuple(TAVOLO_NAMES),
                   help="un tavolo (obbligatorio per csv; senza: tutti)")
    p.add_argument("--format", choices=("table", "csv", "xlsx"), default="table")
    p.add_argument("--output", type=Path, help="scrive su file invece che a video")
    add_separator_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.format == "xlsx" and args.output is None:
        print("pec-ingest: il formato xlsx richiede --output FILE", file=sys.stderr)
        return 2
    if args.format == "csv" and args.tavolo is None:
        print("pec-ingest: il formato csv richiede --tavolo CODICE (un file per tavolo)",
              file=sys.stderr)
        return 2
    codes = [args.tavolo] if args.tavolo else list(TAVOLO_NAMES)
    db = open_database(config)
    try:
        with db.sessions() as session:
            subs = current_submissions(session)
            tables = {code: attendance_rows(subs, code) for code in codes}
    finally:
        db.close()
    write(tables, args.format, args.output, separator(args))
    return 0


def write(tables: dict[str, list[dict[str, Any]]], fmt: str, output: Path | None,
          delimiter: str) -> None:
    count = sum(len(rows) for rows in tables.values())
    if fmt == "xlsx":
        assert output is not None
        output.write_bytes(attendance_xlsx(tables))
    elif fmt == "csv":
        text = attendance_csv(next(iter(tables.values())), delimiter)
        if output is None:
            sys.stdout.write(text.removeprefix("\ufeff"))
            return
        output.write_text(text, encoding="utf-8", newline="")
    else:
        blocks = [f"{TAVOLO_NAMES[code]} ({len(rows)} enti)\n" + to_table(
            rows, [c for c in COLUMNS if c != "firma"], HEADINGS)
            for code, rows in tables.items()]
        text = "\n\n".join(blocks) + "\n"
        if output is None:
            sys.stdout.write(text)
            return
        output.write_text(text, encoding="utf-8")
    print(f"{count} righe scritte in {output}", file=sys.stderr)
