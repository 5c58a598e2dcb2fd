"""Initial schema: messages, attachments, organisations, submissions and their tables, review
reasons, acknowledgements (outbox), receipts, procedure counters.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Self-contained on purpose: the vocabularies are frozen here as they were at this revision, and
later changes to ``store.base`` need their own migration.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE_KINDS = (
    "posta-certificata", "anomalia", "accettazione", "non-accettazione", "presa-in-carico",
    "avvenuta-consegna", "errore-consegna", "preavviso-errore-consegna", "rilevazione-virus",
    "not-pec",
)
OUTCOMES = (
    "submission", "ignored", "receipt", "anomaly", "unreadable", "timeout", "failed",
    "quarantined", "duplicate",
)
REVIEW_CODES = (
    "missing_field", "invalid_field", "unreadable", "scan", "unsigned_no_id", "pec_mismatch",
    "signer_mismatch", "signature_invalid", "parser_timeout", "parser_failed", "ack_failed",
    "late", "out_of_procedure", "contradiction", "unsupported_format", "no_form",
    "organisation_conflict", "quarantined", "not_certified", "envelope_signature",
    "no_legal_time", "other",
)


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _check(table: str, name: str, condition: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(condition, name=op.f(f"ck_{table}_{name}"))


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def _uq(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def _fk(table: str, column: str, target: str,
        ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete)


def _str(name: str, length: int, nullable: bool = True, **kw: object) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=nullable, **kw)  # type: ignore[arg-type]


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _created(name: str = "created_at") -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False,
                     server_default=sa.func.current_timestamp())


def _flag(name: str) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text("0"))


def _json(name: str, empty: str = "[]") -> sa.Column[object]:
    return sa.Column(name, sa.JSON(), nullable=False, server_default=sa.text(f"'{empty}'"))


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _ref(name: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def _index(table: str, *columns: str, name: str | None = None, unique: bool = False,
           where: str | None = None) -> None:
    """An index; ``where`` makes it partial, on SQLite and PostgreSQL alike."""
    condition: dict[str, object] = {} if where is None else {
        "sqlite_where": sa.text(where), "postgresql_where": sa.text(where)}
    op.create_index(name or op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns),
                    unique=unique, **condition)  # type: ignore[arg-type]


def upgrade() -> None:
    _messages()
    _attachments()
    _organisations()
    _submissions()
    _review_reasons()
    _acknowledgements()
    _receipts()
    op.create_table(
        "procedure_counters",
        _str("procedure", 40, nullable=False),
        _count("last_number"),
        _check("procedure_counters", "last_number", "last_number >= 0"),
        _pk("procedure_counters", "procedure"),
    )


def _messages() -> None:
    t = "messages"
    op.create_table(
        t, _id(),
        _str("sha256", 64, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        _str("archive_path", 200, nullable=False),
        _str("source", 20, nullable=False),
        _str("mailbox", 200), _str("folder", 200),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        _str("kind", 40, nullable=False),
        _str("identificativo", 400), _str("message_id_header", 400),
        _str("riferimento_message_id", 400), _str("sender", 320),
        sa.Column("subject", sa.Text(), nullable=True),
        _when("legal_time"), _created("first_seen_at"),
        _str("outcome", 20, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        _flag("signature_present"),
        sa.Column("signature_valid", sa.Boolean(), nullable=True),
        _json("warnings"), _count("failure_count"),
        _check(t, "kind", _in("kind", MESSAGE_KINDS)),
        _check(t, "outcome", _in("outcome", OUTCOMES)),
        _check(t, "failure_count", "failure_count >= 0"),
        _check(t, "sha256_length", "length(sha256) = 64"),
        _pk(t, "id"), _uq(t, "sha256"), _uq(t, "mailbox", "folder", "uidvalidity", "uid"),
    )
    _index(t, "identificativo", name="uq_messages_identificativo", unique=True,
           where="identificativo IS NOT NULL")


def _attachments() -> None:
    t = "attachments"
    op.create_table(
        t, _id(), _ref("message_id"),
        _str("path", 1000, nullable=False), _str("filename", 500), _str("content_type", 200),
        sa.Column("size", sa.BigInteger(), nullable=False),
        _str("sha256", 64, nullable=False), _str("format", 20),
        _flag("signed"), sa.Column("signature_valid", sa.Boolean(), nullable=True),
        _json("signers"),
        _str("role", 20, nullable=False, server_default="other"),
        _str("parse_status", 20, nullable=False, server_default="not_attempted"),
        sa.Column("parse_error", sa.Text(), nullable=True),
        _check(t, "parse_status", _in("parse_status", (
            "not_attempted", "parsed", "failed", "timeout", "unsupported", "skipped"))),
        _check(t, "role", _in("role", ("form", "id_document", "other"))),
        _fk(t, "message_id", "messages"), _pk(t, "id"),
    )
    _index(t, "message_id")


def _organisations() -> None:
    t = "organisations"
    op.create_table(
        t, _id(), _str("codice_fiscale", 16), _str("sender_key", 320),
        _str("denominazione", 500), _created(),
        _check(t, "identity", "codice_fiscale IS NOT NULL OR sender_key IS NOT NULL"),
        _pk(t, "id"), _uq(t, "codice_fiscale"), _uq(t, "sender_key"),
    )


def _submissions() -> None:
    t = "submissions"
    fields = [("denominazione", 500), ("natura_giuridica", 40), ("codice_fiscale", 16),
              ("partita_iva", 11), ("sede_legale", 500), ("comune", 200),
              ("legale_rappresentante", 300), ("referente", 300), ("email", 320),
              ("pec", 320), ("telefono", 60)]
    op.create_table(
        t, _id(), _ref("organisation_id"), _ref("message_id"), _ref("attachment_id", True),
        sa.Column("version", sa.Integer(), nullable=False),
        _str("procedure", 40, nullable=False),
        sa.Column("registration_seq", sa.Integer(), nullable=False),
        _str("registration_number", 60, nullable=False),
        _when("received_at", nullable=False), _flag("late"), _flag("out_of_procedure"),
        _str("status", 20, nullable=False),
        _str("review_state", 20, nullable=False, server_default="none"),
        _flag("is_current"), _ref("superseded_by_id", True),
        *(_str(name, length) for name, length in fields),
        _json("parser_warnings"), _json("parsed", "{}"), _created(),
        _check(t, "review_state", _in("review_state", (
            "none", "pending", "accepted", "rejected"))),
        _check(t, "status", _in("status", ("complete", "incomplete", "needs_review"))),
        _check(t, "current", "NOT (is_current AND superseded_by_id IS NOT NULL)"),
        _check(t, "registration_seq", "registration_seq >= 1"),
        _check(t, "version", "version >= 1"),
        _fk(t, "attachment_id", "attachments"), _fk(t, "message_id", "messages"),
        _fk(t, "organisation_id", "organisations"), _fk(t, "superseded_by_id", "submissions"),
        _pk(t, "id"), _uq(t, "message_id"), _uq(t, "organisation_id", "version"),
        _uq(t, "procedure", "registration_seq"), _uq(t, "registration_number"),
    )
    _index(t, "organisation_id", name="uq_submissions_current", unique=True, where="is_current")
    op.create_table(
        "submission_tavoli",
        _ref("submission_id"), _str("code", 20, nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        _check("submission_tavoli", "code", _in("code", ("famiglia", "poverta", "autonomie"))),
        _check("submission_tavoli", "rank", "rank IS NULL OR rank >= 1"),
        _fk("submission_tavoli", "submission_id", "submissions", ondelete="CASCADE"),
        _pk("submission_tavoli", "submission_id", "code"),
    )


def _review_reasons() -> None:
    t = "review_reasons"
    op.create_table(
        t, _id(), _ref("submission_id", True), _ref("message_id", True),
        _str("code", 40, nullable=False), sa.Column("detail", sa.Text(), nullable=False),
        _created(), _when("resolved_at"),
        _check(t, "code", _in("code", REVIEW_CODES)),
        _check(t, "target", "(submission_id IS NULL) <> (message_id IS NULL)"),
        _fk(t, "message_id", "messages"), _fk(t, "submission_id", "submissions"),
        _pk(t, "id"),
    )
    _index(t, "message_id")
    _index(t, "submission_id")
    _index(t, "resolved_at", "created_at", name="ix_review_reasons_open")


def _acknowledgements() -> None:
    t = "acknowledgements"
    op.create_table(
        t, _id(), _ref("submission_id"),
        _str("message_id", 400, nullable=False), _str("to_address", 320, nullable=False),
        _str("status", 20, nullable=False, server_default="pending"), _count("attempts"),
        _when("next_attempt_at"), _when("sent_at"), _when("accepted_at"), _when("delivered_at"),
        sa.Column("error", sa.Text(), nullable=True), _created(),
        _check(t, "status", _in("status", (
            "pending", "sending", "sent", "accepted", "delivered", "failed"))),
        _check(t, "attempts", "attempts >= 0"),
        _fk(t, "submission_id", "submissions"), _pk(t, "id"), _uq(t, "message_id"),
    )
    _index(t, "submission_id")
    _index(t, "status", "next_attempt_at", name="ix_acknowledgements_due")


def _receipts() -> None:
    t = "receipts"
    op.create_table(
        t, _id(), _ref("message_id"), _str("kind", 40, nullable=False),
        _str("referenced_message_id", 400), _when("legal_time"), _str("errore", 40),
        sa.Column("errore_esteso", sa.Text(), nullable=True), _str("recipient", 320),
        _ref("acknowledgement_id", True), _created(),
        _check(t, "kind", _in("kind", MESSAGE_KINDS[2:9])),
        _fk(t, "acknowledgement_id", "acknowledgements"), _fk(t, "message_id", "messages"),
        _pk(t, "id"), _uq(t, "message_id"),
    )
    _index(t, "acknowledgement_id")
    _index(t, "referenced_message_id")


def downgrade() -> None:
    for table in ("receipts", "acknowledgements", "review_reasons", "submission_tavoli",
                  "submissions", "organisations", "attachments", "messages",
                  "procedure_counters"):
        op.drop_table(table)
