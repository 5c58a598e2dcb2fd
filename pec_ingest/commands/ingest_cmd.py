"""``pec-ingest ingest PATH...``: .eml files or Maildir folders, through the pipeline."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pec_ingest.config import load_config
from pec_ingest.database import open_database
from pec_ingest.pipeline import Pipeline, Source


def add_parser(sub: Any) -> None:
    p = sub.add_parser("ingest", help="registra messaggi da file .eml o cartelle Maildir")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.set_defaults(func=run)


def message_files(path: Path) -> Iterator[Path]:
    """The message files under ``path``: the file itself, a Maildir's cur/new, or a folder."""
    if path.is_file():
        yield path
        return
    if (path / "cur").is_dir() or (path / "new").is_dir():
        for sub in ("new", "cur"):
            if (path / sub).is_dir():
                yield from sorted(p for p in (path / sub).iterdir() if p.is_file())
        return
    yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".eml")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"pec-ingest: non trovato: {', '.join(missing)}", file=sys.stderr)
        return 2
    db = open_database(config)
    counts: Counter[str] = Counter()
    with Pipeline(config, db.sessions) as pipeline:
        for root in args.paths:
            for path in message_files(root):
                outcome = pipeline.ingest(path.read_bytes(), Source("file", path=str(path)))
                counts[outcome.outcome] += 1
                extra = f" {outcome.registration_number}" if outcome.registration_number else ""
                late = " (in ritardo)" if outcome.late else ""
                print(f"{path}: {outcome.outcome}{extra}{late} - {outcome.reason}")
    db.close()
    print("totale: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 1 if counts.get("failed") or counts.get("quarantined") else 0
