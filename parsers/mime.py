"""Raw MIME reading that keeps every part's bytes exactly as carried.

The :mod:`email` package is used for what it does well (header names and values, RFC 2047 and
RFC 2231 decoding under ``email.policy.default``); bodies are split by boundary here, on the
raw bytes, so a signed part or a ``postacert.eml`` can be handed on byte for byte. Nothing in
this module raises on malformed input: problems become short warnings.
"""

from __future__ import annotations

import binascii
import email.errors
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import default as default_policy
from itertools import islice

from parsers.limits import DEFAULT_LIMITS, Limits

_HEADER_ERRORS = (
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    AttributeError,
    LookupError,
    email.errors.MessageError,
)
_BLANK_LINE = re.compile(rb"\n\r?\n")
_BASE64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")
_BASE64_FOREIGN = re.compile(rb"[^A-Za-z0-9+/=\s]")
_BODY_TEXT_TYPES = frozenset({"text/plain", "text/html"})
_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})


@dataclass(frozen=True)
class Attachment:
    """One attached file: decoded bytes, the (decoded) name and where it was found."""

    filename: str | None
    content_type: str
    size: int
    sha256: str
    data: bytes = field(repr=False)
    path: str


@dataclass(frozen=True)
class MimePart:
    """A message or body part: parsed headers and the raw body exactly as carried."""

    headers: Message
    body: bytes


@dataclass(frozen=True)
class Embedded:
    """A ``message/rfc822`` part met while walking: its decoded bytes and path."""

    path: str
    raw: bytes


@dataclass(frozen=True)
class WalkResult:
    attachments: tuple[Attachment, ...]
    warnings: tuple[str, ...]
    messages: tuple[Embedded, ...]


def split_message(raw: bytes) -> MimePart:
    """Split ``raw`` at the first blank line into parsed headers and the raw body."""
    if raw.startswith((b"\n", b"\r\n")):
        head, body = b"", raw[raw.index(b"\n") + 1 :]
    else:
        match = _BLANK_LINE.search(raw)
        if match is None:
            head, body = raw, b""
        else:
            head, body = raw[: match.start() + 1], raw[match.end() :]
    try:
        headers = BytesParser(policy=default_policy).parsebytes(head + b"\n", headersonly=True)
    except _HEADER_ERRORS:
        headers = EmailMessage(policy=default_policy)
    return MimePart(headers=headers, body=body)


def clean_text(value: str) -> str:
    """Turn surrogate-escaped raw bytes (8-bit header text) into readable text."""
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def header(msg: Message, name: str) -> str | None:
    """The decoded value of header ``name`` (case-insensitive), or None; never raises."""
    try:
        value = msg.get(name)
        if value is None:
            return None
        return clean_text(str(value)).strip()
    except _HEADER_ERRORS:
        try:
            raw = msg.get_all(name, failobj=[])
        except _HEADER_ERRORS:
            return None
        return clean_text(str(raw[0])).strip() if raw else None


def content_type(msg: Message) -> str:
    try:
        return msg.get_content_type()
    except _HEADER_ERRORS:
        return "application/octet-stream"


def param(msg: Message, name: str) -> str | None:
    try:
        value = msg.get_param(name)
    except _HEADER_ERRORS:
        return None
    if value is None or isinstance(value, tuple):
        return None
    return clean_text(str(value))


def filename(msg: Message) -> str | None:
    """The decoded file name from Content-Disposition or Content-Type ``name``."""
    try:
        name = msg.get_filename()
    except _HEADER_ERRORS:
        name = None
    if name is None:
        name = param(msg, "name")
    if name is None:
        return None
    name = clean_text(str(name)).strip()
    return name or None


def disposition(msg: Message) -> str | None:
    try:
        return msg.get_content_disposition()
    except _HEADER_ERRORS:
        return None


def split_multipart(body: bytes, boundary: str, max_parts: int) -> tuple[list[bytes], bool]:
    """Split a multipart body into its parts' raw bytes (RFC 2046 section 5.1.1).

    The line break before each delimiter belongs to the delimiter, so a part's bytes are
    exactly what a signature over it covers. Returns the parts and whether the closing
    delimiter was found (False means a truncated message).
    """
    try:
        token = boundary.encode("utf-8", "surrogateescape")
    except UnicodeError:
        return [], False
    pattern = re.compile(rb"^--" + re.escape(token) + rb"(--)?[ \t]*\r?$", re.MULTILINE)
    marks = list(islice(pattern.finditer(body), max_parts + 1))
    parts: list[bytes] = []
    for index, mark in enumerate(marks):
        if mark.group(1):
            return parts, True
        start = _line_end(body, mark.end())
        if index + 1 < len(marks):
            end = _before_line_break(body, marks[index + 1].start())
            parts.append(body[start : max(start, end)])
        else:
            parts.append(body[start:])
    return parts, False


def _line_end(data: bytes, pos: int) -> int:
    return pos + 1 if data[pos : pos + 1] == b"\n" else pos


def _before_line_break(data: bytes, pos: int) -> int:
    if data[pos - 2 : pos] == b"\r\n":
        return pos - 2
    if data[pos - 1 : pos] == b"\n":
        return pos - 1
    return pos


def decode_body(part: MimePart) -> tuple[bytes, tuple[str, ...]]:
    """Undo the Content-Transfer-Encoding, leniently."""
    encoding = (header(part.headers, "Content-Transfer-Encoding") or "").lower()
    if encoding == "base64":
        return decode_base64(part.body)
    if encoding == "quoted-printable":
        try:
            return binascii.a2b_qp(part.body), ()
        except (binascii.Error, ValueError):
            return part.body, ("quoted-printable non valido: contenuto lasciato com'è",)
    if encoding in ("", "7bit", "8bit", "binary"):
        return part.body, ()
    return part.body, (f"codifica di trasferimento sconosciuta ({encoding[:40]})",)


def decode_base64(data: bytes) -> tuple[bytes, tuple[str, ...]]:
    """Decode base64 ignoring line breaks and repairing padding; junk gives a warning."""
    warnings: tuple[str, ...] = ()
    if _BASE64_FOREIGN.search(data):
        warnings = ("base64 con caratteri non validi: contenuto forse incompleto",)
    letters = _BASE64_JUNK.sub(b"", data)
    if len(letters) % 4 == 1:
        letters = letters[:-1]
        warnings = warnings or ("base64 troncato: contenuto forse incompleto",)
    letters += b"=" * (-len(letters) % 4)
    try:
        return binascii.a2b_base64(letters), warnings
    except binascii.Error:
        return b"", ("base64 illeggibile",)


def walk_attachments(
    raw_message_bytes: bytes, limits: Limits = DEFAULT_LIMITS
) -> tuple[tuple[Attachment, ...], tuple[str, ...]]:
    """The attachments of any message, found recursively, with warnings."""
    result = walk(raw_message_bytes, limits)
    return result.attachments, result.warnings


def walk(raw: bytes, limits: Limits = DEFAULT_LIMITS, prefix: str = "") -> WalkResult:
    """Walk a message: attachments (leaf parts that are not the body text), embedded
    messages (descended into as well) and warnings, within ``limits``."""
    walker = _Walker(limits)
    walker.visit(split_message(raw), prefix, 0)
    return WalkResult(tuple(walker.found), tuple(dict.fromkeys(walker.warnings)),
                      tuple(walker.messages))


class _Walker:
    """Accumulates one walk's results; a local object, never shared."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.count = 0
        self.found: list[Attachment] = []
        self.warnings: list[str] = []
        self.messages: list[Embedded] = []

    def visit(self, part: MimePart, path: str, depth: int) -> None:
        self.count += 1
        if self.count > self.limits.max_mime_parts:
            self.warnings.append(f"troppe parti MIME (oltre {self.limits.max_mime_parts}): "
                                 "le restanti non sono state lette")
            return
        if depth > self.limits.max_mime_depth:
            self.warnings.append(f"struttura MIME troppo annidata (oltre "
                                 f"{self.limits.max_mime_depth} livelli): parti ignorate")
            return
        ctype = content_type(part.headers)
        if ctype.startswith("multipart/"):
            self._visit_multipart(part, path, depth)
        elif ctype in _MESSAGE_TYPES:
            self._visit_message(part, path, depth)
        elif not _is_body_text(part.headers, ctype):
            self._add_leaf(part, path, ctype)

    def _visit_multipart(self, part: MimePart, path: str, depth: int) -> None:
        boundary = param(part.headers, "boundary")
        if not boundary:
            self.warnings.append("parte multipart senza boundary: contenuto ignorato")
            return
        children, closed = split_multipart(part.body, boundary, self.limits.max_mime_parts)
        if not closed:
            self.warnings.append("messaggio troncato: delimitatore MIME finale assente")
        for child in children:
            self.visit(split_message(child), path, depth + 1)

    def _visit_message(self, part: MimePart, path: str, depth: int) -> None:
        data, warnings = decode_body(part)
        self.warnings.extend(warnings)
        name = filename(part.headers) or f"messaggio-{self.count}.eml"
        self.messages.append(Embedded(path=path + name, raw=data))
        self.visit(split_message(data), f"{path}{name}/", depth + 1)

    def _add_leaf(self, part: MimePart, path: str, ctype: str) -> None:
        data, warnings = decode_body(part)
        self.warnings.extend(warnings)
        name = filename(part.headers)
        self.found.append(
            Attachment(
                filename=name,
                content_type=ctype,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                data=data,
                path=path + (name or f"parte-{self.count}"),
            )
        )


def _is_body_text(headers: Message, ctype: str) -> bool:
    return (
        ctype in _BODY_TEXT_TYPES
        and filename(headers) is None
        and disposition(headers) != "attachment"
    )
