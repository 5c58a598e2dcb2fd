"""Persistence: SQLAlchemy models, Alembic migrations, engine and sessions, query functions,
and the raw-message archive. Query functions take a Session, flush, and never commit.

It may import the result types of :mod:`parsers`, never :mod:`pec_ingest`.
"""

from store.archive import Archive
from store.engine import make_engine, session_factory
from store.errors import (
    ArchiveCorrupt,
    ArchiveError,
    ArchiveMissing,
    DatabaseUnavailable,
    DuplicateMessage,
    InvalidRecord,
    NotMigrated,
    StoreError,
    UnknownRevision,
)
from store.messages import (
    add_attachment,
    add_message,
    find_message,
    find_message_at,
    record_failure,
    set_outcome,
)
from store.migration import current_revision, ensure_current, head_revision, upgrade
from store.model import (
    Acknowledgement,
    Attachment,
    Message,
    Organisation,
    ProcedureCounter,
    Receipt,
    ReviewReason,
    Submission,
    SubmissionTavolo,
)
from store.receipts import (
    add_acknowledgement,
    add_receipt,
    find_acknowledgement,
    normalise_message_id,
)
from store.reports import current_submissions, stats, submission_history
from store.review import add_review_reason, resolve_review_reasons, review_queue
from store.submissions import (
    add_submission,
    get_or_create_organisation,
    next_registration,
    normalise_sender,
    provisional_organisation,
)

__all__ = [
    "Acknowledgement", "Archive", "ArchiveCorrupt", "ArchiveError", "ArchiveMissing",
    "Attachment", "DatabaseUnavailable", "DuplicateMessage", "InvalidRecord", "Message",
    "NotMigrated", "Organisation", "ProcedureCounter", "Receipt", "ReviewReason", "StoreError",
    "Submission", "SubmissionTavolo", "UnknownRevision", "add_acknowledgement",
    "add_attachment", "add_message", "add_receipt", "add_review_reason", "add_submission",
    "current_revision", "current_submissions", "ensure_current", "find_acknowledgement",
    "find_message", "find_message_at", "get_or_create_organisation", "head_revision",
    "make_engine", "next_registration", "normalise_message_id", "normalise_sender",
    "provisional_organisation", "record_failure", "resolve_review_reasons", "review_queue",
    "session_factory", "set_outcome", "stats", "submission_history", "upgrade",
]
