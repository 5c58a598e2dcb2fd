"""Text from mail made safe to store: the same row on SQLite and PostgreSQL, and header values
that can be written into a new header.

* NUL: PostgreSQL refuses U+0000 in ``text`` and in ``jsonb`` (SQLite keeps it), so a subject or
  a file name carrying one would be stored on one backend and quarantine the message on the
  other. :func:`replace_nul` runs before every flush of a session made by
  :func:`store.engine.session_factory` and puts U+FFFD (the replacement character: visibly
  "something was here") in its place, in every string attribute and inside JSON values.
* CR, LF and the other control characters: a header value from mail (Message-ID, subject,
  sender) may carry them once decoded (RFC 2047) and would break the header of a reply that
  reuses it. :func:`header_text` turns each run of them into one space. Addresses are not
  cleaned (that could invent a different address): callers refuse them instead.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

NUL = "\x00"
REPLACEMENT = "\ufffd"
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]+")


def header_text(value: str | None) -> str | None:
    """``value`` with each run of control characters (CR, LF, NUL...) made one space."""
    if value is None:
        return None
    return _CONTROLS.sub(" ", value)


def without_nul(value: Any) -> Any:
    """``value`` (a string, or JSON-like lists and dicts of them) with NUL replaced."""
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT) if NUL in value else value
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return value


def has_nul(value: Any) -> bool:
    """Whether ``value`` (a string, or JSON-like lists and dicts of them) holds a NUL."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    return False


def replace_nul(session: Session, _context: Any, _instances: Any) -> None:
    """``before_flush`` hook: no NUL reaches the database from a new or changed row (of a
    changed row, only the attributes set since it was loaded are looked at)."""
    for obj in session.new:
        state = inspect(obj)
        _clean(obj, state.dict, _columns(state.mapper))
    for obj in session.dirty:
        state = inspect(obj)
        columns = _columns(state.mapper)
        _clean(obj, state.dict, [key for key in state.committed_state if key in columns])


def _columns(mapper: Any) -> frozenset[str]:
    """The keys of ``mapper``'s column attributes (read once per mapper)."""
    keys = _COLUMN_KEYS.get(mapper)
    if keys is None:
        keys = _COLUMN_KEYS[mapper] = frozenset(a.key for a in mapper.column_attrs)
    return keys


_COLUMN_KEYS: dict[Any, frozenset[str]] = {}


def _clean(obj: Any, loaded: dict[str, Any], keys: Any) -> None:
    """``loaded``: the object's loaded values (its state's ``dict``: a key not loaded is not
    there, and is not written by the flush either)."""
    for key in keys:
        value = loaded.get(key)
        if isinstance(value, str):
            found = NUL in value
        else:  # repr (C, fast) writes a NUL as \x00: where it shows none there is none; where
            # it does (or a string holds a backslash and "x00"), the exact walk decides
            found = isinstance(value, list | dict) and "\\x00" in repr(value) and has_nul(value)
        if found:
            setattr(obj, key, without_nul(value))
