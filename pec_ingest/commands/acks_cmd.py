"""``pec-ingest acks``: the acknowledgements sent to the organisations, and what became of them.

* ``acks [--status S] [--format table|json]``: every acknowledgement with its state;
* ``acks resend ID``: a failed or stuck one goes back to the outbox with a new Message-ID;
* ``acks send ID``: queue an updated acknowledgement for a submission (id or registration
  number), e.g. after staff corrected its data: a new row, the old ones stay.
"""

from __future__ import annotations

import argparse
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pec_ingest.ack.policy import new_message_id, own_addresses, queue_acknowledgement
from pec_ingest.config import Config, load_config
from pec_ingest.database import open_database
from pec_ingest.desk.errors import UsageError
from pec_ingest.desk.queue import find_submission
from pec_ingest.desk.staff import actor
from pec_ingest.errors import NotFound, PecIngestError
from pec_ingest.sheets import printable
from pec_ingest.wording import ACK_LABELS, word
from store.acknowledgements import list_acknowledgements
from store.audit import record_action
from store.base import ACK_STATUSES
from store.model import Acknowledgement

log = logging.getLogger(__name__)
RESENDABLE = ("failed", "sending", "pending")
KEYS = ("id", "registration_number", "to", "message_id", "status", "attempts", "sent_at",
        "accepted_at", "delivered_at", "next_attempt_at", "error", "created_at",
        "submission_id")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("acks", help="ricevute inviate agli enti (PEC di risposta) e loro stato")
    p.add_argument("--status", choices=ACK_STATUSES, help="solo le ricevute in questo stato")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=run, acks_action="list")
    actions = p.add_subparsers(dest="acks_action", metavar="AZIONE")
    resend = actions.add_parser("resend", help="rimette in coda una ricevuta fallita o bloccata "
                                               "(nuovo Message-ID)")
    resend.add_argument("id", type=int, help="id della ricevuta (colonna id di «acks»)")
    resend.add_argument("--by", help="chi agisce (default: l'utente del sistema)")
    send = actions.add_parser("send", help="accoda una nuova ricevuta per una domanda (dopo "
                                           "una correzione)")
    send.add_argument("id", help="id della domanda o numero come PDZ2019-0007")
    send.add_argument("--by", help="chi agisce (default: l'utente del sistema)")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    db = open_database(config)
    try:
        if args.acks_action == "resend":
            print(resend(config, db.sessions, args.id, actor(args.by)))
        elif args.acks_action == "send":
            print(send(config, db.sessions, args.id, actor(args.by)))
        else:
            with db.sessions() as session:
                rows = [ack_row(a) for a in list_acknowledgements(session, status=args.status)]
            print(to_json(rows) if args.format == "json" else
                  printable(to_table(rows, config.zone)))
    finally:
        db.close()
    return 0


def ack_row(ack: Acknowledgement) -> dict[str, Any]:
    return {
        "id": ack.id, "registration_number": ack.submission.registration_number,
        "to": ack.to_address, "message_id": ack.message_id, "status": ack.status,
        "attempts": ack.attempts, "sent_at": ack.sent_at, "accepted_at": ack.accepted_at,
        "delivered_at": ack.delivered_at, "next_attempt_at": ack.next_attempt_at,
        "error": ack.error, "created_at": ack.created_at, "submission_id": ack.submission_id,
    }


def to_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps([{k: (v.isoformat() if isinstance(v, datetime) else v)
                        for k, v in r.items()} for r in rows], ensure_ascii=False, indent=2)


def to_table(rows: list[dict[str, Any]], zone: ZoneInfo) -> str:
    def when(value: datetime | None) -> str:
        return f"{value.astimezone(zone):%d/%m/%Y %H:%M}" if value else "-"

    lines = [f"{'id':>5}  {'domanda':<14} {'stato':<22} {'inviata':<16} {'consegnata':<16} "
             "destinatario / errore"]
    for r in rows:
        lines.append(f"{r['id']:>5}  {r['registration_number']:<14} "
                     f"{word(ACK_LABELS, r['status']):<22} "
                     f"{when(r['sent_at']):<16} {when(r['delivered_at']):<16} {r['to']}")
        if r["error"]:
            lines.append(f"{'':>7}{r['error']}")
    if not rows:
        lines.append("(nessuna ricevuta)")
    return "\n".join(lines)


def resend(config: Config, sessions: Any, ack_id: int, by: str) -> str:
    """Back to pending with a new Message-ID; the old one is kept in the audit log.

    A reply still "sending" may already be with the provider: it is resent only after the
    grace period without an acceptance receipt (the same rule as the outbox's).
    """
    with sessions() as session, session.begin():
        ack = session.get(Acknowledgement, ack_id)
        if ack is None:
            raise NotFound(f"nessuna ricevuta con id {ack_id}")
        if ack.status not in RESENDABLE:
            raise PecIngestError(f"la ricevuta {ack_id} è «{ack.status}»: si rimanda solo una "
                                 "ricevuta fallita o bloccata (per una nuova ricevuta: "
                                 f"pec-ingest acks send {ack.submission.registration_number})")
        grace = timedelta(minutes=config.acknowledgements.sending_grace_minutes)
        since = ack.sent_at or ack.next_attempt_at or ack.created_at
        if ack.status == "sending" and since is not None and datetime.now(UTC) - since < grace:
            raise PecIngestError(f"la ricevuta {ack_id} è in invio da meno di "
                                 f"{config.acknowledgements.sending_grace_minutes} minuti: "
                                 "potrebbe essere già partita; attendere la ricevuta di "
                                 "accettazione")
        old_id, old_status = ack.message_id, ack.status
        ack.message_id = new_message_id(config, ack.submission.registration_number)
        ack.status, ack.attempts, ack.next_attempt_at, ack.error = "pending", 0, None, None
        ack.sent_at = ack.accepted_at = ack.delivered_at = None
        record_action(session, by, "ack_resend", submission_id=ack.submission_id,
                      before={"status": old_status, "message_id": old_id},
                      after={"status": "pending", "message_id": ack.message_id},
                      note=f"ricevuta {ack.id} a {ack.to_address}")
        log.warning("audit: ack=%s resend requested by %s: status %s -> pending, "
                    "message_id %s -> %s", ack.id, by, old_status, old_id, ack.message_id)
        return f"ricevuta {ack.id} rimessa in coda per {ack.to_address} ({ack.message_id})"


def send(config: Config, sessions: Any, ident: str, by: str) -> str:
    """A new acknowledgement of the submission, to its certified sender."""
    with sessions() as session, session.begin():
        sub = find_submission(session, ident)
        if sub.review_state == "rejected":
            raise UsageError(f"la domanda {sub.registration_number} è stata respinta in "
                             "revisione: nessuna ricevuta di registrazione da inviare (per "
                             "riammetterla: pec-ingest review accept "
                             f"{sub.registration_number})")
        sender = (sub.message.sender or "").strip().lower()
        if "@" not in sender or sender in own_addresses(config) or \
                sender.startswith("posta-certificata@"):
            raise PecIngestError(f"la domanda {sub.registration_number} non ha un mittente "
                                 f"certificato a cui rispondere ({sender or '-'})")
        ack = queue_acknowledgement(session, config, sub, sender)
        record_action(session, by, "ack_send", submission_id=sub.id,
                      after={"message_id": ack.message_id, "to": sender},
                      note=f"ricevuta aggiornata {ack.id}")
        log.warning("audit: ack=%s queued by %s for %s message_id=%s", ack.id, by,
                    sub.registration_number, ack.message_id)
        return (f"ricevuta {ack.id} accodata per la domanda {sub.registration_number} "
                f"a {sender} ({ack.message_id})")
