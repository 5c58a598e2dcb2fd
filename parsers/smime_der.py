"""The common case of :func:`parsers.smime.verify_detached`, read straight from DER bytes.

A PEC provider signs every envelope and receipt the same way: a DER ``SignedData``, one
signer, its certificate inside, signed attributes, no unsigned ones. Reading that through
asn1crypto's objects cost about as much again as the rest of the envelope (its lazy parsing
of the structure and of each attribute, the check that the input is DER, the search of the
signer's certificate). :func:`verify_valid_der` walks those bytes itself and answers only
when the signature is **valid** and the input is that simple shape; it answers ``None`` for
anything else (BER, another shape, several signers, unsigned attributes, an unknown
algorithm, a digest or signature that does not verify, anything it does not read the way
asn1crypto would), and :func:`parsers.smime.verify_detached` then does its full reading,
with its reasons. So it never decides a reason, and it never calls valid what the full
reading would not:

* every element it walks is DER (definite, minimal lengths, single-byte tags), and every
  element it skips is checked as :func:`parsers.cades_ber.to_definite` checks it (a
  certificate once per encoding);
* the fields the full reading interprets are interpreted by the same functions: the signer's
  certificate and its facts (:mod:`parsers.cades_signer`, kept per encoding), the digest and
  signature algorithms and the verification (``_check_signature`` on the same SignerInfo);
  a signing time is read by asn1crypto as the full reading reads it (a malformed one sends
  the message to the full reading, which calls the signature unreadable);
* attributes whose encoding asn1crypto would rewrite when comparing their order (a length
  header ending in 0x80) are left to the full reading.
"""

from __future__ import annotations

import functools

from asn1crypto import algos, cms, x509
from cryptography.hazmat.primitives import hashes

from parsers.cades_ber import _definite_der_end, der_element, der_length
from parsers.cades_signer import (
    _HASHES,
    _KEPT_BYTES,
    ASN1_ERRORS,
    _find_certificate,
    certificate_facts,
    check_signature_value,
    malformed,
)

_SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")  # 1.2.840.113549.1.7.2
# Kept per encoding, bounded: an algorithm identifier or an attribute type (bytes), a signer
# identifier, and the certificates a signature carries (each at most _KEPT_BYTES)
_MAX_KEPT_KEY = 64
_MAX_KEPT_SID = 1024
_MAX_KEPT_CERTIFICATES = 4
_MAX_DEPTH = 64  # as parsers.smime's _MAX_BER_DEPTH


class _Decline(Exception):
    """Not the simple shape: the full reading decides."""


def verify_valid_der(content: bytes,
                     signature: bytes) -> tuple[str | None, tuple[bytes, ...]] | None:
    """``(signer's name, certificates: the signer's first)`` when the detached signature over
    ``content`` is valid and read here (see the module docstring); ``None`` otherwise."""
    try:
        return _verify(content, signature)
    except _Decline:
        return None
    except ASN1_ERRORS as exc:
        if not malformed(exc):
            raise
        return None


def _verify(content: bytes, signature: bytes) -> tuple[str | None, tuple[bytes, ...]]:
    tag, start, end = _tlv(signature, 0, len(signature))
    if tag != 0x30 or end != len(signature):  # trailing bytes: the full reading
        raise _Decline
    parts = _children(signature, start, end, 1)
    if [p[0] for p in parts] != [0x06, 0xA0] or _raw(signature, parts[0]) != _SIGNED_DATA_OID:
        raise _Decline
    inner = _children(signature, parts[1][1], parts[1][2], 2)
    if [p[0] for p in inner] != [0x30]:
        raise _Decline
    fields = _children(signature, inner[0][1], inner[0][2], 3)
    tags = [f[0] for f in fields]
    if tags not in ([0x02, 0x31, 0x30, 0xA0, 0x31], [0x02, 0x31, 0x30, 0xA0, 0xA1, 0x31]):
        raise _Decline  # no certificates, or a shape of its own
    for field in fields[:3] + fields[4:-1]:  # version, algorithms, content, CRLs
        _check_der(signature, field, 4)
    certificates = tuple(_certificate(signature, c) for c in
                         _children(signature, fields[3][1], fields[3][2], 4))
    signers = _children(signature, fields[-1][1], fields[-1][2], 4)
    if [s[0] for s in signers] != [0x30]:
        raise _Decline
    return _signer(content, signature, signers[0], certificates)


def _signer(content: bytes, data: bytes, where: tuple[int, int, int],
            certificates: tuple[bytes, ...]) -> tuple[str | None, tuple[bytes, ...]]:
    fields = _children(data, where[1], where[2], 5)
    tags = [f[0] for f in fields]
    if len(tags) != 6 or tags[0] != 0x02 or tags[1] not in (0x30, 0x80) or \
            tags[2:] != [0x30, 0xA0, 0x30, 0x04]:
        raise _Decline  # no signed attributes, unsigned ones, or another shape
    for field in fields[:3] + fields[4:]:  # the signed attributes: read below
        _check_der(data, field, 6)
    algorithm_id, sid = _raw(data, fields[2]), _raw(data, fields[1])
    if len(algorithm_id) > _MAX_KEPT_KEY or len(sid) > _MAX_KEPT_SID or \
            len(certificates) > _MAX_KEPT_CERTIFICATES:
        raise _Decline  # what is kept per encoding stays small (a hostile one is not kept)
    digest_name = _digest_name(algorithm_id)
    index = _certificate_index(sid, certificates)
    if index is None or digest_name not in _HASHES:
        raise _Decline
    facts = certificate_facts(x509.Certificate.load(certificates[index]))
    attributes = data[fields[3][1]:fields[3][2]]
    digest = _attributes(attributes, 7)
    h = hashes.Hash(_HASHES[digest_name]())
    h.update(content)
    if digest != h.finalize() or facts.key is None:
        raise _Decline
    signed = b"\x31" + der_length(len(attributes)) + attributes
    algorithm = cms.SignedDigestAlgorithm.load(_raw(data, fields[4]))
    if not check_signature_value(data[fields[5][1]:fields[5][2]], algorithm, facts.key, signed,
                                 digest_name)[0]:
        raise _Decline
    ordered = (certificates[index], *certificates[:index], *certificates[index + 1:])
    return facts.name, ordered


def _attributes(data: bytes, depth: int) -> bytes:
    """The messageDigest value of the signed attributes ``data`` (their contents); checks
    each attribute's shape, and reads a signing time as the full reading would."""
    found: list[bytes] = []
    for tag, start, end in _children(data, 0, len(data), depth):
        if tag != 0x30 or data[start - 1] == 0x80:  # asn1crypto re-encodes such a header
            raise _Decline
        parts = _children(data, start, end, depth + 1)
        if [p[0] for p in parts] != [0x06, 0x31]:
            raise _Decline
        _check_der(data, (tag, start, end), depth)
        oid = _raw(data, parts[0])
        if len(oid) > _MAX_KEPT_KEY:
            raise _Decline
        kind = _type_name(oid)  # by asn1crypto's name, as the full reading tells them apart
        values = _children(data, parts[1][1], parts[1][2], depth + 2)  # (an OID padded with
        if kind == "message_digest":  # 0x80 bytes names the same type as the usual one)
            if found or len(values) != 1 or values[0][0] != 0x04:
                raise _Decline
            found.append(data[values[0][1]:values[0][2]])
        elif kind == "signing_time":
            _signing_time(data, values)
    if not found:
        raise _Decline
    return found[0]


def _signing_time(data: bytes, values: list[tuple[int, int, int]]) -> None:
    """What the full reading does with a signing time's values: each one a UTCTime or a
    GeneralizedTime, the first read by asn1crypto (a malformed one raises, and the full
    reading decides)."""
    if any(tag not in (0x17, 0x18) for tag, _s, _e in values):
        raise _Decline
    if values:
        cms.Time.load(_raw(data, values[0])).native  # noqa: B018 - read for its errors


@functools.lru_cache(maxsize=16)
def _digest_name(encoded: bytes) -> str:
    """The name asn1crypto gives a DigestAlgorithm (as the signer's check reads it)."""
    return str(algos.DigestAlgorithm.load(encoded)["algorithm"].native)


@functools.lru_cache(maxsize=64)
def _type_name(oid: bytes) -> object:
    return cms.CMSAttributeType.load(oid).native


@functools.lru_cache(maxsize=64)
def _certificate_index(sid: bytes, certificates: tuple[bytes, ...]) -> int | None:
    """Which of ``certificates`` the signer identifier ``sid`` names (the full reading's
    search, :func:`parsers.cades_signer._find_certificate`), kept per encodings."""
    chosen = cms.SignerIdentifier.load(sid)
    loaded = [x509.Certificate.load(c) for c in certificates]
    found = _find_certificate(chosen, loaded)
    return next((i for i, c in enumerate(loaded) if c is found), None)


def _certificate(data: bytes, where: tuple[int, int, int]) -> bytes:
    if where[0] != 0x30:  # another kind of certificate choice
        raise _Decline
    encoded = _raw(data, where)
    if len(encoded) > _KEPT_BYTES or not _certificate_is_der(encoded):
        raise _Decline
    return encoded


@functools.lru_cache(maxsize=64)
def _certificate_is_der(encoded: bytes) -> bool:
    """A certificate (five levels down) is DER all through; kept per encoding (a provider
    signs everything with the same one)."""
    return _is_der(encoded, _MAX_DEPTH - 7)


def _check_der(data: bytes, where: tuple[int, int, int], depth: int) -> None:
    """The element ``where`` (at ``depth`` below the outermost, whose depth is 0) is DER all
    through, as :func:`parsers.cades_ber.to_definite` would find it (with a margin on its
    nesting bound); a primitive element's header was checked when it was found. Small ones
    (algorithm identifiers, the same in every signature of a provider) are kept."""
    if not where[0] & 0x20:
        return
    encoded = _raw(data, where)
    bound = _MAX_DEPTH - depth - 2
    if not (_small_is_der(encoded, bound) if len(encoded) <= 64 else _is_der(encoded, bound)):
        raise _Decline


def _is_der(encoded: bytes, bound: int) -> bool:
    return _definite_der_end(encoded, bound) == len(encoded)


_small_is_der = functools.lru_cache(maxsize=64)(_is_der)


def _children(data: bytes, start: int, end: int, depth: int) -> list[tuple[int, int, int]]:
    """The elements in ``data[start:end]`` as ``(tag, contents start, end)``, all DER headers."""
    if depth >= _MAX_DEPTH:
        raise _Decline
    out = []
    pos = start
    while pos < end:
        tag, first, last = _tlv(data, pos, end)
        out.append((tag, first, last))
        pos = last
    return out


def _tlv(data: bytes, pos: int, bound: int) -> tuple[int, int, int]:
    """One element at ``pos`` whose header ``to_definite`` keeps as it is (see
    :func:`parsers.cades_ber.der_element`)."""
    element = der_element(data, pos, bound)
    if element is None:
        raise _Decline
    return element


def _header_start(data: bytes, where: tuple[int, int, int]) -> int:
    """Where the element whose contents start at ``where[1]`` begins (its tag)."""
    start = where[1]
    length = where[2] - start
    return start - 2 - (0 if length < 0x80 else (length.bit_length() + 7) // 8)


def _raw(data: bytes, where: tuple[int, int, int]) -> bytes:
    return data[_header_start(data, where):where[2]]

