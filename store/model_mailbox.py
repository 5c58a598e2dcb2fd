"""The IMAP side of the store: where each mailbox folder was left, its UIDVALIDITY resets, and
the messages a poll chose not to download (with the reason, for staff).

Registered on ``Base.metadata`` by ``store.model`` (imported at its end), so the migrations and
the schema test see these tables wherever the models are loaded.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, Clipped, UTCDateTime, in_list, utcnow

# Why a message was not downloaded in full (closed vocabulary, a CHECK in the schema).
SKIP_REASONS = ("too_big", "no_attachments", "not_pec", "other_receipt", "unreadable_header")


class MailboxState(Base):
    """Per (mailbox, folder): the UIDVALIDITY and the last UID fully recorded."""

    __tablename__ = "mailbox_states"
    __table_args__ = (
        CheckConstraint("last_uid >= 0", name="last_uid"),
    )

    mailbox: Mapped[str] = mapped_column(String(200), primary_key=True)
    folder: Mapped[str] = mapped_column(String(200), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow,
                                                 server_default=func.current_timestamp())


class MailboxReset(Base):
    """A UIDVALIDITY change seen on a folder: the folder was re-scanned from the start."""

    __tablename__ = "mailbox_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(200))
    folder: Mapped[str] = mapped_column(String(200))
    old_uidvalidity: Mapped[int] = mapped_column(BigInteger)
    new_uidvalidity: Mapped[int] = mapped_column(BigInteger)
    old_last_uid: Mapped[int] = mapped_column(BigInteger)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow,
                                                  server_default=func.current_timestamp())


class SkippedMessage(Base):
    """A message seen on the server but not downloaded, and why (``reason`` code, ``detail``)."""

    __tablename__ = "skipped_messages"
    __table_args__ = (
        UniqueConstraint("mailbox", "folder", "uidvalidity", "uid"),
        CheckConstraint(in_list("reason", SKIP_REASONS), name="reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(200))
    folder: Mapped[str] = mapped_column(String(200))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_id_header: Mapped[str | None] = mapped_column(Clipped(400))
    subject: Mapped[str | None] = mapped_column(Text)
    sender: Mapped[str | None] = mapped_column(Clipped(320))
    size: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow,
                                              server_default=func.current_timestamp())
