"""``pec-ingest adherents``: the current submission of each organisation, one row each."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pec_ingest import export
from pec_ingest.config import load_config
from pec_ingest.database import open_database
from store.reports import current_submissions

FORMATS = ("table", "csv", "json", "xlsx")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("adherents", help="elenco degli aderenti (domanda attuale di ogni ente)")
    p.add_argument("--tavolo", choices=tuple(export.TAVOLO_NAMES), help="solo un tavolo")
    p.add_argument("--late", action="store_true", help="solo le adesioni in ritardo")
    p.add_argument("--status", choices=("complete", "incomplete", "needs_review"))
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--output", type=Path, help="scrive su file invece che a video")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.format == "xlsx" and args.output is None:
        print("pec-ingest: il formato xlsx richiede --output FILE", file=sys.stderr)
        return 2
    db = open_database(config)
    try:
        with db.sessions() as session:
            subs = current_submissions(session, tavolo=args.tavolo,
                                       late=True if args.late else None, status=args.status)
            rows = [export.adherent_row(s, config.zone) for s in subs]
    finally:
        db.close()
    write(rows, args.format, args.output)
    return 0


def write(rows: list[dict[str, Any]], fmt: str, output: Path | None) -> None:
    if fmt == "xlsx":
        assert output is not None
        output.write_bytes(export.to_xlsx(rows))
        print(f"{len(rows)} aderenti scritti in {output}", file=sys.stderr)
        return
    text = {"csv": export.to_csv, "json": export.to_json, "table": export.to_table}[fmt](rows)
    if output is not None:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        print(f"{len(rows)} aderenti scritti in {output}", file=sys.stderr)
    else:
        sys.stdout.write(text.removeprefix("\ufeff") if fmt == "csv" else text)
        sys.stdout.write("\n")
