"""Declarative base, constraint naming, the UTC timestamp column type and the closed vocabularies.

The vocabularies below are also CHECK constraints in the schema (see ``model.py`` and the
migrations): changing one needs a new migration, and the schema refuses any other value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, MetaData, String
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TAVOLI = ("famiglia", "poverta", "autonomie")
MESSAGE_KINDS = (
    "posta-certificata", "anomalia", "accettazione", "non-accettazione", "presa-in-carico",
    "avvenuta-consegna", "errore-consegna", "preavviso-errore-consegna", "rilevazione-virus",
    "not-pec",
)
RECEIPT_KINDS = MESSAGE_KINDS[2:9]
OUTCOMES = (
    "submission", "ignored", "receipt", "anomaly", "unreadable", "timeout", "failed",
    "quarantined", "duplicate",
)
ATTACHMENT_ROLES = ("form", "id_document", "other")
PARSE_STATUSES = ("not_attempted", "parsed", "failed", "timeout", "unsupported", "skipped")
SUBMISSION_STATUSES = ("complete", "incomplete", "needs_review")
REVIEW_STATES = ("none", "pending", "accepted", "rejected")
REVIEW_CODES = (
    "missing_field", "invalid_field", "unreadable", "scan", "unsigned_no_id", "pec_mismatch",
    "signer_mismatch", "signature_invalid", "parser_timeout", "parser_failed", "ack_failed",
    "late", "out_of_procedure", "contradiction", "unsupported_format", "no_form",
    "organisation_conflict", "quarantined", "not_certified", "envelope_signature",
    "no_legal_time", "other",
)
ACK_STATUSES = ("pending", "sending", "sent", "accepted", "delivered", "failed")
CANONICAL_FIELDS = (
    "denominazione", "natura_giuridica", "codice_fiscale", "partita_iva", "sede_legale", "comune",
    "legale_rappresentante", "referente", "email", "pec", "telefono",
)


def utcnow() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


def in_list(column: str, values: tuple[str, ...]) -> str:
    """SQL text of a CHECK constraint ``column IN (...)`` over a closed vocabulary."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, stored in UTC, returned aware (UTC) on every backend.

    PostgreSQL keeps ``timestamp with time zone``; SQLite has no such type and loses tzinfo, so
    the value is stored there as naive UTC and made aware again on the way out. A naive datetime
    is refused: its instant is unknown, and a deadline compared with it would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise ValueError(f"data e ora senza fuso orario: {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Clipped(TypeDecorator[str]):
    """A bounded VARCHAR for values that come from outside (headers, file names, form fields).

    PostgreSQL refuses a value longer than the column and SQLite does not: a 500-character
    Message-ID would then be stored on one backend and quarantine the message on the other.
    Over-long values are cut to the column length on both (the raw message keeps them whole).
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        length = getattr(self.impl, "length", None)
        if value is not None and length is not None and len(value) > length:
            return value[:length]
        return value


class Base(DeclarativeBase):
    """Declarative base of every table; its metadata is what the migrations must produce."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
