"""Read-only questions staff ask: who adheres now, the history of one organisation, counts.

"Current" means the organisation's current submission (one per organisation, see
``submissions.py``), whatever its status; filters narrow it down.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Executable, Select, distinct, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from store.base import OUTCOMES, TAVOLI
from store.model import Message, ReviewReason, Submission, SubmissionTavolo

NOT_GIVEN = "(non indicato)"


def current_submissions(session: Session, *, tavolo: str | None = None,
                        late: bool | None = None, status: str | None = None,
                        comune: str | None = None, natura_giuridica: str | None = None,
                        exclude_rejected: bool = False, limit: int | None = None,
                        offset: int = 0) -> list[Submission]:
    """One row per organisation, by registration number; tavoli, organisation and message loaded.

    ``limit``/``offset`` give one page of the list (the web desk's)."""
    query = _filtered(tavolo, late, status, comune, natura_giuridica, exclude_rejected).options(
        selectinload(Submission.tavoli), joinedload(Submission.organisation),
        joinedload(Submission.message)).order_by(
        Submission.procedure, Submission.registration_seq).offset(offset).limit(limit)
    return list(session.scalars(query).unique().all())


def count_current_submissions(session: Session, *, tavolo: str | None = None,
                              late: bool | None = None, status: str | None = None,
                              comune: str | None = None,
                              natura_giuridica: str | None = None,
                              exclude_rejected: bool = False) -> int:
    """How many rows :func:`current_submissions` gives with the same filters."""
    filtered = _filtered(tavolo, late, status, comune, natura_giuridica,
                         exclude_rejected).subquery()
    return int(session.scalar(select(func.count()).select_from(filtered)) or 0)


def _filtered(tavolo: str | None, late: bool | None, status: str | None, comune: str | None,
              natura_giuridica: str | None, exclude_rejected: bool) -> Select[Submission]:
    query = _current()
    if exclude_rejected:
        query = query.where(Submission.review_state != "rejected")
    if tavolo is not None:
        query = query.where(Submission.tavoli.any(SubmissionTavolo.code == tavolo))
    if late is not None:
        query = query.where(Submission.late.is_(late))
    if status is not None:
        query = query.where(Submission.status == status)
    if comune is not None:
        query = query.where(func.lower(Submission.comune) == comune.lower())
    if natura_giuridica is not None:
        query = query.where(Submission.natura_giuridica == natura_giuridica)
    return query


def submission_history(session: Session, organisation_id: int) -> list[Submission]:
    """Every version of one organisation's submission, oldest version first."""
    return list(session.scalars(
        select(Submission).where(Submission.organisation_id == organisation_id)
        .options(selectinload(Submission.tavoli), joinedload(Submission.message))
        .order_by(Submission.version)).unique().all())


def stats(session: Session) -> dict[str, Any]:
    """Counts over current submissions (rejected ones left out, as in the adherent lists, and
    counted apart under ``rejected``), plus the review queue and message outcomes.

    Keys: ``adherents``, ``per_tavolo`` (every table, zeros included), ``per_comune``,
    ``per_natura_giuridica`` (missing values under ``"(non indicato)"``), ``on_time``, ``late``,
    ``out_of_procedure``, ``per_status``, ``review_queue`` (submissions and messages with at least
    one open reason), ``messages`` (per outcome).
    """
    current = _current().where(Submission.review_state != "rejected").subquery()
    per_tavolo = dict.fromkeys(TAVOLI, 0)
    per_tavolo.update(_count_by(session, select(SubmissionTavolo.code, func.count()).join(
        current, current.c.id == SubmissionTavolo.submission_id).group_by(SubmissionTavolo.code)))
    late_counts = _count_by(session, select(current.c.late, func.count()).group_by(current.c.late))
    return {
        "adherents": session.scalar(select(func.count()).select_from(current)) or 0,
        "per_tavolo": per_tavolo,
        "per_comune": _grouped(session, current.c.comune),
        "per_natura_giuridica": _grouped(session, current.c.natura_giuridica),
        "on_time": late_counts.get(False, 0),
        "late": late_counts.get(True, 0),
        "out_of_procedure": session.scalar(select(func.count()).select_from(current).where(
            current.c.out_of_procedure.is_(True))) or 0,
        "per_status": _grouped(session, current.c.status),
        "review_queue": _review_queue_size(session),
        "rejected": session.scalar(select(func.count()).select_from(_current().where(
            Submission.review_state == "rejected").subquery())) or 0,
        "messages": dict.fromkeys(OUTCOMES, 0) | _count_by(
            session, select(Message.outcome, func.count()).group_by(Message.outcome)),
    }


def _current() -> Select[Submission]:
    return select(Submission).where(Submission.is_current.is_(True))


def _count_by(session: Session, query: Executable) -> dict[Any, int]:
    return {key: int(count) for key, count in session.execute(query).all()}


def _grouped(session: Session, column: Any) -> dict[str, int]:
    rows = _count_by(session, select(column, func.count()).group_by(column))
    out: dict[str, int] = {}
    for key, count in sorted(rows.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        label = NOT_GIVEN if key is None or key == "" else str(key)
        out[label] = out.get(label, 0) + count
    return out


def _review_queue_size(session: Session) -> int:
    open_reasons = select(ReviewReason).where(ReviewReason.resolved_at.is_(None)).subquery()
    submissions = session.scalar(select(func.count(distinct(open_reasons.c.submission_id))))
    messages = session.scalar(select(func.count(distinct(open_reasons.c.message_id))))
    return int(submissions or 0) + int(messages or 0)
