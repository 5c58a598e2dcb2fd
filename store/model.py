"""The tables: messages and their attachments, organisations and their submissions, review
reasons, acknowledgements and the PEC receipts that come back.

Every rule that keeps the data trustworthy is in the schema, not only here: the same message
can never be recorded twice (sha256, identificativo, IMAP coordinates), an organisation has one
current submission, registration numbers are unique, closed vocabularies are CHECK constraints.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.base import (
    ACK_STATUSES,
    ATTACHMENT_ROLES,
    MESSAGE_KINDS,
    OUTCOMES,
    PARSE_STATUSES,
    RECEIPT_KINDS,
    REVIEW_CODES,
    REVIEW_STATES,
    SUBMISSION_STATUSES,
    TAVOLI,
    Base,
    Clipped,
    UTCDateTime,
    in_list,
    utcnow,
)

NOW = func.current_timestamp()
EMPTY_LIST = text("'[]'")


def _created_at() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, default=utcnow, server_default=NOW)


def _flag() -> Mapped[bool]:
    return mapped_column(Boolean, default=False, server_default=false())


class Message(Base):
    """Every message seen, whatever became of it (``outcome``, with a staff-readable ``reason``)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("mailbox", "folder", "uidvalidity", "uid"),
        Index("uq_messages_identificativo", "identificativo", unique=True,
              sqlite_where=text("identificativo IS NOT NULL"),
              postgresql_where=text("identificativo IS NOT NULL")),
        CheckConstraint(in_list("kind", MESSAGE_KINDS), name="kind"),
        CheckConstraint(in_list("outcome", OUTCOMES), name="outcome"),
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
        CheckConstraint("failure_count >= 0", name="failure_count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    archive_path: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))
    mailbox: Mapped[str | None] = mapped_column(String(200))
    folder: Mapped[str | None] = mapped_column(String(200))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(40))
    identificativo: Mapped[str | None] = mapped_column(Clipped(400))
    message_id_header: Mapped[str | None] = mapped_column(Clipped(400), index=True)
    riferimento_message_id: Mapped[str | None] = mapped_column(Clipped(400))
    sender: Mapped[str | None] = mapped_column(Clipped(320))
    subject: Mapped[str | None] = mapped_column(Text)
    legal_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_seen_at: Mapped[datetime] = _created_at()
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    signature_present: Mapped[bool] = _flag()
    signature_valid: Mapped[bool | None] = mapped_column(Boolean)  # integrity of the envelope
    provider_trusted: Mapped[bool | None] = mapped_column(Boolean)  # None: not judged
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=EMPTY_LIST)
    failure_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", order_by="Attachment.id")

    def __repr__(self) -> str:
        return f"<Message id={self.id} kind={self.kind} outcome={self.outcome}>"


class Attachment(Base):
    """One file found in a message (inside the PEC envelope, unwrapped from .p7m or not)."""

    __tablename__ = "attachments"
    __table_args__ = (
        CheckConstraint(in_list("role", ATTACHMENT_ROLES), name="role"),
        CheckConstraint(in_list("parse_status", PARSE_STATUSES), name="parse_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    path: Mapped[str] = mapped_column(Clipped(1000))
    filename: Mapped[str | None] = mapped_column(Clipped(500))
    content_type: Mapped[str | None] = mapped_column(Clipped(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str | None] = mapped_column(String(20))
    signed: Mapped[bool] = _flag()
    signature_valid: Mapped[bool | None] = mapped_column(Boolean)
    signers: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default=EMPTY_LIST)
    role: Mapped[str] = mapped_column(String(20), default="other", server_default="other")
    parse_status: Mapped[str] = mapped_column(
        String(20), default="not_attempted", server_default="not_attempted")
    parse_error: Mapped[str | None] = mapped_column(Text)

    message: Mapped[Message] = relationship(back_populates="attachments")


class Organisation(Base):
    """One per codice fiscale; the certified sender address stands in when the code is missing."""

    __tablename__ = "organisations"
    __table_args__ = (
        CheckConstraint("codice_fiscale IS NOT NULL OR sender_key IS NOT NULL", name="identity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    codice_fiscale: Mapped[str | None] = mapped_column(Clipped(16), unique=True)
    sender_key: Mapped[str | None] = mapped_column(Clipped(320), unique=True)
    denominazione: Mapped[str | None] = mapped_column(Clipped(500))
    created_at: Mapped[datetime] = _created_at()

    submissions: Mapped[list[Submission]] = relationship(
        back_populates="organisation", order_by="Submission.version")

    def __repr__(self) -> str:
        return f"<Organisation id={self.id} cf={self.codice_fiscale} sender={self.sender_key}>"


class Submission(Base):
    """One Allegato 1 received: every version is kept, one per organisation is current."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("organisation_id", "version"),
        UniqueConstraint("procedure", "registration_seq"),
        Index("uq_submissions_current", "organisation_id", unique=True,
              sqlite_where=text("is_current"), postgresql_where=text("is_current")),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint("registration_seq >= 1", name="registration_seq"),
        CheckConstraint(in_list("status", SUBMISSION_STATUSES), name="status"),
        CheckConstraint(in_list("review_state", REVIEW_STATES), name="review_state"),
        CheckConstraint("NOT (is_current AND superseded_by_id IS NOT NULL)", name="current"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    version: Mapped[int] = mapped_column(Integer)
    procedure: Mapped[str] = mapped_column(String(40))
    registration_seq: Mapped[int] = mapped_column(Integer)
    registration_number: Mapped[str] = mapped_column(String(60), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    late: Mapped[bool] = _flag()
    out_of_procedure: Mapped[bool] = _flag()
    status: Mapped[str] = mapped_column(String(20))
    review_state: Mapped[str] = mapped_column(String(20), default="none", server_default="none")
    is_current: Mapped[bool] = _flag()
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    denominazione: Mapped[str | None] = mapped_column(Clipped(500))
    natura_giuridica: Mapped[str | None] = mapped_column(Clipped(40))
    codice_fiscale: Mapped[str | None] = mapped_column(Clipped(16))
    partita_iva: Mapped[str | None] = mapped_column(Clipped(11))
    sede_legale: Mapped[str | None] = mapped_column(Clipped(500))
    comune: Mapped[str | None] = mapped_column(Clipped(200))
    legale_rappresentante: Mapped[str | None] = mapped_column(Clipped(300))
    referente: Mapped[str | None] = mapped_column(Clipped(300))
    email: Mapped[str | None] = mapped_column(Clipped(320))
    pec: Mapped[str | None] = mapped_column(Clipped(320))
    telefono: Mapped[str | None] = mapped_column(Clipped(60))
    parser_warnings: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=EMPTY_LIST)
    parsed: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    created_at: Mapped[datetime] = _created_at()

    organisation: Mapped[Organisation] = relationship(back_populates="submissions")
    message: Mapped[Message] = relationship()
    attachment: Mapped[Attachment | None] = relationship()
    # post_update: the link is written by its own UPDATE after the rows of the flush, so a flush
    # that makes the current version not current and inserts its successor orders them as the
    # partial unique index needs (UPDATE before INSERT), without a flush of its own in between;
    # the other way round (a row's link cleared and the row made current) needs a flush between
    # the two: the post-update comes last, after the CHECK current has seen both set
    superseded_by: Mapped[Submission | None] = relationship(remote_side="Submission.id",
                                                            post_update=True)
    tavoli: Mapped[list[SubmissionTavolo]] = relationship(
        back_populates="submission", cascade="all, delete-orphan",
        order_by="(SubmissionTavolo.rank, SubmissionTavolo.code)")
    review_reasons: Mapped[list[ReviewReason]] = relationship(
        back_populates="submission", order_by="ReviewReason.id")

    @property
    def tavolo_codes(self) -> list[str]:
        """The chosen tables' codes, by rank when ranks exist."""
        return [t.code for t in self.tavoli]

    def __repr__(self) -> str:
        return (f"<Submission id={self.id} {self.registration_number} org={self.organisation_id} "
                f"v{self.version}{' current' if self.is_current else ''}>")


class SubmissionTavolo(Base):
    """A table chosen in a submission, with its preference rank when the form gives one."""

    __tablename__ = "submission_tavoli"
    __table_args__ = (
        CheckConstraint(in_list("code", TAVOLI), name="code"),
        CheckConstraint("rank IS NULL OR rank >= 1", name="rank"),
    )

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    rank: Mapped[int | None] = mapped_column(Integer)

    submission: Mapped[Submission] = relationship(back_populates="tavoli")


class ReviewReason(Base):
    """Why a submission (or a message that yielded none) needs a person; resolved when handled."""

    __tablename__ = "review_reasons"
    __table_args__ = (
        CheckConstraint("(submission_id IS NULL) <> (message_id IS NULL)", name="target"),
        CheckConstraint(in_list("code", REVIEW_CODES), name="code"),
        Index("ix_review_reasons_open", "resolved_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    submission: Mapped[Submission | None] = relationship(back_populates="review_reasons")
    message: Mapped[Message | None] = relationship()


class Acknowledgement(Base):
    """The certified reply to a submission: an outbox row, written with the submission."""

    __tablename__ = "acknowledgements"
    __table_args__ = (
        CheckConstraint(in_list("status", ACK_STATUSES), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("ix_acknowledgements_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(400), unique=True)
    to_address: Mapped[str] = mapped_column(Clipped(320))
    status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()

    submission: Mapped[Submission] = relationship()
    receipts: Mapped[list[Receipt]] = relationship(
        back_populates="acknowledgement", order_by="Receipt.id")


class Receipt(Base):
    """A PEC receipt that arrived, matched to an acknowledgement by the Message-ID it refers to."""

    __tablename__ = "receipts"
    __table_args__ = (CheckConstraint(in_list("kind", RECEIPT_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    referenced_message_id: Mapped[str | None] = mapped_column(Clipped(400), index=True)
    legal_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    errore: Mapped[str | None] = mapped_column(Clipped(40))
    errore_esteso: Mapped[str | None] = mapped_column(Text)
    recipient: Mapped[str | None] = mapped_column(Clipped(320))
    acknowledgement_id: Mapped[int | None] = mapped_column(
        ForeignKey("acknowledgements.id"), index=True)
    created_at: Mapped[datetime] = _created_at()

    message: Mapped[Message] = relationship()
    acknowledgement: Mapped[Acknowledgement | None] = relationship(back_populates="receipts")


class ProcedureCounter(Base):
    """The last registration number of a procedure; its row lock serialises the numbering."""

    __tablename__ = "procedure_counters"
    __table_args__ = (CheckConstraint("last_number >= 0", name="last_number"),)

    procedure: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


# The mailbox tables live in their own module; importing it here registers them on Base.metadata.
# So do the staff desk's tables (audit log, corrections, purged messages) in store.audit.
from store.accounts import DeskSession, DeskUser  # noqa: E402, F401
from store.audit import AuditEntry, Correction, MessagePurge  # noqa: E402, F401
from store.model_mailbox import MailboxReset, MailboxState, SkippedMessage  # noqa: E402, F401
from store.reading import SubmissionReading  # noqa: E402, F401  (issue 14: provenance, OCR text)
