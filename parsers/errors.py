"""Errors raised by :mod:`parsers`.

::

    ParseError                      anything this package refuses to read
    ├── UnreadableInput             empty, truncated, junk, encrypted, not what it claims to be
    │   └── LimitExceeded           too big, too deep, expands too much (zip bomb), too many pages
    ├── SignedDataError             a CAdES / PKCS#7 container that cannot be unwrapped
    │   └── UnsupportedContainer    a known container kind we do not open (e.g. some .m7m/.tsd)
    └── UnsupportedFormat           a document format the form reader does not handle

Every error carries a one-line, human-readable message (shown to staff and on stderr) and,
where known, the ``filename`` it is about. Parsers never log: they return results with
warnings or raise one of these.
"""

from __future__ import annotations


class ParseError(Exception):
    """Base class: the input could not be read."""

    def __init__(self, message: str, *, filename: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.filename = filename

    def __str__(self) -> str:
        if self.filename:
            return f"{self.filename}: {self.message}"
        return self.message


class UnreadableInput(ParseError):
    """Empty, truncated, junk or encrypted input."""


class LimitExceeded(UnreadableInput):
    """The input exceeds a safety limit (size, depth, expansion ratio, pages)."""


class SignedDataError(ParseError):
    """A signed container (CAdES .p7m) that cannot be unwrapped."""


class UnsupportedContainer(SignedDataError):
    """A recognised container kind that this package does not open."""


class UnsupportedFormat(ParseError):
    """A document format the form reader does not handle."""
