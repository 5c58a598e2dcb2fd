"""Staff desk: audit log, staff corrections, purged messages; SQL views for people who query
the database directly; on PostgreSQL, the read-only role ``pec_ingest_reader``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Self-contained on purpose: the view definitions and the Italian labels are frozen here as they
were at this revision; a later change to a view needs its own migration.

The views (``v_aderenti``, ``v_aderenti_per_tavolo``, ``v_da_verificare``, ``v_ricevute``) read
the tables with their owner's rights, so a role granted SELECT on them, and on nothing else,
reads the views but not the raw messages, the attachments' data or the audit log.

PostgreSQL roles belong to the whole cluster: ``pec_ingest_reader`` (NOLOGIN) is created only
if it does not exist and the migrating user may create roles (CREATEROLE or superuser); the
grants on the views are per database and made whenever the role exists. Downgrading drops the
views (and with them their grants) but never the role, which other databases may use.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READER = "pec_ingest_reader"
ACTIONS = ("set_field", "set_tavoli", "accept", "reject", "reprocess", "purge", "ack_send",
           "ack_resend")
CORRECTABLE = ("denominazione", "natura_giuridica", "codice_fiscale", "partita_iva",
               "sede_legale", "comune", "legale_rappresentante", "referente", "email", "pec",
               "telefono", "tavoli")
TAVOLI = {"famiglia": "Area Promozione del benessere familiare",
          "poverta": "Area Contrasto alla povertà",
          "autonomie": "Area Promozione delle autonomie"}
REASON_LABELS = {
    "missing_field": "dati mancanti o non validi",
    "invalid_field": "dato non valido",
    "unreadable": "documento illeggibile o da verificare a mano",
    "scan": "scansione senza testo",
    "unsigned_no_id": "non firmato e senza documento d'identità",
    "pec_mismatch": "PEC dichiarata diversa dal mittente certificato",
    "signer_mismatch": "firmato da persona diversa dal legale rappresentante",
    "signature_invalid": "firma digitale non valida",
    "parser_timeout": "lettura del documento interrotta (tempo scaduto)",
    "parser_failed": "lettura del documento non riuscita",
    "ack_failed": "ricevuta all'ente non consegnata",
    "late": "arrivata dopo la scadenza",
    "out_of_procedure": "arrivata dopo la chiusura della procedura",
    "contradiction": "dati contraddittori",
    "unsupported_format": "formato del documento non supportato",
    "no_form": "nessun modulo allegato",
    "organisation_conflict": "dubbio sull'identità dell'ente",
    "quarantined": "messaggio messo da parte dopo errori ripetuti",
    "not_certified": "messaggio non certificato (anomalia o posta ordinaria)",
    "envelope_signature": "firma del gestore PEC non valida",
    "no_legal_time": "manca la data legale di ricezione",
    "other": "altro",
}
VIEWS = ("v_aderenti_per_tavolo", "v_aderenti", "v_da_verificare", "v_ricevute")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _case(column: str, labels: dict[str, str]) -> str:
    arms = " ".join(f"WHEN '{k}' THEN '{v.replace(chr(39), chr(39) * 2)}'"
                    for k, v in labels.items())
    return f"CASE {column} {arms} END"


def upgrade() -> None:
    _tables()
    dialect = op.get_bind().dialect.name
    for statement in _views(dialect):
        op.execute(statement)
    if dialect == "postgresql":
        op.execute(_CREATE_READER)
        op.execute(_grant_reader())


def _tables() -> None:
    _audit_log()
    _corrections()
    _purges()


def _audit_log() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(40), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(_in("action", ACTIONS), name=op.f("ck_audit_log_action")),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"],
                                name=op.f("fk_audit_log_message_id_messages")),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"],
                                name=op.f("fk_audit_log_submission_id_submissions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_message_id"), "audit_log", ["message_id"])
    op.create_index(op.f("ix_audit_log_submission_id"), "audit_log", ["submission_id"])


def _corrections() -> None:
    op.create_table(
        "submission_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(_in("field", CORRECTABLE),
                           name=op.f("ck_submission_corrections_field")),
        sa.ForeignKeyConstraint(["audit_id"], ["audit_log.id"],
                                name=op.f("fk_submission_corrections_audit_id_audit_log")),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"],
                                name=op.f("fk_submission_corrections_submission_id_submissions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_corrections")),
        sa.UniqueConstraint("submission_id", "field",
                            name=op.f("uq_submission_corrections_submission_id_field")),
    )


def _purges() -> None:
    op.create_table(
        "message_purges",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["audit_id"], ["audit_log.id"],
                                name=op.f("fk_message_purges_audit_id_audit_log")),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"],
                                name=op.f("fk_message_purges_message_id_messages")),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_purges")),
    )


def _tavoli_text(dialect: str) -> str:
    """The chosen tables' codes joined by ``;``, by preference rank, then by code."""
    if dialect == "postgresql":
        return ("(SELECT string_agg(t.code, ';' ORDER BY t.rank NULLS LAST, t.code) "
                "FROM submission_tavoli t WHERE t.submission_id = s.id)")
    return ("(SELECT group_concat(o.code, ';') FROM (SELECT t.code FROM submission_tavoli t "
            "WHERE t.submission_id = s.id ORDER BY t.rank IS NULL, t.rank, t.code) o)")


def _views(dialect: str) -> list[str]:
    chosen = ",\n  ".join(
        f"EXISTS (SELECT 1 FROM submission_tavoli t WHERE t.submission_id = s.id "
        f"AND t.code = '{code}') AS tavolo_{code},\n  "
        f"(SELECT t.rank FROM submission_tavoli t WHERE t.submission_id = s.id "
        f"AND t.code = '{code}') AS preferenza_{code}" for code in TAVOLI)
    return [f"""CREATE VIEW v_aderenti AS
SELECT s.id AS submission_id, s.registration_number, s.received_at, s.late,
  s.out_of_procedure, m.sender, s.denominazione, s.natura_giuridica, s.codice_fiscale,
  s.partita_iva, s.sede_legale, s.comune, s.legale_rappresentante, s.referente, s.email,
  s.pec, s.telefono, {_tavoli_text(dialect)} AS tavoli,
  {chosen},
  s.status, s.review_state
FROM submissions s JOIN messages m ON m.id = s.message_id
WHERE s.is_current AND s.review_state <> 'rejected'""",
            f"""CREATE VIEW v_aderenti_per_tavolo AS
SELECT t.code AS tavolo, {_case('t.code', TAVOLI)} AS tavolo_nome, t.rank AS preferenza,
  a.registration_number, a.received_at, a.late, a.denominazione, a.natura_giuridica,
  a.comune, a.legale_rappresentante, a.referente, a.email, a.pec, a.telefono, a.status,
  a.review_state
FROM submission_tavoli t JOIN v_aderenti a ON a.submission_id = t.submission_id""",
            f"""CREATE VIEW v_da_verificare AS
SELECT r.id AS reason_id, r.created_at, r.code, {_case('r.code', REASON_LABELS)} AS motivo,
  r.detail AS dettaglio, r.submission_id, s.registration_number, s.denominazione,
  m.id AS message_id, m.sender, m.outcome, COALESCE(s.received_at, m.legal_time,
  m.first_seen_at) AS received_at
FROM review_reasons r
LEFT JOIN submissions s ON s.id = r.submission_id
LEFT JOIN messages m ON m.id = COALESCE(r.message_id, s.message_id)
WHERE r.resolved_at IS NULL""",
            """CREATE VIEW v_ricevute AS
SELECT a.id AS acknowledgement_id, s.registration_number, s.denominazione, s.is_current,
  a.to_address, a.status, a.attempts, a.created_at, a.sent_at, a.accepted_at, a.delivered_at,
  a.error, (SELECT count(*) FROM receipts r WHERE r.acknowledgement_id = a.id) AS receipts
FROM acknowledgements a JOIN submissions s ON s.id = a.submission_id"""]


_CREATE_READER = f"""DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER}')
     AND (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
    BEGIN
      CREATE ROLE {READER} NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;  -- created meanwhile by a migration of another database
    END;
  END IF;
END $$"""


def _grant_reader() -> str:
    grants = " ".join(f"GRANT SELECT ON {view} TO {READER};" for view in VIEWS)
    return f"""DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER}') THEN
    {grants}
    BEGIN
      EXECUTE format('GRANT USAGE ON SCHEMA %I TO {READER}', current_schema());
    EXCEPTION WHEN insufficient_privilege THEN
      NULL;  -- PUBLIC keeps USAGE on the schema by default
    END;
  END IF;
END $$"""


def downgrade() -> None:
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.drop_table("message_purges")
    op.drop_table("submission_corrections")
    op.drop_index(op.f("ix_audit_log_submission_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_message_id"), table_name="audit_log")
    op.drop_table("audit_log")
