"""Errors of the staff desk.

::

    PecIngestError (pec_ingest.errors)
    └── DeskError                   a staff action that cannot be done as asked
        ├── CorrectionRefused       a value that does not pass the parser's own validation
        └── UsageError              a command asked wrongly (bad date, format, output): exit 2

Messages are Italian and say what to do instead; nothing has changed when one is raised.
"""

from __future__ import annotations

from pec_ingest.errors import PecIngestError


class DeskError(PecIngestError):
    """A staff action that cannot be done as asked."""


class CorrectionRefused(DeskError):
    """The value is not valid for the field; the reason says why."""


class UsageError(DeskError):
    """The command was asked wrongly (a bad date, a format that does not match the output
    file, an output folder that does not exist); exit code 2."""
