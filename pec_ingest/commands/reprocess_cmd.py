"""``pec-ingest reprocess ID``: read a submission's archived message again with the current
parser; the fields staff corrected are kept and win over the parser."""

from __future__ import annotations

import argparse
from typing import Any

from pec_ingest.commands.output import say
from pec_ingest.config import Config, load_config
from pec_ingest.database import open_database
from pec_ingest.desk.attachments import read_original
from pec_ingest.desk.queue import find_submission
from pec_ingest.desk.reprocess import ParseFn, Reprocessed, apply_reading, read_form
from pec_ingest.desk.staff import actor
from pec_ingest.isolation import ParserPool
from pec_ingest.wording import STATUS_LABELS
from store.archive import Archive


def add_parser(sub: Any) -> None:
    p = sub.add_parser("reprocess", help="rilegge una domanda dal messaggio archiviato "
                                         "(le correzioni del personale restano)")
    p.add_argument("id", help="id della domanda o numero come PDZ2019-0007")
    p.add_argument("--by", metavar="NOME", help="chi agisce (default: l'utente del sistema)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    who = actor(args.by)
    p = config.parser
    with ParserPool(config.vocabulary, config.limits, timeout=p.timeout_seconds,
                    memory_mb=p.memory_limit_mb, size=1) as pool:
        number, done = run_with(config, args.id, who, pool.parse_many)
    say(report(number, done))
    return 0


def run_with(config: Config, ident: str, who: str, parse: ParseFn) -> tuple[str, Reprocessed]:
    """Read the archive and parse with no transaction open (the daemon keeps writing), then
    apply, audit and commit in one short transaction."""
    db = open_database(config)
    try:
        with db.sessions() as session:
            message = find_submission(session, ident).message
            raw = read_original(session, Archive(config.archive_dir), message)
        envelope, chosen = read_form(raw, config, parse)
        with db.sessions() as session, session.begin():
            sub = find_submission(session, ident)
            return sub.registration_number, apply_reading(session, sub, envelope, chosen,
                                                          config=config, actor=who)
    finally:
        db.close()


def report(number: str, done: Reprocessed) -> list[str]:
    changed = [k for k in done.after if done.after[k] != done.before[k]]
    status = STATUS_LABELS.get(done.after["status"], done.after["status"])
    lines = [f"{number}: riletta con il lettore attuale; stato: {status}",
             "  cambiati: " + (", ".join(changed) or "nessun campo")]
    if done.kept:
        lines.append("  correzioni del personale mantenute: " + ", ".join(done.kept))
    if done.added:
        lines.append("  nuovi motivi da verificare: " + ", ".join(done.added))
    if done.resolved:
        lines.append(f"  motivi non più validi, chiusi: {done.resolved}")
    if changed:
        lines.append(f"Per inviare una ricevuta aggiornata: pec-ingest acks send {number}")
    return lines
