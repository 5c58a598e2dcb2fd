"""Rewrite BER as definite-length bytes, without recursion: bytes in, bytes out.

Real signed files arrive in BER: indefinite lengths, the document cut into a constructed
OCTET STRING of chunks, sometimes nested many levels deep. asn1crypto stops at ten levels of
indefinite-length nesting, so :func:`to_definite` first rewrites the whole structure with an
explicit stack (no Python recursion, depth bounded by the caller):

* every indefinite length becomes a minimal definite length;
* every constructed universal OCTET STRING (tag 0x24), however deeply nested, becomes one
  primitive OCTET STRING (0x04) holding the concatenated chunks;
* every other byte (tags, primitive values, the order of SET members) is kept as received, so
  signed attributes can still be verified over the bytes the signer produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parsers.errors import LimitExceeded, SignedDataError

_OCTET_STRING = b"\x04"
_CONSTRUCTED_OCTET_STRING = b"\x24"
_EOC = b"\x00\x00"


@dataclass(frozen=True)
class Definite:
    """The rewritten first element of the input."""

    data: bytes
    was_ber: bool  # an indefinite length or a constructed OCTET STRING was rewritten
    trailing: int  # bytes after the element (ignored)


@dataclass
class _Frame:
    ident: bytes
    flatten: bool  # a constructed OCTET STRING (or a chunk inside one)
    bound: int  # where this element must end at the latest
    end: int | None  # None: indefinite length, ends at the end-of-contents marker
    parts: list[bytes] = field(default_factory=list)


def der_length(n: int) -> bytes:
    """The minimal definite length octets for ``n``."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def read_header(data: bytes, pos: int, bound: int) -> tuple[bytes, int, int | None, bool]:
    """Read one identifier and length at ``pos``.

    Return ``(identifier, contents_start, length or None if indefinite, constructed)``.
    A definite length that runs past ``bound`` is reported as truncation.
    """
    if pos >= bound:
        raise SignedDataError("struttura ASN.1 troncata: il file è incompleto")
    first = data[pos]
    constructed = bool(first & 0x20)
    p = pos + 1
    if first & 0x1F == 0x1F:  # high tag number: base-128 digits
        while True:
            if p >= bound or p - pos > 5:
                raise SignedDataError("struttura ASN.1 non valida: etichetta illeggibile")
            p += 1
            if not data[p - 1] & 0x80:
                break
    if p >= bound:
        raise SignedDataError("struttura ASN.1 troncata: il file è incompleto")
    ident = data[pos:p]
    lead = data[p]
    p += 1
    length: int | None
    if lead == 0x80:
        if not constructed:
            raise SignedDataError("struttura ASN.1 non valida: lunghezza indefinita su un valore")
        length = None
    elif lead & 0x80:
        count = lead & 0x7F
        if count > 8 or p + count > bound:
            raise SignedDataError("struttura ASN.1 troncata o non valida (lunghezza)")
        length = int.from_bytes(data[p : p + count], "big")
        p += count
    else:
        length = lead
    if length is not None and p + length > bound:
        raise SignedDataError("struttura ASN.1 troncata: il file è incompleto")
    return ident, p, length, constructed


def to_definite(data: bytes, max_depth: int) -> Definite:
    """Rewrite the first ASN.1 element of ``data`` with definite lengths (see module doc).

    Raises :class:`SignedDataError` on truncated or malformed input and
    :class:`LimitExceeded` when constructed elements nest deeper than ``max_depth``.
    """
    end = _definite_der_end(data, max_depth)
    if end is not None:  # nothing to rewrite: the element as received
        return Definite(data[:end], False, len(data) - end)
    return rewrite(data, max_depth)


def rewrite(data: bytes, max_depth: int) -> Definite:
    """The full rewrite behind :func:`to_definite`, element by element (no shortcut)."""
    stack: list[_Frame] = []
    size = len(data)
    pos = 0
    was_ber = False
    while True:
        top = stack[-1] if stack else None
        if top is not None and _at_end(data, pos, top):
            pos += 2 if top.end is None else 0
            done = _close(stack)
            if done is not None:
                return Definite(done, was_ber, size - pos)
            continue
        bound = top.bound if top is not None else size
        ident, start, length, constructed = read_header(data, pos, bound)
        flatten = top is not None and top.flatten
        if flatten and ident not in (_OCTET_STRING, _CONSTRUCTED_OCTET_STRING):
            raise SignedDataError("struttura ASN.1 non valida: frammento di OCTET STRING errato")
        if not constructed:
            assert length is not None  # read_header refuses indefinite primitives
            pos = start + length
            done = _emit(stack, ident, data[start:pos], flatten=False)
            if done is not None:
                return Definite(done, was_ber, size - pos)
            continue
        if len(stack) >= max_depth:
            raise LimitExceeded(f"struttura ASN.1 annidata oltre {max_depth} livelli")
        is_chunked = ident == _CONSTRUCTED_OCTET_STRING
        was_ber = was_ber or length is None or is_chunked
        end = None if length is None else start + length
        stack.append(_Frame(ident, flatten or is_chunked, bound if end is None else end, end))
        pos = start


def der_element(data: bytes, pos: int, bound: int) -> tuple[int, int, int] | None:
    """The element at ``pos`` as ``(tag, contents start, end)`` when its header is what
    :func:`_definite_der_end` accepts (a single-byte tag other than a constructed OCTET
    STRING, a definite minimal length, within ``bound``); None otherwise. (That walk repeats
    these lines inline: it is the hot loop of every signature check.)"""
    if pos + 1 >= bound:
        return None
    first = data[pos]
    if first & 0x1F == 0x1F or first == 0x24:
        return None
    lead = data[pos + 1]
    if lead < 0x80:
        start = pos + 2
        end = start + lead
    else:
        start = pos + 2 + (lead & 0x7F)
        if lead == 0x80 or lead > 0x88 or start > bound or data[pos + 2] == 0:
            return None  # indefinite, absurd, truncated or non-minimal
        length = int.from_bytes(data[pos + 2 : start], "big")
        if length < 0x80:
            return None  # non-minimal
        end = start + length
    return None if end > bound else (first, start, end)


def _definite_der_end(data: bytes, max_depth: int) -> int | None:
    """Where the first element ends when :func:`to_definite` would return it unchanged.

    That is when every length is definite and minimal, no tag is a constructed OCTET STRING
    (0x24) or a high tag number, every element fits its parent and nesting stays within
    ``max_depth``. Anything else (including every malformed input) answers None, and the full
    rewrite decides: it builds the same bytes or raises the same error as it always did.
    """
    if type(data) is not bytes:  # the rewrite's slices keep the input's type
        return None
    outer: list[int] = []  # the bounds of the open elements around the current one
    bound = len(data)  # where the innermost open element ends (the input's end at first)
    pos = 0
    while True:
        if pos + 1 >= bound:
            return None
        first = data[pos]
        if first & 0x1F == 0x1F or first == 0x24:
            return None
        lead = data[pos + 1]
        if lead < 0x80:
            start = pos + 2
            end = start + lead
        else:
            start = pos + 2 + (lead & 0x7F)
            if lead == 0x80 or lead > 0x88 or start > bound or data[pos + 2] == 0:
                return None  # indefinite, absurd, truncated or non-minimal
            length = int.from_bytes(data[pos + 2 : start], "big")
            if length < 0x80:
                return None  # non-minimal
            end = start + length
        if end > bound:
            return None
        if first & 0x20:
            if len(outer) >= max_depth:
                return None
            outer.append(bound)
            bound = end
            pos = start
        else:
            pos = end
        while pos == bound and outer:  # close the elements that end here
            bound = outer.pop()
        if not outer:
            return pos


def _at_end(data: bytes, pos: int, frame: _Frame) -> bool:
    if frame.end is not None:
        return pos == frame.end
    if pos + 2 > frame.bound:
        raise SignedDataError("struttura ASN.1 troncata: manca la fine di un elemento")
    return data[pos : pos + 2] == _EOC


def _close(stack: list[_Frame]) -> bytes | None:
    frame = stack.pop()
    return _emit(stack, frame.ident, b"".join(frame.parts), flatten=frame.flatten)


def _emit(stack: list[_Frame], ident: bytes, body: bytes, *, flatten: bool) -> bytes | None:
    """Hand a finished element to its parent; return it when it is the outermost one."""
    parent = stack[-1] if stack else None
    if parent is not None and parent.flatten:
        parent.parts.append(body)
        return None
    element = (_OCTET_STRING if flatten else ident) + der_length(len(body)) + body
    if parent is None:
        return element
    parent.parts.append(element)
    return None
