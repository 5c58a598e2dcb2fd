"""Mailbox state: last UID and UIDVALIDITY per mailbox folder, UIDVALIDITY resets, and the
messages a poll did not download (skipped, with the reason).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Self-contained on purpose: the skip reasons are frozen here as they were at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SKIP_REASONS = ("too_big", "no_attachments", "not_pec", "other_receipt")


def _str(name: str, length: int, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def _big(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False,
                     server_default=sa.func.current_timestamp())


def upgrade() -> None:
    op.create_table(
        "mailbox_states",
        _str("mailbox", 200), _str("folder", 200), _big("uidvalidity"), _big("last_uid"),
        _when("updated_at"),
        sa.CheckConstraint("last_uid >= 0", name=op.f("ck_mailbox_states_last_uid")),
        sa.PrimaryKeyConstraint("mailbox", "folder", name=op.f("pk_mailbox_states")),
    )
    op.create_table(
        "mailbox_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        _str("mailbox", 200), _str("folder", 200), _big("old_uidvalidity"),
        _big("new_uidvalidity"), _big("old_last_uid"), _when("detected_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailbox_resets")),
    )
    reasons = ", ".join(f"'{r}'" for r in SKIP_REASONS)
    op.create_table(
        "skipped_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        _str("mailbox", 200), _str("folder", 200), _big("uidvalidity"), _big("uid"),
        _str("message_id_header", 400, nullable=True),
        sa.Column("subject", sa.Text(), nullable=True), _str("sender", 320, nullable=True),
        _big("size"), _str("reason", 40), sa.Column("detail", sa.Text(), nullable=True),
        _when("seen_at"),
        sa.CheckConstraint(f"reason IN ({reasons})", name=op.f("ck_skipped_messages_reason")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skipped_messages")),
        sa.UniqueConstraint("mailbox", "folder", "uidvalidity", "uid",
                            name=op.f("uq_skipped_messages_mailbox_folder_uidvalidity_uid")),
    )


def downgrade() -> None:
    for table in ("skipped_messages", "mailbox_resets", "mailbox_states"):
        op.drop_table(table)
