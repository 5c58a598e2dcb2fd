"""Hostile mail: a skip reason for messages whose first look the IMAP client cannot read,
``messages.provider_trusted`` (the envelope's provider judged against ``[trust] ca_file``, apart
from the signature's integrity), and a harder read-only role on PostgreSQL.

Revision ID: 0004b
Revises: 0003
Create Date: 2026-12-01

Self-contained on purpose: the skip reasons and the view names are frozen here as they were at
this revision.

``pec_ingest_reader`` could see rows its views hide: a function of its own (created in
``pg_temp``, which every role may use through PUBLIC's TEMPORARY right) placed in a WHERE clause
is evaluated by the planner before the view's own conditions and can print every row it is
given. The views become ``security_barrier`` (conditions of the caller are applied after the
view's), and TEMPORARY on this database is revoked from PUBLIC (the database owner, which the
service uses, keeps it). Both on PostgreSQL only; SQLite has no roles. The revoke needs the
database owner or a superuser: when the migrating user is neither, it is left to the
administrator (README, "Read-only access").
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004b"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_REASONS = ("too_big", "no_attachments", "not_pec", "other_receipt")
NEW_REASONS = (*OLD_REASONS, "unreadable_header")
VIEWS = ("v_aderenti_per_tavolo", "v_aderenti", "v_da_verificare", "v_ricevute")

_REVOKE_TEMP = """DO $$
BEGIN
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
EXCEPTION WHEN insufficient_privilege THEN
  RAISE WARNING 'pec-ingest: REVOKE TEMPORARY ON DATABASE % FROM PUBLIC needs the database '
                'owner: run it as the owner (README, Read-only access)', current_database();
END $$"""


def _reasons(reasons: Sequence[str]) -> None:
    listed = ", ".join(f"'{r}'" for r in reasons)
    with op.batch_alter_table("skipped_messages") as batch:
        batch.drop_constraint(op.f("ck_skipped_messages_reason"), type_="check")
        batch.create_check_constraint(op.f("ck_skipped_messages_reason"),
                                      f"reason IN ({listed})")


def upgrade() -> None:
    _reasons(NEW_REASONS)
    op.add_column("messages", sa.Column("provider_trusted", sa.Boolean(), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    for view in VIEWS:
        op.execute(f"ALTER VIEW {view} SET (security_barrier = true)")
    op.execute(_REVOKE_TEMP)


def downgrade() -> None:
    op.execute("DELETE FROM skipped_messages WHERE reason = 'unreadable_header'")
    _reasons(OLD_REASONS)
    # Not a batch (table copy) on SQLite: the staff views read ``messages``, and SQLite
    # refuses to rename a table under a view; its native DROP COLUMN (3.35+) is enough.
    op.drop_column("messages", "provider_trusted")
    if op.get_bind().dialect.name != "postgresql":
        return
    for view in VIEWS:
        op.execute(f"ALTER VIEW {view} RESET (security_barrier)")
    op.execute("""DO $$
BEGIN
  EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database());
EXCEPTION WHEN insufficient_privilege THEN
  NULL;
END $$""")
