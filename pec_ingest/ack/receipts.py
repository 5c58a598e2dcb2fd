"""The PEC receipts that come back for our acknowledgements move them along.

A receipt is linked to an acknowledgement by the Message-ID it refers to (daticert ``msgid``,
else ``X-Riferimento-Message-ID``; see :func:`store.receipts.add_receipt`), never by subject.
Then, in the receipt's own transaction:

* ``accettazione``: pending/sending/sent -> ``accepted`` (this also settles a row left
  ``sending`` by a crash: the provider has it, it is not sent again);
* ``avvenuta-consegna``: -> ``delivered`` (from any state but delivered: it proves delivery);
* ``errore-consegna``, ``non-accettazione``, ``rilevazione-virus``: -> ``failed`` with the
  provider's reason, and a review reason ``ack_failed`` on the submission;
* ``preavviso-errore-consegna`` (a warning, delivery may still follow) and ``presa-in-carico``:
  recorded, status kept.

States never move backwards: a late ``accettazione`` after the ``consegna`` keeps
``delivered``; nothing overrides ``delivered``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.ack.outbox import flag_failure
from store.acknowledgements import unlinked_receipts
from store.base import utcnow
from store.model import Acknowledgement, Receipt
from store.receipts import find_acknowledgement

log = logging.getLogger(__name__)
FAILURES = frozenset({"errore-consegna", "non-accettazione", "rilevazione-virus"})
BEFORE_ACCEPTED = frozenset({"pending", "sending", "sent"})


def apply_receipt(session: Session, receipt: Receipt, now: datetime | None = None) -> None:
    """Move the receipt's acknowledgement along (no-op for an unmatched receipt)."""
    ack = receipt.acknowledgement
    if ack is None:
        return
    # FOR NO KEY UPDATE: the receipt row just inserted holds a KEY SHARE lock on the
    # acknowledgement (its foreign key); a plain FOR UPDATE would deadlock two receipts of
    # the same acknowledgement ingested at once (PostgreSQL; SQLite ignores it).
    session.refresh(ack, with_for_update={"key_share": True})
    when = receipt.legal_time or now or utcnow()
    before = ack.status
    if receipt.kind == "accettazione":
        _accepted(ack, when)
    elif receipt.kind == "avvenuta-consegna":
        _delivered(ack, when)
    elif receipt.kind in FAILURES:
        _failed(session, ack, receipt)
    elif receipt.kind == "preavviso-errore-consegna" and ack.status != "delivered":
        ack.error = f"preavviso di mancata consegna: {_reason(receipt)} (non definitivo)"
    log.info("ack=%s message_id=%s receipt=%s status=%s->%s", ack.id, ack.message_id,
             receipt.kind, before, ack.status)
    session.flush()


def _accepted(ack: Acknowledgement, when: datetime) -> None:
    if ack.accepted_at is None:
        ack.accepted_at = when
    if ack.sent_at is None:
        ack.sent_at = when
    if ack.status in BEFORE_ACCEPTED:
        ack.status, ack.next_attempt_at, ack.error = "accepted", None, None


def _delivered(ack: Acknowledgement, when: datetime) -> None:
    if ack.delivered_at is None:
        ack.delivered_at = when
    if ack.sent_at is None:
        ack.sent_at = when
    if ack.status != "delivered":
        if ack.status == "failed":
            log.warning("ack=%s: delivery receipt after a failure: now delivered", ack.id)
        ack.status, ack.next_attempt_at, ack.error = "delivered", None, None


def _failed(session: Session, ack: Acknowledgement, receipt: Receipt) -> None:
    if ack.status in ("delivered", "failed"):
        return
    ack.status, ack.next_attempt_at = "failed", None
    ack.error = f"{receipt.kind}: {_reason(receipt)}"
    flag_failure(session, ack, ack.error)


def _reason(receipt: Receipt) -> str:
    parts = [p for p in (receipt.errore, receipt.errore_esteso) if p and p != "nessuno"]
    return " - ".join(parts) or "motivo non indicato dal gestore"


def reconcile(sessions: sessionmaker[Session], now: datetime | None = None) -> int:
    """Link and apply receipts recorded before their acknowledgement could be matched
    (normally none: receipts are applied when recorded). Returns how many."""
    with sessions() as session, session.begin():
        receipts = unlinked_receipts(session)
        for receipt in receipts:
            receipt.acknowledgement = find_acknowledgement(session,
                                                           receipt.referenced_message_id)
            apply_receipt(session, receipt, now)
        return len(receipts)
