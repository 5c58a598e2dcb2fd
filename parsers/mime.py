"""Raw MIME reading that keeps every part's bytes exactly as carried.

The :mod:`email` package is used for what it does well (header names and values, RFC 2047 and
RFC 2231 decoding under ``email.policy.default``); bodies are split by boundary here, on the
raw bytes, so a signed part or a ``postacert.eml`` can be handed on byte for byte. Nothing in
this module raises on malformed input: problems become short warnings.
"""

from __future__ import annotations

import binascii
import codecs
import email.errors
import hashlib
import re
from dataclasses import dataclass, field
from email.headerregistry import BaseHeader
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.policy import default as default_policy
from functools import cached_property

from parsers.limits import DEFAULT_LIMITS, Limits
from parsers.mime_params import (
    PLAIN_STRUCTURED,
    UNSTRUCTURED,
    SimpleField,
    simple_field_of,
    simple_structured,
    simple_unstructured,
)
from parsers.origin import raised_within

_HEADER_ERRORS = (
    ValueError,
    TypeError,
    RecursionError,
    LookupError,  # IndexError, KeyError
    AttributeError,
    email.errors.MessageError,
)
# ValueError (UnicodeError), RecursionError and MessageError are the email package's answers to
# a malformed header; the others count only when they came out of the email package's own code
# (its header parser on hostile input), never from ours (:func:`_malformed_header`).
_HEADER_ANSWERS = (ValueError, RecursionError, email.errors.MessageError)
_BLANK_LINE = re.compile(rb"\n\r?\n")
_FIELD_START = re.compile(rb"\n(?=[^ \t])")
_FIELD_NAME = re.compile(r"[\041-\071\073-\176]+:")  # the email feed parser's header line
_MAX_HEAD_BYTES = 256 * 1024
MAX_HEAD_BYTES = _MAX_HEAD_BYTES  # public: a caller may judge what the cut could hide
_MAX_FIELD_BYTES = 4096
_MAX_PARENTHESES = 32
MIME_HEADER_BUDGET = 128 * 1024  # bytes of Content-Type/-Disposition parsed per walk
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_BASE64 = bytes(b for b in range(256) if b not in _BASE64_ALPHABET)
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
    """A message or body part: its header fields and the raw body exactly as carried.

    Header fields are split cheaply (``compat32``) and each field that is needed is parsed once,
    on demand: Content-Type and Content-Disposition in their plain form by
    :mod:`parsers.mime_params`, everything else with ``email.policy.default`` (RFC 2047 /
    RFC 2231 decoding); that parser is slow on hostile input, so its results are cached and
    its input bounded.
    """

    headers: Message
    body: bytes
    warnings: tuple[str, ...] = ()

    @cached_property
    def _content_type(self) -> BaseHeader | None:
        return header_field(self.headers, "Content-Type")

    @cached_property
    def _content_disposition(self) -> BaseHeader | None:
        return header_field(self.headers, "Content-Disposition")

    @cached_property
    def _simple_type(self) -> SimpleField | None:
        return simple_field_of(self.headers, "Content-Type")

    @cached_property
    def _simple_disposition(self) -> SimpleField | None:
        return simple_field_of(self.headers, "Content-Disposition")

    @cached_property
    def ctype(self) -> str:
        if (simple := self._simple_type) is not None:
            return simple.value or "text/plain"
        value = getattr(self._content_type, "content_type", None)
        return value.lower() if isinstance(value, str) and "/" in value else "text/plain"

    @cached_property
    def boundary(self) -> str | None:
        if not self.ctype.startswith("multipart/"):
            return None
        return self._type_param("boundary")

    @cached_property
    def filename(self) -> str | None:
        simple = self._simple_disposition
        by_disposition = (simple.params.get("filename") if simple is not None
                          else _param(self._content_disposition, "filename"))
        name = by_disposition or self._type_param("name")
        return (name.strip() or None) if name else None

    @cached_property
    def disposition(self) -> str | None:
        if (simple := self._simple_disposition) is not None:
            return simple.value or None
        value = getattr(self._content_disposition, "content_disposition", None)
        return value.lower() if isinstance(value, str) else None

    def _type_param(self, name: str) -> str | None:
        if (simple := self._simple_type) is not None:
            return simple.params.get(name)
        return _param(self._content_type, name)

    @property
    def mime_header_bytes(self) -> int:
        """Size of the fields the slow parser reads (for the walk's budget)."""
        return sum(
            len(value) for key, value in self.headers.raw_items()
            if key.lower() in ("content-type", "content-disposition")
        )  # fmt: skip


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
    """Split ``raw`` at the first blank line into header fields and the raw body."""
    if raw.startswith((b"\n", b"\r\n")):
        head, body = b"", raw[raw.index(b"\n") + 1 :]
    else:
        match = _BLANK_LINE.search(raw)
        if match is None:
            head, body = raw, b""
        else:
            head, body = raw[: match.start() + 1], raw[match.end() :]
    head, tamed = _tame(head)
    warnings = ("intestazioni troppo lunghe o malformate: accorciate",) if tamed else ()
    plain = _plain_headers(head)
    if plain is not None:
        return MimePart(headers=plain, body=body, warnings=warnings)
    try:
        headers = BytesParser(policy=compat32).parsebytes(head + b"\n", headersonly=True)
    except _HEADER_ERRORS as exc:
        if not _malformed_header(exc):
            raise
        headers, warnings = Message(), ("intestazioni illeggibili",)
    return MimePart(headers=headers, body=body, warnings=warnings)


def _plain_headers(head: bytes) -> Message | None:
    """The fields of ``head`` as ``BytesParser(policy=compat32)`` reads them (headers only),
    built directly when every line is a plain ``name:`` field or a continuation and every CR
    ends a line; None otherwise (a Unix From line, a stray line, a lone CR...): the parser
    decides, with its defects."""
    text = head.decode("ascii", "surrogateescape")
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return None
    message = Message(policy=compat32)
    lines: list[str] = []  # the field being read: its first line and continuations
    for line in text.removesuffix("\n").split("\n") if text else ():
        if line[:1] in (" ", "\t") and lines:
            lines.append(line + "\n")
            continue
        if _FIELD_NAME.match(line) is None:
            return None
        if lines:
            message.set_raw(*compat32.header_source_parse(lines))
        lines = [line + "\n"]
    if lines:
        message.set_raw(*compat32.header_source_parse(lines))
    message.set_payload("")
    return message


def _malformed_header(exc: BaseException) -> bool:
    return isinstance(exc, _HEADER_ANSWERS) or raised_within(exc, ("email",))


def _tame(head: bytes) -> tuple[bytes, bool]:
    """Bound what the header parser sees: its cost grows with field length, and deeply
    nested comments exhaust its recursion."""
    tamed = len(head) > _MAX_HEAD_BYTES
    fields = _FIELD_START.split(head[:_MAX_HEAD_BYTES])
    for index, value in enumerate(fields):
        if len(value) > _MAX_FIELD_BYTES:
            value, tamed = value[:_MAX_FIELD_BYTES], True
        if value.count(b"(") > _MAX_PARENTHESES:
            value, tamed = value.replace(b"(", b"").replace(b")", b""), True
        fields[index] = value
    return (b"\n".join(fields), True) if tamed else (head, False)


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


def header_field(msg: Message, name: str) -> BaseHeader | None:
    """The first field ``name`` (case-insensitive) parsed by ``email.policy.default``."""
    wanted = name.lower()
    try:
        for key, value in msg.raw_items():
            if key.lower() == wanted:
                parsed: BaseHeader = default_policy.header_fetch_parse(key, value)
                return parsed
    except _HEADER_ERRORS as exc:
        if not _malformed_header(exc):
            raise
        return None
    return None


def header(msg: Message, name: str) -> str | None:
    """The decoded value of header ``name`` (case-insensitive), or None; never raises."""
    wanted = name.lower()
    if wanted in UNSTRUCTURED:
        raw = next((v for k, v in msg.raw_items() if k.lower() == wanted), None)
        plain = simple_unstructured(raw) if isinstance(raw, str) else None
        if raw is None or plain is not None:
            return plain.strip() if plain is not None else None
    elif wanted in PLAIN_STRUCTURED:
        raw = next((v for k, v in msg.raw_items() if k.lower() == wanted), None)
        if raw is None:
            return None
        if isinstance(raw, str) and simple_structured(wanted, raw) is not None:
            return raw
    parsed = header_field(msg, name)
    if parsed is not None:
        return clean_text(str(parsed)).strip()
    raw = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    return clean_text(" ".join(str(raw).split())) if raw is not None else None


def _param(parsed: BaseHeader | None, name: str) -> str | None:
    params = getattr(parsed, "params", None)
    try:
        value = params.get(name) if params is not None else None
    except _HEADER_ERRORS as exc:
        if not _malformed_header(exc):
            raise
        return None
    return clean_text(value) if isinstance(value, str) else None


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
    marks = _delimiters(body, b"--" + token, max_parts + 1)
    parts: list[bytes] = []
    for index, (_at, line_end, closing) in enumerate(marks):
        if closing:
            return parts, True
        start = _line_end(body, line_end)
        if index + 1 < len(marks):
            end = _before_line_break(body, marks[index + 1][0])
            parts.append(body[start : max(start, end)])
        else:
            parts.append(body[start:])
    return parts, False


def _delimiters(body: bytes, marker: bytes, limit: int) -> list[tuple[int, int, bool]]:
    """At most ``limit`` delimiter lines ``marker`` (``--boundary``), optionally ``--`` (the
    closing one), blanks and a CR: (start, end before the LF, closing). A plain search: no
    regular expression is compiled for each boundary."""
    found: list[tuple[int, int, bool]] = []
    pos = 0
    while len(found) < limit and (at := body.find(marker, pos)) >= 0:
        pos = at + 1
        if at and body[at - 1] != 0x0A:  # not at the start of a line
            continue
        end = at + len(marker)
        closing = body[end : end + 2] == b"--"
        end += 2 if closing else 0
        while body[end : end + 1] in (b" ", b"\t"):
            end += 1
        end += body[end : end + 1] == b"\r"
        if end < len(body) and body[end] != 0x0A:
            continue
        found.append((at, end, closing))
        pos = end
    return found


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
    letters = data.translate(None, _NOT_BASE64)  # one pass, one copy (a regex sub is ~6x)
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
    return walk_part(split_message(raw), limits, prefix)


def walk_part(part: MimePart, limits: Limits = DEFAULT_LIMITS, prefix: str = "") -> WalkResult:
    """:func:`walk` of a message already split by :func:`split_message`."""
    walker = _Walker(limits)
    walker.visit(part, prefix, 0)
    return WalkResult(tuple(walker.found), tuple(dict.fromkeys(walker.warnings)),
                      tuple(walker.messages))


class _Walker:
    """Accumulates one walk's results; a local object, never shared."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.count = 0
        self.budget = MIME_HEADER_BUDGET
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
        self.budget -= part.mime_header_bytes
        if self.budget < 0:
            self.warnings.append("intestazioni MIME eccessive: le parti restanti non sono lette")
            return
        self.warnings.extend(part.warnings)
        if part.ctype.startswith("multipart/"):
            self._visit_multipart(part, path, depth)
        elif part.ctype in _MESSAGE_TYPES:
            self._visit_message(part, path, depth)
        elif not _is_body_text(part):
            self._add_leaf(part, path)

    def _visit_multipart(self, part: MimePart, path: str, depth: int) -> None:
        if not part.boundary:
            self.warnings.append("parte multipart senza boundary: contenuto ignorato")
            return
        children, closed = split_multipart(part.body, part.boundary, self.limits.max_mime_parts)
        if not closed and len(children) < self.limits.max_mime_parts:
            self.warnings.append("messaggio troncato: delimitatore MIME finale assente")
        for child in children:
            self.visit(split_message(child), path, depth + 1)

    def _visit_message(self, part: MimePart, path: str, depth: int) -> None:
        data, warnings = decode_body(part)
        self.warnings.extend(warnings)
        name = part.filename or f"messaggio-{self.count}.eml"
        self.messages.append(Embedded(path=path + name, raw=data))
        self.visit(split_message(data), f"{path}{name}/", depth + 1)

    def _add_leaf(self, part: MimePart, path: str) -> None:
        data, warnings = decode_body(part)
        self.warnings.extend(warnings)
        name = part.filename
        self.warnings.extend(unknown_charset_warnings(part))
        self.found.append(
            Attachment(
                filename=name,
                content_type=part.ctype,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                data=data,
                path=path + (name or f"parte-{self.count}"),
            )
        )


_DECLARED_CHARSET = re.compile(r"=\?([^?*]+)(?:\*[^?]*)?\?[bBqQ]\?|\*=([^']*)'")


def unknown_charset_warnings(part: MimePart) -> list[str]:
    """Warn when a part's name is declared in a character set Python does not know."""
    raw = " ".join(str(value) for key, value in part.headers.raw_items()
                   if key.lower() in ("content-type", "content-disposition"))
    out = []
    for match in _DECLARED_CHARSET.finditer(raw):
        charset = (match.group(1) or match.group(2) or "").strip()
        if not charset:
            continue
        try:
            codecs.lookup(charset)
        except LookupError:
            out.append(f"nome dell'allegato in una codifica sconosciuta ({charset[:40]}): "
                       "decodificato per approssimazione")
    return out


def _is_body_text(part: MimePart) -> bool:
    return (
        part.ctype in _BODY_TEXT_TYPES
        and part.filename is None
        and part.disposition != "attachment"
    )
