"""Errors of the web desk.

::

    PecIngestError (pec_ingest.errors)
    └── WebError                 a request the desk refuses
        ├── LoginRefused         wrong name or password, or too many attempts
        └── Forbidden            the role does not allow it, or the form's CSRF token is wrong

Messages are Italian: the page shows them to the staff member.
"""

from __future__ import annotations

from pec_ingest.errors import PecIngestError


class WebError(PecIngestError):
    """A request the desk refuses."""


class LoginRefused(WebError):
    """Wrong name or password, or too many attempts."""


class Forbidden(WebError):
    """The role does not allow the action, or the form's CSRF token is missing or wrong."""
