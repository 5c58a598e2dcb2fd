"""Retention: remove the raw messages of closed procedures and blank the personal data, keeping
the figures.

A message is purged when its legal receipt time (else the time it was first seen) is before the
chosen date and, if it carries a submission, that submission's procedure is closed: another
procedure than the configured one, or the configured one once its closing date has passed.

What goes: the archived raw message (which holds the attachments, i.e. the signed forms and the
identity documents); in the database, the names and contacts of people (legale rappresentante,
referente, e-mail, telefono), the parser's full output and warnings, the attachments' file
names and signers, the subject of the message (and the sender of mail that was not a
submission), the free text of the review reasons, and the same personal values inside staff
corrections and the audit log. What stays: every row, the registration numbers, dates, late
flags, organisation names, codes, legal forms, addresses and comuni, chosen tables, statuses
and review decisions, so every count per table, comune and legal form stays right. The purge is
itself one audit entry (with the figures at that moment) and each purged message gets a row in
``message_purges``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pec_ingest.desk.errors import DeskError
from store.archive import Archive
from store.audit import AuditEntry, Correction, mark_purged, purged_message_ids, record_action
from store.base import utcnow
from store.model import Attachment, Message, ReviewReason, Submission
from store.reading import scrub_readings

PERSONAL_FIELDS = ("legale_rappresentante", "referente", "email", "telefono")
PURGED_NOTE = "(testo rimosso dalla cancellazione periodica dei dati personali)"
_KEEP_SENDER = frozenset({"submission", "receipt"})  # an organisation, a provider


@dataclass(frozen=True)
class PurgeItem:
    message_id: int
    when: datetime
    outcome: str
    registration_number: str | None
    archive_path: str
    archived: bool  # the raw file is in the archive now


@dataclass(frozen=True)
class PurgePlan:
    before: datetime
    items: tuple[PurgeItem, ...]
    kept_open: int  # messages before the date kept because their procedure is open

    @property
    def files(self) -> list[str]:
        return [i.archive_path for i in self.items if i.archived]


def plan_purge(session: Session, archive: Archive, before: datetime, *,
               open_procedure: str | None) -> PurgePlan:
    """What a purge of everything received before ``before`` would remove (changes nothing).

    ``open_procedure``: the code of the procedure still open, whose submissions are kept.
    """
    if before > utcnow():
        raise DeskError("la data della cancellazione non può essere nel futuro")
    done = purged_message_ids(session)
    when = func.coalesce(Message.legal_time, Message.first_seen_at)
    rows = session.execute(
        select(Message, Submission.registration_number, Submission.procedure)
        .outerjoin(Submission, Submission.message_id == Message.id)
        .where(when < before).order_by(Message.id)).all()
    items, kept = [], 0
    for message, number, procedure in rows:
        if message.id in done:
            continue
        if procedure is not None and procedure == open_procedure:
            kept += 1
            continue
        items.append(PurgeItem(message.id, message.legal_time or message.first_seen_at,
                               message.outcome, number, message.archive_path,
                               archive.exists(message.archive_path)))
    return PurgePlan(before, tuple(items), kept)


def execute_purge(session: Session, archive: Archive, plan: PurgePlan, *, actor: str,
                  figures: dict[str, Any]) -> AuditEntry:
    """Do in the database exactly what ``plan`` lists: blank and record. The caller commits,
    then calls :func:`remove_files`: a failed commit leaves the evidence in the archive, and a
    crash after it leaves files that a later purge (which skips purged messages) ignores and a
    second :func:`remove_files` of the same plan removes."""
    ids = [i.message_id for i in plan.items]
    entry = record_action(session, actor, "purge", note=f"cancellazione dei messaggi ricevuti "
                          f"prima del {plan.before.isoformat()}",
                          after={"before": plan.before.isoformat(), "messages": ids,
                                 "archive_files": plan.files, "figures": figures})
    _scrub(session, ids)
    mark_purged(session, ids, entry)
    return entry


def remove_files(archive: Archive, plan: PurgePlan) -> int:
    """Delete the plan's archived raw messages (after the commit); returns how many."""
    removed = 0
    for relative in plan.files:
        path = archive.path(relative)
        if path.exists():
            path.unlink()
            removed += 1
    return removed


def _scrub(session: Session, message_ids: list[int]) -> None:
    for chunk in _chunks(message_ids, 500):
        messages = session.scalars(select(Message).where(Message.id.in_(chunk))).all()
        for message in messages:
            message.subject, message.warnings = None, []
            if message.outcome not in _KEEP_SENDER:
                message.sender = None
        for att in session.scalars(select(Attachment).where(Attachment.message_id.in_(chunk))):
            att.filename, att.signers, att.parse_error = None, [], None
        subs = session.scalars(select(Submission).where(Submission.message_id.in_(chunk))).all()
        for sub in subs:
            for name in PERSONAL_FIELDS:
                setattr(sub, name, None)
            sub.parsed, sub.parser_warnings = {}, []
        scrub_readings(session, [s.id for s in subs], PERSONAL_FIELDS)  # OCR text, crops
        _scrub_notes(session, chunk, [s.id for s in subs])
    session.flush()


def _scrub_notes(session: Session, message_ids: list[int], submission_ids: list[int]) -> None:
    reasons = session.scalars(select(ReviewReason).where(
        ReviewReason.message_id.in_(message_ids) | ReviewReason.submission_id.in_(
            submission_ids)))
    for reason in reasons:
        reason.detail = PURGED_NOTE
    for row in session.scalars(select(Correction).where(
            Correction.submission_id.in_(submission_ids),
            Correction.field.in_(PERSONAL_FIELDS))):
        row.value = None
    for entry in session.scalars(select(AuditEntry).where(
            AuditEntry.submission_id.in_(submission_ids))):
        if entry.field in PERSONAL_FIELDS:
            entry.before = entry.after = None
        entry.before, entry.after = _blank(entry.before), _blank(entry.after)
        if entry.note and entry.field in PERSONAL_FIELDS:
            entry.note = None


def _blank(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (None if k in PERSONAL_FIELDS else v) for k, v in value.items()}
    return value


def _chunks(values: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]
