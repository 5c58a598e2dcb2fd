"""The staff desk's records: the audit log of staff actions, the fields staff corrected, and
the messages whose raw bytes were purged.

* ``audit_log``: one row per staff action (who, when, what, before and after as JSON). Rows are
  only ever added; the purge blanks the personal values inside them and nothing else.
* ``submission_corrections``: the value staff set for one field of one submission (``tavoli``
  included). A re-run of the parser keeps them: staff corrections win over the parser.
* ``message_purges``: a message whose archived raw bytes were removed by the retention purge,
  and its personal data blanked; the row says when and by which audit entry.

Query functions take a Session, flush, and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.base import CANONICAL_FIELDS, Base, UTCDateTime, in_list, utcnow
from store.errors import InvalidRecord

AUDIT_ACTIONS = ("set_field", "set_tavoli", "accept", "reject", "reprocess", "purge", "ack_send",
                 "ack_resend")
CORRECTABLE = (*CANONICAL_FIELDS, "tavoli")


class AuditEntry(Base):
    """One staff action; ``before``/``after`` hold the values as JSON."""

    __tablename__ = "audit_log"
    __table_args__ = (CheckConstraint(in_list("action", AUDIT_ACTIONS), name="action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    field: Mapped[str | None] = mapped_column(String(40))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    note: Mapped[str | None] = mapped_column(Text)


class Correction(Base):
    """The value staff set for one field of a submission; it wins over the parser."""

    __tablename__ = "submission_corrections"
    __table_args__ = (
        UniqueConstraint("submission_id", "field"),
        CheckConstraint(in_list("field", CORRECTABLE), name="field"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    field: Mapped[str] = mapped_column(String(40))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit_log.id"))


class MessagePurge(Base):
    """A message whose raw bytes were removed from the archive and personal data blanked."""

    __tablename__ = "message_purges"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    purged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit_log.id"))


def record_action(session: Session, actor: str, action: str, *, submission_id: int | None = None,
                  message_id: int | None = None, field: str | None = None, before: Any = None,
                  after: Any = None, note: str | None = None) -> AuditEntry:
    """Append one entry to the audit log."""
    if action not in AUDIT_ACTIONS:
        raise InvalidRecord(f"azione {action!r} non ammessa nel registro")
    if not actor.strip():
        raise InvalidRecord("registro delle azioni: manca chi ha agito")
    entry = AuditEntry(actor=actor.strip()[:100], action=action, submission_id=submission_id,
                       message_id=message_id, field=field, before=before, after=after, note=note)
    session.add(entry)
    session.flush()
    return entry


def audit_trail(session: Session, *, submission_id: int | None = None,
                message_id: int | None = None) -> list[AuditEntry]:
    """The entries about one submission or message, oldest first."""
    query = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
    if submission_id is not None:
        query = query.where(AuditEntry.submission_id == submission_id)
    if message_id is not None:
        query = query.where(AuditEntry.message_id == message_id)
    return list(session.scalars(query).all())


def corrections_of(session: Session, submission_id: int) -> dict[str, Any]:
    """``{field: value}`` staff set on one submission."""
    rows = session.scalars(select(Correction).where(Correction.submission_id == submission_id))
    return {row.field: row.value for row in rows}


def set_correction(session: Session, submission_id: int, field: str, value: Any, *,
                   actor: str, audit: AuditEntry) -> Correction:
    """Record (or replace) the staff value of ``field``."""
    if field not in CORRECTABLE:
        raise InvalidRecord(f"campo {field!r} non correggibile")
    row = session.scalars(select(Correction).where(
        Correction.submission_id == submission_id, Correction.field == field)).one_or_none()
    if row is None:
        row = Correction(submission_id=submission_id, field=field)
        session.add(row)
    row.value, row.actor, row.at, row.audit_id = value, actor, utcnow(), audit.id
    session.flush()
    return row


def purged_message_ids(session: Session) -> set[int]:
    """Messages already purged."""
    return set(session.scalars(select(MessagePurge.message_id)).all())


def mark_purged(session: Session, message_ids: Iterable[int], audit: AuditEntry) -> None:
    """Record the messages as purged by ``audit``."""
    when = utcnow()
    for message_id in message_ids:
        session.add(MessagePurge(message_id=message_id, purged_at=when, audit_id=audit.id))
    session.flush()
