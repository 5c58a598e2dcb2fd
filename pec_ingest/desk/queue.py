"""The review queue as staff read it: one item per submission (or message without one) with
open reasons, oldest first, each reason in plain Italian.

Items are named as staff type them in the commands: a submission by its registration number
(``PDZ2019-0007``) or id, a message that yielded no submission as ``M<id>`` (``M12``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pec_ingest.errors import NotFound
from store.model import Message, ReviewReason, Submission
from store.review import review_queue

REASON_LABELS = {
    "missing_field": "dati mancanti o non validi",
    "invalid_field": "dato non valido",
    "unreadable": "documento illeggibile o da verificare a mano",
    "scan": "scansione senza testo",
    "unsigned_no_id": "non firmato e senza documento d'identità",
    "pec_mismatch": "PEC dichiarata diversa dal mittente certificato",
    "signer_mismatch": "firmato da persona diversa dal legale rappresentante",
    "signature_invalid": "firma digitale non valida",
    "parser_timeout": "lettura del documento interrotta (tempo scaduto)",
    "parser_failed": "lettura del documento non riuscita",
    "ack_failed": "ricevuta all'ente non consegnata",
    "late": "arrivata dopo la scadenza",
    "out_of_procedure": "arrivata dopo la chiusura della procedura",
    "contradiction": "dati contraddittori",
    "unsupported_format": "formato del documento non supportato",
    "no_form": "nessun modulo allegato",
    "organisation_conflict": "dubbio sull'identità dell'ente",
    "quarantined": "messaggio messo da parte dopo errori ripetuti",
    "not_certified": "messaggio non certificato (anomalia o posta ordinaria)",
    "envelope_signature": "firma del gestore PEC non valida",
    "no_legal_time": "manca la data legale di ricezione",
    "other": "altro",
}
_MESSAGE_ID = re.compile(r"^[Mm](\d+)$")


@dataclass
class QueueItem:
    """A submission or a message with its open reasons."""

    ident: str
    since: datetime
    title: str
    reasons: list[ReviewReason] = field(default_factory=list)
    submission: Submission | None = None
    message: Message | None = None


def label(code: str) -> str:
    """The plain-Italian name of a reason code."""
    return REASON_LABELS.get(code, code)


def reason_text(code: str, detail: str | None) -> str:
    """What staff read for a reason: its plain name, then its detail with the parts said twice
    (or already said by the name) said once."""
    parts: list[str] = []
    for part in (detail or "").split("; "):
        part = part.strip()
        if part and not any(part in seen for seen in parts):
            parts = [p for p in parts if p not in part] + [part]
    name = label(code)
    parts = [p for p in parts if p.casefold() != name.casefold()]
    return f"{name}: {'; '.join(parts)}" if parts else name


def build_queue(session: Session) -> list[QueueItem]:
    """Open reasons grouped by what they are about, oldest first."""
    items: dict[tuple[str, int], QueueItem] = {}
    for reason in review_queue(session):
        if reason.submission is not None:
            sub = reason.submission
            key = ("s", sub.id)
            if key not in items:
                items[key] = QueueItem(sub.registration_number, reason.created_at,
                                       sub.denominazione or "(ente senza denominazione)",
                                       submission=sub)
        else:
            msg = reason.message
            assert msg is not None
            key = ("m", msg.id)
            if key not in items:
                items[key] = QueueItem(f"M{msg.id}", reason.created_at,
                                       f"messaggio da {msg.sender or '?'}: "
                                       f"{msg.subject or '(senza oggetto)'}", message=msg)
        items[key].reasons.append(reason)
    return sorted(items.values(), key=lambda i: (i.since, i.ident))


def find_submission(session: Session, ident: str) -> Submission:
    """A submission by id or registration number."""
    ident = ident.strip()
    query = select(Submission)
    query = query.where(Submission.id == int(ident)) if ident.isdigit() else query.where(
        Submission.registration_number == ident.upper())
    found = session.scalars(query).one_or_none()
    if found is None:
        raise NotFound(f"nessuna domanda con id o numero {ident!r}")
    return found


def find_target(session: Session, ident: str) -> Submission | Message:
    """A submission (id or registration number) or a message (``M<id>``)."""
    match = _MESSAGE_ID.match(ident.strip())
    if match is None:
        return find_submission(session, ident)
    message = session.get(Message, int(match.group(1)))
    if message is None:
        raise NotFound(f"nessun messaggio con id {match.group(1)}")
    return message
