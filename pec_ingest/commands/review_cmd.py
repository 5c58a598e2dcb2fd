"""``pec-ingest review``: what needs a person, and the staff's corrections and decisions.

::

    pec-ingest review [--format table|json]          the queue, oldest first
    pec-ingest review show ID [--save DIR]           one submission (or message M<id>)
    pec-ingest review set ID FIELD VALUE [--by NAME] correct one field (validated)
    pec-ingest review tavoli ID SPEC [--by NAME]     famiglia,poverta or autonomie:1,poverta:2
    pec-ingest review accept ID [--note TEXT] [--by NAME]
    pec-ingest review reject ID --reason TEXT [--by NAME]

Every change is one transaction and one audit entry; a refused value changes nothing and
exits with 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from pec_ingest.commands.output import say
from pec_ingest.config import Config, load_config
from pec_ingest.database import open_database
from pec_ingest.desk import corrections, render
from pec_ingest.desk.attachments import read_original, save_all
from pec_ingest.desk.errors import CorrectionRefused, DeskError
from pec_ingest.desk.fields import FIELDS
from pec_ingest.desk.queue import build_queue, find_submission, find_target
from pec_ingest.desk.reading_view import save_crops
from pec_ingest.desk.staff import actor
from store.archive import Archive
from store.model import Message, Submission

ACK_HINT = "Per inviare una ricevuta aggiornata: pec-ingest acks send {ident}"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("review", help="domande da verificare; correzioni e decisioni")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=run_queue)
    actions = p.add_subparsers(dest="action", metavar="AZIONE")
    show = actions.add_parser("show", help="una domanda (o un messaggio M<id>) da verificare")
    show.add_argument("id")
    show.add_argument("--save", type=Path, metavar="CARTELLA",
                      help="scrive gli allegati originali nella cartella")
    show.set_defaults(func=run_show)
    correct = actions.add_parser("set", help="corregge un campo (validato come dal lettore)")
    correct.add_argument("id")
    correct.add_argument("field", choices=FIELDS, metavar="CAMPO")
    correct.add_argument("value", metavar="VALORE", help="'' svuota il campo")
    correct.set_defaults(func=run_set)
    tavoli = actions.add_parser("tavoli", help="sostituisce i tavoli scelti")
    tavoli.add_argument("id")
    tavoli.add_argument("spec", metavar="TAVOLI",
                        help="famiglia,poverta oppure con preferenza autonomie:1,poverta:2")
    tavoli.set_defaults(func=run_tavoli)
    accept = actions.add_parser("accept", help="accetta: chiude i motivi aperti")
    accept.add_argument("id")
    accept.add_argument("--note", help="annotazione facoltativa")
    accept.set_defaults(func=run_decision, decision="accept")
    reject = actions.add_parser("reject", help="respinge, con il motivo")
    reject.add_argument("id")
    reject.add_argument("--reason", required=True, help="motivo (obbligatorio)")
    reject.set_defaults(func=run_decision, decision="reject")
    for action in (correct, tavoli, accept, reject):
        action.add_argument("--by", metavar="NOME",
                            help="chi agisce (default: l'utente del sistema)")


def run_queue(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    db = open_database(config)
    try:
        with db.sessions() as session:
            items = build_queue(session)
            if args.format == "json":
                print(json.dumps([render.queue_json(i) for i in items], ensure_ascii=False,
                                 indent=2))
            else:
                say(render.queue_lines(items, config.zone))
    finally:
        db.close()
    return 0


def run_show(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    db = open_database(config)
    try:
        with db.sessions() as session:
            target = find_target(session, args.id)
            say(render.target_lines(session, target, config.zone))
            if args.save is not None:
                _save(session, config, target, args.save)
                if isinstance(target, Submission):  # the OCR suggestions' crops (scans)
                    crops = save_crops(session, target, args.save)
                    print("\n".join(f"  {p} (ritaglio OCR)" for p in crops))
    finally:
        db.close()
    return 0


def _save(session: Session, config: Config, target: Submission | Message, folder: Path) -> None:
    message = target.message if isinstance(target, Submission) else target
    raw = read_original(session, Archive(config.archive_dir), message)
    saved = save_all(raw, folder, config.limits)
    print(f"\n{len(saved.written)} allegati scritti in {folder}:")
    say([f"  {p}" for p in saved.written])
    if saved.failed:
        say([f"  NON scritto: {name} ({why})" for name, why in saved.failed])
        raise DeskError(f"{len(saved.failed)} allegati non scritti (gli altri sì)")


def run_set(args: argparse.Namespace) -> int:
    return _change(args, lambda session, sub, config, who: corrections.set_field(
        session, sub, args.field, args.value, actor=who, vocabulary=config.vocabulary))


def run_tavoli(args: argparse.Namespace) -> int:
    return _change(args, lambda session, sub, config, who: corrections.set_tavoli(
        session, sub, args.spec, actor=who))


def _change(args: argparse.Namespace, apply: Any) -> int:
    config = load_config(args.config)
    who = actor(args.by)
    db = open_database(config)
    try:
        with db.sessions() as session, session.begin():
            sub = find_submission(session, args.id)
            change = apply(session, sub, config, who)
            number = sub.registration_number
    except CorrectionRefused as exc:
        print(f"pec-ingest: correzione rifiutata, nulla è cambiato: {exc}", file=sys.stderr)
        return 2
    finally:
        db.close()
    say([render.change_line(number, change)])
    if change.notice:
        print(f"  nota: {change.notice}")
    print(f"Correzione registrata da {who}. " + ACK_HINT.format(ident=number))
    return 0


def run_decision(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    who = actor(args.by)
    db = open_database(config)
    try:
        with db.sessions() as session, session.begin():
            target = find_target(session, args.id)
            note = args.reason if args.decision == "reject" else args.note
            _, resolved = corrections.decide(session, target, args.decision, actor=who,
                                             note=note)
            ident = render.ident(target)
    finally:
        db.close()
    verb = "accettata" if args.decision == "accept" else "respinta"
    print(f"{ident}: {verb} da {who}; motivi chiusi: {resolved}")
    if args.decision == "accept" and not ident.startswith("M"):
        print(ACK_HINT.format(ident=ident))
    return 0
