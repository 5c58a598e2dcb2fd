"""``pec-ingest ingest PATH...``: .eml files or Maildir folders, through the pipeline.

Files are read in groups (up to :data:`GROUP_BYTES`); each group is written in legal-receipt
time order, like a poll, so registration numbers follow the receipt time. A path with no
message in it, an empty file or a file that is not a mail message is reported, not recorded;
the exit code is then 2 (unreadable input), after every other file has been ingested.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pec_ingest.config import load_config
from pec_ingest.database import open_database
from pec_ingest.pipeline import Outcome, Pipeline, Prepared, Source, registration_order
from pec_ingest.sheets import printable
from pec_ingest.wording import OUTCOME_LABELS

GROUP_BYTES = 64 * 1024 * 1024
# a mail message starts with a header field ("Name: value") or an mbox "From " line
_MAIL_START = re.compile(rb"^(?:[\x21-\x39\x3b-\x7e]+:|From )")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("ingest", help="registra messaggi da file .eml o cartelle Maildir")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                   help="file .eml, cartelle che li contengono, cartelle Maildir")
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


def not_a_message(raw: bytes) -> str | None:
    """Why ``raw`` is not a mail message, or None."""
    if not raw.strip():
        return "file vuoto"
    if not _MAIL_START.match(raw.lstrip(b"\r\n")[:1000]):
        return "non è un messaggio di posta (mancano le intestazioni)"
    return None


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
            files = list(message_files(root))
            if not files:
                print(f"pec-ingest: nessun messaggio (.eml o Maildir) in {root}", file=sys.stderr)
                counts["nessun messaggio"] += 1
            _ingest(pipeline, files, counts)
    db.close()
    shown = {k: v for k, v in counts.items() if k != "nessun messaggio"}
    print("totale: " + (", ".join(f"{OUTCOME_LABELS.get(k, k)} {v}"
                                  for k, v in sorted(shown.items())) or "nessun messaggio"))
    if counts.get("failed") or counts.get("quarantined"):
        return 1
    return 2 if counts.get("non letto") or counts.get("nessun messaggio") else 0


def _ingest(pipeline: Pipeline, files: list[Path], counts: Counter[str]) -> None:
    """Prepare the files in groups; write each group in legal-time order."""
    group: list[tuple[Path, Prepared]] = []
    size = 0
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            _report(path, "non letto", f"impossibile leggere il file: {exc.strerror}", counts)
            continue
        why = not_a_message(raw)
        if why is not None:
            _report(path, "non letto", why, counts)
            continue
        step = pipeline.prepare(raw, Source("file", path=str(path)))
        if isinstance(step, Outcome):
            _print(path, step, counts)
            continue
        group.append((path, step))
        size += len(raw)
        if size > GROUP_BYTES:
            _flush(pipeline, group, counts)
            group, size = [], 0
    _flush(pipeline, group, counts)


def _flush(pipeline: Pipeline, group: list[tuple[Path, Prepared]], counts: Counter[str]) -> None:
    order = sorted(range(len(group)), key=lambda i: registration_order(group[i][1], i))
    for i in order:
        path, prepared = group[i]
        _print(path, pipeline.commit(prepared), counts)


def _report(path: Path, key: str, why: str, counts: Counter[str]) -> None:
    counts[key] += 1
    print(printable(f"{path}: {key} - {why}"))


def _print(path: Path, outcome: Outcome, counts: Counter[str]) -> None:
    counts[outcome.outcome] += 1
    extra = f" {outcome.registration_number}" if outcome.registration_number else ""
    late = " (in ritardo)" if outcome.late else ""
    print(printable(f"{path}: {OUTCOME_LABELS.get(outcome.outcome, outcome.outcome)}{extra}"
                    f"{late} - {outcome.reason}"))
