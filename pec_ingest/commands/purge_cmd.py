"""``pec-ingest purge --before DATE [--dry-run]``: retention of personal data.

Removes the archived raw messages received before DATE (closed procedures only) and blanks
the personal data they carried in the database, keeping the non-personal figures; see
:mod:`pec_ingest.desk.purge`. ``--dry-run`` prints the same list and changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from pec_ingest.config import Config, load_config
from pec_ingest.database import open_database
from pec_ingest.desk.errors import DeskError
from pec_ingest.desk.purge import PurgePlan, execute_purge, plan_purge, remove_files
from pec_ingest.desk.staff import actor, parse_day, start_of_day
from pec_ingest.wording import OUTCOME_LABELS, word
from store.archive import Archive
from store.base import utcnow
from store.reports import stats


def add_parser(sub: Any) -> None:
    p = sub.add_parser("purge", help="cancella i messaggi originali e i dati personali delle "
                                     "procedure chiuse (restano i conteggi)")
    p.add_argument("--before", required=True, metavar="DATA",
                   help="messaggi ricevuti prima di questa data (AAAA-MM-GG o GG/MM/AAAA)")
    p.add_argument("--dry-run", action="store_true", help="mostra cosa verrebbe cancellato")
    p.add_argument("--yes", action="store_true", help="non chiede conferma")
    p.add_argument("--by", metavar="NOME", help="chi agisce (default: l'utente del sistema)")
    p.set_defaults(func=run)


def open_procedure(config: Config, now: datetime | None = None) -> str | None:
    """The configured procedure's code while it is open (no closing date, or not yet past)."""
    closing = config.closing
    if closing is not None and closing < (now or utcnow()):
        return None
    return config.procedure.code


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    before = start_of_day(parse_day(args.before), config.zone)
    who = actor(args.by)
    archive = Archive(config.archive_dir)
    db = open_database(config)
    still_open = open_procedure(config)
    try:
        with db.sessions() as session:  # short: no transaction waits for the operator
            plan = plan_purge(session, archive, before, open_procedure=still_open)
        print("\n".join(describe(plan, config)))
        if args.dry_run or not plan.items:
            return 0
        if not _confirmed(args.yes):
            print("Nulla è stato cancellato.")
            return 1
        with db.sessions() as session, session.begin():
            again = plan_purge(session, archive, before, open_procedure=still_open)
            if [i.message_id for i in again.items] != [i.message_id for i in plan.items]:
                raise DeskError("l'elenco è cambiato nel frattempo: ripetere il comando")
            entry_id = execute_purge(session, archive, plan, actor=who,
                                     figures=stats(session)).id
        remove_files(archive, plan)  # after the commit: never lose evidence on a failure
    finally:
        db.close()
    print(f"Cancellazione eseguita da {who} (registro n. {entry_id}): {len(plan.items)} "
          f"messaggi, {len(plan.files)} file originali rimossi.")
    return 0


def _confirmed(yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        print("Senza un terminale serve --yes per confermare la cancellazione.")
        return False
    return input("Confermi? [s/N] ").strip().lower() in ("s", "si", "sì")


def describe(plan: PurgePlan, config: Config) -> list[str]:
    zone = config.zone
    head = (f"Messaggi ricevuti prima del {plan.before:%d/%m/%Y}: {len(plan.items)} da "
            f"cancellare, {len(plan.files)} file originali nell'archivio.")
    lines = [head]
    for i in plan.items:
        where = i.archive_path if i.archived else \
            f"{i.archive_path} (non presente in questo archivio)"
        lines.append(f"  M{i.message_id:<6} {i.when.astimezone(zone):%d/%m/%Y} "
                     f"{word(OUTCOME_LABELS, i.outcome):<22}"
                     f" {i.registration_number or '-':<14} {where}")
    if plan.kept_open:
        lines.append(f"Conservati {plan.kept_open} messaggi della procedura ancora aperta "
                     f"({config.procedure.code}): indicare una data di chiusura "
                     "(procedure.closing) per poterli cancellare.")
    return lines
