"""An index on ``messages.message_id_header``: a poll checks each batch's Message-IDs against the
recorded messages (:func:`store.mailbox_state.known_message_ids`) before downloading; without
it, every batch scanned the whole table.

Revision ID: 0004g
Revises: 0004f
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004g"
down_revision: str | Sequence[str] | None = "0004f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_messages_message_id_header"), "messages", ["message_id_header"])


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_message_id_header"), table_name="messages")
