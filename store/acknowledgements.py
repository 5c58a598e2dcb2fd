"""Queries of the acknowledgement outbox: what is due, how many went out lately, and claims.

The outbox's rules (states, backoff, grace period, receipts) live in ``pec_ingest.ack``; these
functions only read and write rows. Like every query function here they flush, never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from store.base import ACK_STATUSES
from store.errors import InvalidRecord
from store.model import Acknowledgement, Receipt, Submission


def due_acknowledgements(session: Session, now: datetime) -> list[Acknowledgement]:
    """Rows to send now, oldest first: pending ones whose time has come, and rows left
    ``sending`` whose grace period (kept in ``next_attempt_at``) has run out."""
    pending = and_(Acknowledgement.status == "pending",
                   or_(Acknowledgement.next_attempt_at.is_(None),
                       Acknowledgement.next_attempt_at <= now))
    stale = and_(Acknowledgement.status == "sending", Acknowledgement.next_attempt_at <= now)
    order = func.coalesce(Acknowledgement.next_attempt_at, Acknowledgement.created_at)
    return list(session.scalars(
        select(Acknowledgement).where(or_(pending, stale))
        .order_by(order, Acknowledgement.id)).all())


def count_sent_since(session: Session, since: datetime) -> int:
    """How many acknowledgements the SMTP server accepted at or after ``since``."""
    return session.scalar(select(func.count()).select_from(Acknowledgement)
                          .where(Acknowledgement.sent_at >= since)) or 0


def claim_acknowledgement(session: Session, ack_id: int, *, expected_status: str,
                          expected_attempts: int, until: datetime) -> bool:
    """Mark the row ``sending`` (one more attempt, settled by ``until``) if nobody else did.

    Optimistic: the update only applies when status and attempts are still what the caller
    read, so two senders never both own a row. Returns whether this caller owns it.
    """
    result = session.execute(
        update(Acknowledgement)
        .where(Acknowledgement.id == ack_id, Acknowledgement.status == expected_status,
               Acknowledgement.attempts == expected_attempts)
        .values(status="sending", attempts=Acknowledgement.attempts + 1, next_attempt_at=until)
        .execution_options(synchronize_session=False))
    session.flush()
    return bool(getattr(result, "rowcount", 0) == 1)


def lock_acknowledgement(session: Session, ack_id: int) -> Acknowledgement | None:
    """The row, freshly read and locked (``FOR NO KEY UPDATE``: it does not wait for, nor
    deadlock with, receipts being inserted that reference it; a no-op on SQLite)."""
    return session.scalars(
        select(Acknowledgement).where(Acknowledgement.id == ack_id)
        .with_for_update(key_share=True).execution_options(populate_existing=True)
    ).one_or_none()


def list_acknowledgements(session: Session, *,
                          status: str | None = None) -> list[Acknowledgement]:
    """Every acknowledgement (or those in one status), with its submission, oldest first."""
    if status is not None and status not in ACK_STATUSES:
        raise InvalidRecord(f"stato {status!r} non ammesso ({', '.join(ACK_STATUSES)})")
    query = select(Acknowledgement).options(
        joinedload(Acknowledgement.submission).joinedload(Submission.message)
    ).order_by(Acknowledgement.id)
    if status is not None:
        query = query.where(Acknowledgement.status == status)
    return list(session.scalars(query).unique().all())


def acknowledgements_of(session: Session, submission_id: int) -> list[Acknowledgement]:
    """The acknowledgements of one submission, oldest first."""
    return list(session.scalars(
        select(Acknowledgement).where(Acknowledgement.submission_id == submission_id)
        .order_by(Acknowledgement.id)).all())


def unlinked_receipts(session: Session) -> list[Receipt]:
    """Receipts not linked to an acknowledgement whose referenced Message-ID now matches one."""
    return list(session.scalars(
        select(Receipt).join(Acknowledgement,
                             Acknowledgement.message_id == Receipt.referenced_message_id)
        .where(Receipt.acknowledgement_id.is_(None)).order_by(Receipt.id)).all())
