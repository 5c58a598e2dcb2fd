"""Errors raised by :mod:`store` (persistence: database and raw-message archive).

::

    StoreError                      anything the store reports; never a bare SQLAlchemy error
    ├── DatabaseUnavailable         the URL is malformed, the driver is missing, or the server
    │                               cannot be reached
    ├── NotMigrated                 the schema is missing or older than the code:
    │                               run ``pec-ingest db upgrade``
    ├── UnknownRevision             the schema is newer than the code (downgraded program?)
    ├── DuplicateMessage            the same message (sha256, identificativo, or IMAP
    │                               mailbox/folder/UIDVALIDITY/UID) is already recorded
    ├── InvalidRecord               a value the schema would refuse (unknown tavolo code,
    │                               naive datetime, no codice fiscale and no sender...)
    └── ArchiveError                the raw-message archive cannot be written or read
        ├── ArchiveMissing          no archived file at that path
        └── ArchiveCorrupt          the file's bytes no longer match its sha256

Third-party exceptions (SQLAlchemy, Alembic, OSError) are translated where they enter the store,
with the original chained as ``__cause__``. Messages are Italian: staff read them.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the store raises."""


class DatabaseUnavailable(StoreError):
    """The database cannot be opened (bad URL, missing driver, server down)."""


class NotMigrated(StoreError):
    """The database schema is missing or behind the code's head revision."""

    def __init__(self, message: str = "database non aggiornato: eseguire `pec-ingest db upgrade`",
                 *, current: str | None = None, head: str | None = None) -> None:
        self.current = current
        self.head = head
        super().__init__(message)


class UnknownRevision(StoreError):
    """The database was migrated by a newer version of the program."""

    def __init__(self, current: str, head: str | None) -> None:
        self.current = current
        self.head = head
        super().__init__(
            f"database alla revisione {current}, sconosciuta a questa versione del programma "
            f"(ultima nota: {head}): aggiornare pec-ingest")


class DuplicateMessage(StoreError):
    """A message with the same bytes, identificativo or IMAP coordinates already exists."""

    def __init__(self, existing_id: int | None, field: str, value: object) -> None:
        self.existing_id = existing_id
        self.field = field
        self.value = value
        super().__init__(f"messaggio già registrato (id={existing_id}, {field}={value!r})")


class BatchRefused(StoreError):
    """Rows written together were refused (one of them at least): none was written."""


class InvalidRecord(StoreError):
    """A value the schema does not accept."""


class ArchiveError(StoreError):
    """The raw-message archive failed."""


class ArchiveMissing(ArchiveError):
    """No file is archived at the given relative path."""


class ArchiveCorrupt(ArchiveError):
    """An archived file's content does not match the sha256 in its name."""
