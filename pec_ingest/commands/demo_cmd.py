"""``pec-ingest demo``: the real pipeline on a bundled sample mailbox, into embedded SQLite.

The sample messages are built by the project's own fixture code (``pec_ingest.samples``):
several organisations (DOCX, PDF, AcroForm, signed .p7m, a scan), one late, one resubmission,
receipts, an anomaly and unrelated mail. The demo never touches the configured database: it
writes to its own folder (``--dir``) and prints the per-table list of adherents.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pec_ingest import export
from pec_ingest.ack import make_transport, send_pending
from pec_ingest.config import DatabaseSection, StateSection, default_state_dir, load_config
from pec_ingest.database import open_database
from pec_ingest.pipeline import Outcome, Pipeline, Prepared, Source, registration_order
from pec_ingest.wording import OUTCOME_LABELS, word
from store.reports import current_submissions

DEMO_USER, DEMO_PASSWORD = "demo", "scrivania-demo"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("demo", help="dimostrazione su una casella PEC di esempio")
    p.add_argument("--dir", type=Path, default=None,
                   help="cartella del database e dell'archivio della demo "
                        "(default: <stato>/demo)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pec_ingest.samples.mailbox import sample_mailbox

    if not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)
    base = load_config(args.config)
    folder = (args.dir or default_state_dir() / "demo").resolve()
    acks = dataclasses.replace(base.acknowledgements, enabled=True, transport="file",
                               outbox_dir=str(folder / "outbox"), rate_per_minute=10_000)
    config = dataclasses.replace(base, state=StateSection(dir=folder),
                                 database=DatabaseSection(url=f"sqlite:///{folder / 'demo.db'}"),
                                 acknowledgements=acks)
    db = open_database(config, migrate=True)
    print(f"Demo: casella di esempio -> {folder / 'demo.db'}\n")
    counts: Counter[str] = Counter()
    with Pipeline(config, db.sessions) as pipeline:
        samples = sample_mailbox()
        steps = [pipeline.prepare(s.raw, Source("demo", path=s.name)) for s in samples]
        order = sorted(range(len(steps)), key=lambda i: _order(steps[i], i))
        for i in order:  # written in legal-time order, like a poll: numbers follow it
            step = steps[i]
            outcome = step if isinstance(step, Outcome) else pipeline.commit(step)
            counts[outcome.outcome] += 1
            number = f" {outcome.registration_number}" if outcome.registration_number else ""
            late = " in ritardo" if outcome.late else ""
            print(f"  {samples[i].name:<22} {word(OUTCOME_LABELS, outcome.outcome)}{number}"
                  f"{late}")
    print("\nEsiti: " + ", ".join(f"{word(OUTCOME_LABELS, k)} {v}"
                                  for k, v in sorted(counts.items())))
    report = send_pending(config, db.sessions, make_transport(config))
    print(f"Ricevute di avvenuta registrazione scritte in {folder / 'outbox'}: {report.sent}")
    with db.sessions() as session:
        for code, name in export.TAVOLO_NAMES.items():
            rows = [export.adherent_row(s, config.zone)
                    for s in current_submissions(session, tavolo=code)]
            print(f"\n{name} ({len(rows)} aderenti)")
            print(export.to_table(rows, ("registration_number", "received_at", "late",
                                         "denominazione", "comune", "status")))
    desk_hint = _desk_user(db)
    db.close()
    _closing_hint(folder)
    print(f"\nScrivania web sulla demo: STATE_DIRECTORY={folder} PEC_INGEST_DATABASE_URL="
          f"sqlite:///{folder / 'demo.db'} {_program()} desk --insecure-cookie\n"
          f"  poi aprire http://127.0.0.1:{base.desk.port}/ con {desk_hint}")
    return 0


def _desk_user(db: Any) -> str:
    """The demo's desk account (a fixed, documented password: demo data only)."""
    from pec_ingest.web.accounts import add_user
    from store.accounts import find_user

    with db.sessions() as session, session.begin():
        if find_user(session, DEMO_USER) is None:
            add_user(session, DEMO_USER, "responsabile", DEMO_PASSWORD)
    return f"utente «{DEMO_USER}», password «{DEMO_PASSWORD}»"


def _order(step: Outcome | Prepared, position: int) -> tuple[bool, datetime, int]:
    if isinstance(step, Outcome):  # nothing to write: its place does not matter
        return True, datetime.max.replace(tzinfo=UTC), position
    return registration_order(step, position)


def _program() -> str:
    """The virtual environment's pec-ingest (it is not on PATH), else ``python -m``."""
    program = Path(sys.executable).with_name("pec-ingest")
    return str(program) if program.exists() else f"{sys.executable} -m pec_ingest"


def _closing_hint(folder: Path) -> None:
    """Commands that work from the project folder: the virtual environment's pec-ingest."""
    command = _program()
    env = f"PEC_INGEST_DATABASE_URL=sqlite:///{folder / 'demo.db'}"
    print("\nPer esplorare i dati della demo (un comando per volta):")
    for args in ("adherents", "stats", "review", "show PDZ2019-0001",
                 "adherents --output aderenti.xlsx"):
        print(f"  {env} {command} {args}")
