"""Errors raised by :mod:`pec_ingest` (the daemon and its edges).

::

    PecIngestError                  anything the daemon or a command reports and survives
    ├── ConfigError                 the configuration file is wrong (exit 78, EX_CONFIG; no restart)
    ├── DatabaseError               the database is unreachable or not migrated
    │   └── NotMigrated             schema older than the code: run ``pec-ingest db upgrade``
    ├── MailboxError                IMAP connection, login or protocol failure
    ├── TransportError              SMTP failure sending an acknowledgement
    │   └── PermanentTransportError the server refused for good (5xx, bad recipient)
    └── NotFound                    a staff command named an id that does not exist

Parser problems are :class:`parsers.errors.ParseError` and never escape the per-message guard.
"""

from __future__ import annotations


class PecIngestError(Exception):
    """Base class for errors this package reports to the operator."""


class ConfigError(PecIngestError):
    """The configuration is invalid; the message lists every problem, one per line."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(f"  - {p}" for p in self.problems))


class DatabaseError(PecIngestError):
    """The database cannot be used."""


class NotMigrated(DatabaseError):
    """The database schema is not at the code's revision."""


class MailboxError(PecIngestError):
    """An IMAP mailbox could not be read."""


class TransportError(PecIngestError):
    """An acknowledgement could not be sent (temporary unless a subclass says otherwise)."""


class PermanentTransportError(TransportError):
    """The SMTP server refused the acknowledgement for good."""


class NotFound(PecIngestError):
    """No such record."""
