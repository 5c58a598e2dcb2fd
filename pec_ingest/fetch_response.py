"""IMAP FETCH responses read from bytes, with no connection: imapclient's answer, computed faster.

:func:`parse_fetch` takes the untagged FETCH data exactly as imaplib hands it over (a list whose
items are either ``bytes``, a piece of a response line, or ``(bytes ending in {n}, literal)``;
items do not map one to one onto responses) and returns what imapclient's
``response_parser.parse_fetch_response`` returns for the same data: ``{message id: {ITEM: value}}``
with ``b"SEQ"``, ints for numbers (``UID``, ``RFC822.SIZE``), ``None`` for ``NIL``, bytes for
atoms, quoted strings (escapes undone) and literals, tuples for parenthesised lists,
``datetime`` for ``INTERNALDATE`` (``normalise_times`` as imapclient) and
:class:`imapclient.response_types.BodyData` for ``BODY``/``BODYSTRUCTURE``. ``ENVELOPE`` is not
converted (we never ask for it): it stays the nested tuple.

imapclient reads one character at a time in Python; here each line is cut into tokens by one
``findall`` of a compiled regular expression (a C loop), and only the tokens are walked in Python,
each distinct token converted once.
A response that breaks the IMAP syntax (truncated, unbalanced parentheses, a literal whose
length differs from its ``{n}``, a message id that is not a number...) raises imapclient's
:class:`~imapclient.exceptions.ProtocolError`, an ``imaplib.IMAP4.error``, as imapclient does.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from imapclient.datetime_util import parse_to_datetime
from imapclient.exceptions import ProtocolError
from imapclient.response_types import BodyData

__all__ = ["parse_fetch"]

# The token grammar of imapclient's response_lexer: white space is space, tab, CR and LF; a
# quoted string may hold any byte, a backslash taking the next byte with it; an atom is a run of
# bytes other than controls, space, ( ) % " and [, where [ opens a bracket run up to the next ]
# (spaces and parentheses included: BODY[HEADER.FIELDS (FROM)]); ( ) % and the other control
# bytes are tokens of their own. What breaks it shows in the tokens found by one findall: an
# unterminated quoted string or bracket leaves a lone " or [ (the last alternative), an atom
# running into a quote keeps that quote at its end.
_TOKEN = re.compile(rb"""[ \t\r\n]*+(
    [()%\x00-\x08\x0b\x0c\x0e-\x1f]
  | "[^"\\]*+(?:\\.[^"\\]*+)*+"
  | (?:[^\x00-\x20()%"\[]++|\[[^\]]*+\])++"?
  | .
)""", re.DOTALL | re.VERBOSE)
_LITERAL = re.compile(rb"\{([0-9]+)\}")
_ESCAPE = re.compile(rb'\\([\\"])')

_OPEN, _CLOSE, _MISS = object(), object(), object()
# Deeper lists are refused (imapclient's recursive BodyData.create would exhaust the stack on
# a hostile BODYSTRUCTURE): a real one nests about two levels per MIME level, and the envelope
# reader refuses mail nested more than 12 MIME levels deep (parsers.limits).
MAX_DEPTH = 100


def parse_fetch(data: list[Any], normalise_times: bool = True,
                uid_is_key: bool = True) -> dict[int, dict[bytes, Any]]:
    """imapclient's ``parse_fetch_response(data, normalise_times, uid_is_key)``, as a dict."""
    if data == [None]:
        return {}
    top = _atoms(data)
    if len(top) % 2:
        raise ProtocolError("unexpected EOF")
    out: dict[int, dict[bytes, Any]] = {}
    dates: dict[bytes, datetime | None] = {}
    for i in range(0, len(top), 2):
        msg_id = seq = _int(top[i], "invalid message ID")
        items = top[i + 1]
        if not isinstance(items, tuple):
            raise ProtocolError(f"bad response type: {items!r}")
        if len(items) % 2:
            raise ProtocolError(f"uneven number of response items: {items!r}")
        values: dict[bytes, Any] = {b"SEQ": seq}
        for j in range(0, len(items), 2):
            key, value = items[j], items[j + 1]
            if not isinstance(key, bytes):
                raise ProtocolError(f"bad response item name: {key!r}")
            key = key.upper()
            if key == b"UID":
                uid = _int(value, "invalid UID")
                if uid_is_key:
                    msg_id = uid
                else:
                    values[key] = uid
            elif key == b"INTERNALDATE":
                if value not in dates:
                    dates[value] = _date(value, normalise_times)
                values[key] = dates[value]
            elif key in (b"BODY", b"BODYSTRUCTURE"):
                _check_body(value)
                values[key] = BodyData.create(value)
            else:
                values[key] = value
        out.setdefault(msg_id, {}).update(values)
    return out


def _atoms(data: list[Any]) -> list[Any]:
    """The top-level values of the whole token stream (records joined, literals in place).

    A token always means the same value: each distinct one is converted (and checked) once per
    call; most of a BODYSTRUCTURE is parentheses, NIL and the same few strings."""
    top: list[Any] = []
    current = top
    stack: list[list[Any]] = []
    known: dict[bytes, Any] = {b"(": _OPEN, b")": _CLOSE, b"NIL": None}
    for record in data:
        text, literal = _split_record(record)
        tokens = _TOKEN.findall(text)
        if literal is not None:
            _take_literal(tokens, literal, text)
        for token in tokens:
            value = known.get(token, _MISS)
            if value is _MISS:
                value = known[token] = _value(token, text)
                current.append(value)
            elif value is _OPEN:
                if len(stack) >= MAX_DEPTH:
                    raise ProtocolError(f"lists nested deeper than {MAX_DEPTH} levels")
                stack.append(current)
                current = []
            elif value is _CLOSE:
                if not stack:
                    raise ProtocolError(f"unbalanced ')' in {text[:200]!r}")
                done = tuple(current)
                current = stack.pop()
                current.append(done)
            else:
                current.append(value)
        if literal is not None:
            current.append(literal)
    if stack:
        raise ProtocolError(f"tuple incomplete at the end of the response: {current!r}")
    return top


def _split_record(record: Any) -> tuple[bytes, bytes | None]:
    """imaplib's item: a line (bytes), or (line ending in {n}, literal)."""
    literal = None
    if isinstance(record, tuple) and len(record) == 2:
        record, literal = record
        if not isinstance(literal, bytes):
            raise ProtocolError(f"literal is not bytes: {literal!r}")
    if not isinstance(record, bytes):
        raise ProtocolError(f"unexpected response record: {record!r}")
    return record, literal


def _value(token: bytes, text: bytes) -> Any:
    """What imapclient's ``atom`` makes of a token other than ( ) NIL."""
    first = token[0]
    if first == 0x22:  # "
        inner = token[1:-1]
        if len(token) < 2 or token[-1] != 0x22 or (b'"' in inner and b"\\" not in inner):
            raise ProtocolError(f"unterminated quoted string in {text[:200]!r}")
        return _ESCAPE.sub(rb"\1", inner) if b"\\" in inner else inner
    if token == b"[" or token.endswith(b'"'):  # quotes inside [...] are fine: ("FROM")
        raise ProtocolError(f"unterminated [ or an atom running into a quote in {text[:200]!r}")
    if first == 0x7B:  # {
        raise ProtocolError(f"no literal corresponds to {token!r}")
    if token.isdigit() and (first != 0x30 or len(token) == 1):  # 0123 stays bytes
        return int(token)
    return token


def _take_literal(tokens: list[bytes], literal: bytes, text: bytes) -> None:
    """Drop the ``{n}`` that ends a line followed by a literal, after checking n."""
    marker = _LITERAL.fullmatch(tokens[-1]) if tokens else None
    if marker is None or not text.endswith(tokens[-1]):  # nothing may follow the {n}
        raise ProtocolError(f"literal without a {{n}} marker: {text[-200:]!r}")
    if int(marker.group(1)) != len(literal):
        raise ProtocolError(f"expecting literal of size {int(marker.group(1))}, "
                            f"got {len(literal)}")
    del tokens[-1]


def _int(value: Any, what: str) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, bytes):
        try:
            return int(value)
        except ValueError:
            pass
    raise ProtocolError(f"{what}: {value!r}")


def _date(value: Any, normalise: bool) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, bytes):
        raise ProtocolError(f"bad INTERNALDATE: {value!r}")
    try:
        return parse_to_datetime(value, normalise=normalise)
    except (ValueError, OverflowError):
        return None


def _check_body(value: Any) -> None:
    """What ``BodyData.create`` needs: a non-empty tuple, and so is each leading part."""
    if not isinstance(value, tuple) or not value:
        raise ProtocolError(f"bad body structure: {value!r}")
    if isinstance(value[0], tuple):
        for part in value:
            if isinstance(part, bytes):
                break
            _check_body(part)
