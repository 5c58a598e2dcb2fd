"""Provenance of every value and the OCR text of scanned forms (``submission_readings``).

Revision ID: 0004f
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004f"
down_revision: str | Sequence[str] | None = "0004d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "submission_readings",
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.Column("ocr_text", sa.Text(), nullable=True),
        sa.Column("ocr_pages", sa.Integer(), nullable=True),
        sa.Column("ocr_seconds", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE",
                                name=op.f("fk_submission_readings_submission_id_submissions")),
        sa.PrimaryKeyConstraint("submission_id", name=op.f("pk_submission_readings")),
    )


def downgrade() -> None:
    op.drop_table("submission_readings")
