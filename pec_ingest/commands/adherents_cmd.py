"""``pec-ingest adherents``: the current submission of each organisation, one row each.

Rejected submissions (``review reject``) are left out unless ``--include-rejected``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from parsers.vocabulary import NATURA_CODES
from pec_ingest import export
from pec_ingest.commands import output
from pec_ingest.config import load_config
from pec_ingest.database import open_database
from pec_ingest.desk.staff import parse_day, start_of_day
from store.reports import current_submissions

FORMATS = ("table", "csv", "json", "xlsx")


def add_separator_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--separator", choices=tuple(export.SEPARATORS), default=",",
                       help="separatore dei campi CSV (default ',')")
    group.add_argument("--excel", action="store_true",
                       help="CSV per Excel in italiano: separatore ';', intestazioni e date in "
                            "italiano, codici e telefoni come testo")


def separator(args: argparse.Namespace) -> str:
    return ";" if args.excel else export.SEPARATORS[args.separator]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("adherents", help="elenco degli aderenti (domanda attuale di ogni ente)")
    p.add_argument("--tavolo", choices=tuple(export.TAVOLO_NAMES), help="solo un tavolo")
    p.add_argument("--late", action="store_true", help="solo le adesioni in ritardo")
    p.add_argument("--status", choices=("complete", "incomplete", "needs_review"),
                   help="solo questo stato: complete (completa), incomplete (incompleta), "
                        "needs_review (da verificare)")
    p.add_argument("--since", metavar="DATA",
                   help="ricevute da questa data (AAAA-MM-GG o GG/MM/AAAA)")
    p.add_argument("--comune", help="solo gli enti con sede in questo comune")
    p.add_argument("--natura", choices=NATURA_CODES, help="solo questa natura giuridica")
    p.add_argument("--include-rejected", action="store_true",
                   help="anche le domande respinte in revisione")
    p.add_argument("--format", choices=FORMATS,
                   help="formato (default: dall'estensione di --output, altrimenti tabella)")
    p.add_argument("--output", type=Path, metavar="FILE",
                   help="scrive su file (.xlsx, .csv, .json, .txt) invece che a video")
    add_separator_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    fmt = output.choose_format(args.format, args.output, FORMATS)
    since = start_of_day(parse_day(args.since), config.zone) if args.since else None
    db = open_database(config)
    try:
        with db.sessions() as session:
            subs = current_submissions(session, tavolo=args.tavolo,
                                       late=True if args.late else None, status=args.status,
                                       comune=args.comune, natura_giuridica=args.natura)
            rows = [export.adherent_row(s, config.zone) for s in subs
                    if (since is None or s.received_at >= since)
                    and (args.include_rejected or s.review_state != "rejected")]
    finally:
        db.close()
    write(rows, fmt, args.output, separator(args), args.excel)
    return 0


def write(rows: list[dict[str, Any]], fmt: str, out: Path | None,
          delimiter: str = ",", excel: bool = False) -> None:
    done = f"{len(rows)} aderenti scritti in {out}"
    if fmt == "xlsx":
        assert out is not None
        output.write_private(out, export.to_xlsx(rows))
        print(done, file=sys.stderr)
        return
    if fmt == "csv":
        text = export.to_csv(rows, delimiter, excel=excel)
    else:
        text = {"json": export.to_json, "table": export.to_table}[fmt](rows)
    output.emit(text, out, done)
