"""Content-Type and Content-Disposition values in their plain form, read without the email
package's header parser: bytes in, values out.

``email.policy.default`` parses these fields correctly in every form (RFC 2047 encoded words,
RFC 2231 continuations and charsets, comments, quoted pairs) but costs tens of microseconds a
field, and a year of mail has tens of thousands of them. Nearly all are plain ASCII
``type/subtype; name=value; name="quoted value"``: those are read here with one regular
expression; anything else (non-ASCII, ``=?``, ``*`` or ``'`` in a name or token, comments,
backslashes, a repeated parameter, an invalid shape) returns None and the caller falls back to
the full parser, so the result is the same as the full parser's.

The same holds for the unstructured fields the envelope reads (Subject, the PEC ``X-`` fields):
plain ASCII without ``=?`` reads as itself with the line breaks removed; and for the structured
fields of :data:`PLAIN_STRUCTURED` (Content-Transfer-Encoding, Message-ID, From, Reply-To): a
bare token, a plain ``<dot-atom@dot-atom>`` or a bare ``dot-atom@dot-atom`` reads as itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message

_SPACE = r"[ \t\r\n]*"
_TOKEN = r"[!#$%&+.^_`|~0-9A-Za-z-]+"  # RFC 2045 token without * and ' (RFC 2231 marks)
_VALUE = rf'(?:"[^"\\\r\n]*"|{_TOKEN})'
_PARAMETER = rf";{_SPACE}({_TOKEN}){_SPACE}={_SPACE}({_VALUE}){_SPACE}"
_ONE_PARAMETER = re.compile(_PARAMETER)
_TYPE = re.compile(rf"{_SPACE}({_TOKEN}/{_TOKEN}){_SPACE}((?:{_PARAMETER})*);?{_SPACE}")
_DISPOSITION = re.compile(rf"{_SPACE}({_TOKEN}){_SPACE}((?:{_PARAMETER})*);?{_SPACE}")
_MAX_LENGTH = 4096
_LINE_BREAK = re.compile(r"\r|\n")
# Fields that email.policy.default reads as unstructured text (not in its header registry's
# map, or Subject): only these take the plain path of :func:`simple_unstructured`.
UNSTRUCTURED = frozenset({"subject", "auto-submitted", "x-ricevuta", "x-trasporto",
                          "x-tiporicevuta", "x-verificasicurezza", "x-riferimento-message-id"})
_ATEXT = r"[A-Za-z0-9!#$%&'*+/^_`{|}~-]"  # RFC 5322 atext without = and ? (encoded words)
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
# Structured fields whose plain values email.policy.default gives back unchanged.
PLAIN_STRUCTURED = {
    "content-transfer-encoding": re.compile(r"[A-Za-z0-9-]+"),
    "message-id": re.compile(rf"<{_DOT_ATOM}@{_DOT_ATOM}>"),
    "from": re.compile(rf"{_DOT_ATOM}@{_DOT_ATOM}"),  # a bare address, no display name
    "reply-to": re.compile(rf"{_DOT_ATOM}@{_DOT_ATOM}"),
}


@dataclass(frozen=True)
class SimpleField:
    """A plain field: its value lower-cased (``""``: the field is absent) and parameters
    (names lower-cased, values unquoted)."""

    value: str
    params: Mapping[str, str] = field(default_factory=dict)


ABSENT = SimpleField("")


def simple_field(raw: str, *, subtype: bool) -> SimpleField | None:
    """``raw`` (a Content-Type if ``subtype``, else a Content-Disposition) when it is plain;
    None when only the full parser can read it."""
    if len(raw) > _MAX_LENGTH or not raw.isascii() or "=?" in raw:
        return None
    match = (_TYPE if subtype else _DISPOSITION).fullmatch(raw)
    if match is None:
        return None
    params: dict[str, str] = {}
    for name, value in _ONE_PARAMETER.findall(match.group(2)):
        key = name.lower()
        if key in params:
            return None
        params[key] = value[1:-1] if value.startswith('"') else value
    return SimpleField(match.group(1).lower(), params)


def simple_field_of(headers: Message, name: str) -> SimpleField | None:
    """The first ``name`` field of ``headers`` (Content-Type or Content-Disposition) when it
    is plain or absent (:data:`ABSENT`); None when only the full parser can read it."""
    wanted = name.lower()
    for key, value in headers.raw_items():
        if key.lower() == wanted:
            if not isinstance(value, str):
                return None
            return simple_field(value, subtype=wanted == "content-type")
    return ABSENT


def simple_unstructured(raw: str) -> str | None:
    """An unstructured field's value as ``email.policy.default`` decodes it, when ``raw`` is
    plain ASCII without encoded words; None when only the full parser can read it."""
    if not raw.isascii() or "=?" in raw:
        return None
    if "\r" not in raw and "\n" not in raw:
        return raw
    return _LINE_BREAK.sub("", raw)


def simple_structured(name: str, raw: str) -> str | None:
    """A field of :data:`PLAIN_STRUCTURED` (``name`` lower-cased) as ``email.policy.default``
    reads it, when ``raw`` is plain; None when only the full parser can read it."""
    return raw if PLAIN_STRUCTURED[name].fullmatch(raw) else None
