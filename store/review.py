"""Review reasons: why a submission, or a message that yielded none, needs a person.

``detail`` is Italian text staff can act on ("il modulo non indica il codice fiscale
dell'ente: chiedere un nuovo invio via PEC"). A reason stays in the queue until resolved.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from store.base import REVIEW_CODES, utcnow
from store.errors import InvalidRecord
from store.model import Message, ReviewReason, Submission


def add_review_reason(session: Session, *, code: str, detail: str,
                      submission: Submission | None = None,
                      message: Message | None = None, flush: bool = True) -> ReviewReason:
    """Put a submission (or, when there is none, a message) in the review queue with a reason.

    A submission that was not under review becomes ``review_state = "pending"``.
    ``flush=False``: written with the next flush (several reasons at once).
    """
    if (submission is None) == (message is None):
        raise InvalidRecord("motivo di revisione: indicare la domanda oppure il messaggio")
    check_review_code(code)
    reason = ReviewReason(code=code, detail=detail, submission=submission, message=message)
    if submission is not None and submission.review_state == "none":
        submission.review_state = "pending"
    session.add(reason)
    if flush:
        session.flush()
    return reason


def check_review_code(code: str) -> None:
    """Refuse a review code the database does not take (``InvalidRecord``)."""
    if code not in REVIEW_CODES:
        raise InvalidRecord(f"codice di revisione {code!r} non ammesso")


def resolve_review_reasons(session: Session, *, submission: Submission | None = None,
                           message: Message | None = None,
                           at: datetime | None = None) -> int:
    """Mark every open reason of ``submission`` (or ``message``) resolved; returns how many."""
    if (submission is None) == (message is None):
        raise InvalidRecord("indicare la domanda oppure il messaggio")
    query = select(ReviewReason).where(ReviewReason.resolved_at.is_(None))
    if submission is not None:
        query = query.where(ReviewReason.submission_id == submission.id)
    else:
        query = query.where(ReviewReason.message_id == (message.id if message else None))
    reasons = session.scalars(query).all()
    when = at or utcnow()
    for reason in reasons:
        reason.resolved_at = when
    session.flush()
    return len(reasons)


def review_queue(session: Session) -> list[ReviewReason]:
    """Every unresolved reason, oldest first, with its submission or message loaded."""
    return list(session.scalars(
        select(ReviewReason).where(ReviewReason.resolved_at.is_(None))
        .order_by(ReviewReason.created_at, ReviewReason.id)
        .options(selectinload(ReviewReason.submission).selectinload(Submission.tavoli),
                 selectinload(ReviewReason.message))).all())
