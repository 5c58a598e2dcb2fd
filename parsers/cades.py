"""Unwrap CAdES / PKCS#7 signed files (``.p7m``, also ``.m7m`` and ``.tsd``): bytes in, a
:class:`SignedDocument` out. No I/O, no logging, no clock.

Accepted forms (see ``docs/pec-format.md``, "Signed attachments"): DER; BER with indefinite
lengths and deep nesting (rewritten without recursion by :mod:`parsers.cades_ber`); PEM armour;
bare base64 text, also base64 of base64; several signature layers under one name; parallel
signers and counter-signatures (checked by :mod:`parsers.cades_signer`); ``.m7m`` (MIME with a
p7m part and a timestamp) and RFC 5544 ``.tsd`` (the timestamp itself is not verified).

Everything that cannot be unwrapped raises :class:`~parsers.errors.SignedDataError` (or its
subclass :class:`~parsers.errors.UnsupportedContainer`) with a one-line message, or
:class:`~parsers.errors.LimitExceeded`.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import hashlib
from dataclasses import dataclass

from asn1crypto import cms, core, x509

from parsers.cades_ber import read_header, to_definite
from parsers.cades_signer import (
    ASN1_ERRORS,
    Signer,
    codice_fiscale_from_serial,
    malformed,
    read_signer,
)
from parsers.errors import LimitExceeded, SignedDataError, UnsupportedContainer
from parsers.limits import DEFAULT_LIMITS, Limits
from parsers.sniff import detect_format

__all__ = [
    "SignedDocument",
    "Signer",
    "codice_fiscale_from_serial",
    "is_signed_container",
    "unwrap",
]

_SIGNED_DATA_TLV = bytes.fromhex("06092a864886f70d010702")  # 1.2.840.113549.1.7.2
_ENVELOPED_DATA_TLV = bytes.fromhex("06092a864886f70d010703")  # 1.2.840.113549.1.7.3
_TSD_TLV = bytes.fromhex("060b2a864886f70d010910011f")  # 1.2.840.113549.1.9.16.1.31
_MAX_ASN1_DEPTH = 64  # real signed files nest about 20 deep
_MAX_BASE64_ROUNDS = 3
_SNIFF_CHARS = 8192
_BASE64_CHARS = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n \t"
)


@dataclass(frozen=True)
class SignedDocument:
    """The document inside a signed file, and who signed it.

    ``signers`` lists the signers of every layer, outer layer first (counter-signers sit in
    each signer's ``counter_signers``). ``valid`` is true when there is at least one signer and
    every signature, content digest and counter-signature checks out; certificate trust is
    not judged. ``encoding`` describes the outermost layer as received.
    """

    content: bytes
    signers: tuple[Signer, ...]
    layers: int
    valid: bool
    format: str
    sha256: str
    encoding: str  # der | ber | pem | base64
    warnings: tuple[str, ...]


def is_signed_container(data: bytes) -> bool:
    """Cheap check: does ``data`` look like something :func:`unwrap` opens (a CMS SignedData
    or RFC 5544 TimeStampedData in DER/BER, PEM armour or base64 text, or an .m7m)?"""
    if _is_mime(data):
        return _m7m_signature_hint(data)
    head = data[:_SNIFF_CHARS]
    for _ in range(_MAX_BASE64_ROUNDS + 1):
        if head[:1] == b"\x30":
            return _container_oid(head) is not None
        head = _decode_head(head)
        if not head:
            return False
    return False


def unwrap(data: bytes, limits: Limits = DEFAULT_LIMITS) -> SignedDocument:
    """Open every signature layer of ``data`` and check every signer (see module doc)."""
    if len(data) > limits.max_input_bytes:
        raise LimitExceeded(
            f"file firmato troppo grande: {len(data)} byte (massimo {limits.max_input_bytes})"
        )
    warnings: list[str] = []
    if _is_mime(data):
        data = _m7m_part(data, warnings)
    current, encoding = _peel(data)
    signers: list[Signer] = []
    layers = 0
    for round_ in range(limits.max_signed_layers + 1):
        definite = to_definite(current, _MAX_ASN1_DEPTH)
        if round_ == 0 and definite.was_ber and encoding == "der":
            encoding = "ber"
        if definite.trailing:
            warnings.append(f"{definite.trailing} byte dopo la fine della busta, ignorati")
        if _container_oid(definite.data) == _TSD_TLV:
            content = _tsd_content(definite.data)
            warnings.append("marca temporale (.tsd) non verificata")
        else:
            layers += 1
            if layers > limits.max_signed_layers:
                break
            content = _open_signed(definite.data, signers, warnings)
        inner = _inner_container(content, warnings, layers)
        if inner is None:
            return _result(content, signers, layers, encoding, warnings)
        current = inner
    raise LimitExceeded(f"troppi livelli di firma annidati (massimo {limits.max_signed_layers})")


def _result(
    content: bytes, signers: list[Signer], layers: int, encoding: str, warnings: list[str]
) -> SignedDocument:
    if not signers:
        warnings.append("nessun firmatario: il documento non è firmato")
    return SignedDocument(
        content=content,
        signers=tuple(signers),
        layers=layers,
        valid=bool(signers) and all(s.fully_valid for s in signers),
        format=detect_format(content),
        sha256=hashlib.sha256(content).hexdigest(),
        encoding=encoding,
        warnings=tuple(dict.fromkeys(warnings)),
    )


def _open_signed(der: bytes, signers: list[Signer], warnings: list[str]) -> bytes:
    """Return the encapsulated content of one SignedData layer; append its signers."""
    oid = _container_oid(der)
    if oid == _ENVELOPED_DATA_TLV:
        raise UnsupportedContainer("busta cifrata (EnvelopedData): non si può aprire senza chiave")
    if oid != _SIGNED_DATA_TLV:
        raise SignedDataError("non è una busta firmata CAdES: manca la struttura SignedData")
    try:
        signed = cms.ContentInfo.load(der)["content"]
        encap = signed["encap_content_info"]
        econtent = encap["content"]
        if isinstance(econtent, core.Void):
            raise SignedDataError("firma staccata: il documento non è incluso")
        if not isinstance(econtent, core.OctetString | core.ParsableOctetString):
            raise SignedDataError("contenuto firmato in forma non standard (non OCTET STRING)")
        content = bytes(econtent.contents or b"")
        if encap["content_type"].native != "data":
            warnings.append(f"contenuto firmato di tipo {encap['content_type'].dotted}")
        certificates = [
            c.chosen
            for c in (signed["certificates"] if signed["certificates"].contents else [])
            if isinstance(c.chosen, x509.Certificate)
        ]
        for info in signed["signer_infos"]:
            signers.append(read_signer(info, content, certificates, warnings))
    except ASN1_ERRORS as exc:
        if not malformed(exc):
            raise
        raise SignedDataError("busta firmata illeggibile: struttura SignedData non valida") from exc
    return content


def _tsd_content(der: bytes) -> bytes:
    """The ``content`` OCTET STRING of an RFC 5544 TimeStampedData."""
    _, pos, _, _ = read_header(der, 0, len(der))  # ContentInfo
    _, pos, length, _ = read_header(der, pos, len(der))  # contentType OID
    pos += length or 0
    _, pos, _, _ = read_header(der, pos, len(der))  # [0] EXPLICIT
    _, pos, length, _ = read_header(der, pos, len(der))  # TimeStampedData SEQUENCE
    end = pos + (length or 0)
    while pos < end:
        ident, start, length, _ = read_header(der, pos, end)
        if ident == b"\x04":
            return der[start : start + (length or 0)]
        pos = start + (length or 0)
    raise UnsupportedContainer("marca temporale .tsd senza documento incluso")


def _inner_container(content: bytes, warnings: list[str], layers: int) -> bytes | None:
    """The next layer in binary form when ``content`` is itself a signed container."""
    if not is_signed_container(content) or _is_mime(content):
        return None
    inner, encoding = _peel(content)
    if encoding != "der":
        warnings.append(f"livello {layers + 1} in formato {encoding}")
    return inner


def _peel(data: bytes) -> tuple[bytes, str]:
    """Strip PEM armour or base64 (possibly repeated): binary ASN.1 and the outer encoding."""
    if data[:1] == b"\x30":
        return data, "der"
    text = data.strip().removeprefix(b"\xef\xbb\xbf").strip()
    if not text:
        raise SignedDataError(
            f"file vuoto o di soli spazi ({len(data)} byte): nessuna busta firmata"
        )
    if text.startswith(b"-----BEGIN"):
        binary, encoding = _b64decode(_pem_body(text)), "pem"
    elif all(b in _BASE64_CHARS for b in text[:_SNIFF_CHARS]) and len(text) >= 16:
        binary, encoding = _b64decode(text), "base64"
    else:
        raise SignedDataError(_not_signed_message(data))
    for _ in range(_MAX_BASE64_ROUNDS):
        if binary[:1] == b"\x30":
            return binary, encoding
        inner = binary.strip()
        if not inner or not all(b in _BASE64_CHARS for b in inner[:_SNIFF_CHARS]):
            break
        binary = _b64decode(inner)
    raise SignedDataError("il testo base64 non contiene una busta firmata")


def _pem_body(text: bytes) -> bytes:
    lines = text.splitlines()
    body: list[bytes] = []
    for line in lines[1:]:
        if line.startswith(b"-----END"):
            return b"".join(body)
        if b":" not in line:  # skip RFC 1421 headers
            body.append(line.strip())
    raise SignedDataError("armatura PEM senza riga -----END: file troncato")


def _b64decode(text: bytes) -> bytes:
    compact = b"".join(text.split()).rstrip(b"=")
    if len(compact) % 4 == 1:
        raise SignedDataError("testo base64 troncato o non valido")
    try:
        return base64.b64decode(compact + b"=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignedDataError("testo base64 non valido") from exc


def _decode_head(head: bytes) -> bytes:
    """Decode the start of PEM or base64 text (for the cheap check); b"" when it is neither."""
    text = head.strip().removeprefix(b"\xef\xbb\xbf").strip()
    if text.startswith(b"-----BEGIN"):
        text = b"".join(line.strip() for line in text.splitlines()[1:] if b":" not in line)
        text = text.split(b"-----", 1)[0]
    compact = b"".join(text.split())
    if len(compact) < 16 or not all(b in _BASE64_CHARS for b in compact):
        return b""
    compact = compact[: len(compact) // 4 * 4]
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _container_oid(data: bytes) -> bytes | None:
    """The content-type OID TLV right after the outer SEQUENCE header, if it is one we know."""
    if data[:1] != b"\x30" or len(data) < 2:
        return None
    lead = data[1]
    offset = 2 if lead <= 0x80 else 2 + (lead & 0x7F)
    for oid in (_SIGNED_DATA_TLV, _TSD_TLV, _ENVELOPED_DATA_TLV):
        if data[offset : offset + len(oid)] == oid:
            return oid
    return None


def _not_signed_message(data: bytes) -> str:
    if len(data) < 16:
        return f"non è una busta firmata CAdES: file di soli {len(data)} byte"
    kind = detect_format(data)
    if kind in ("unknown", "base64", "p7m"):
        return f"non è una busta firmata CAdES (p7m): inizio non riconosciuto ({data[:4].hex(' ')})"
    return f"non è una busta firmata CAdES (p7m): il file è di tipo {kind}"


def _is_mime(data: bytes) -> bool:
    head = data[:_SNIFF_CHARS].lower()
    return b"content-type:" in head and b"multipart/" in head


def _m7m_signature_hint(data: bytes) -> bool:
    head = data[: 64 * 1024].lower()
    return b"pkcs7-mime" in head or b".p7m" in head


def _m7m_part(data: bytes, warnings: list[str]) -> bytes:
    """The p7m part of an .m7m (MIME multipart: the signed file plus a timestamp .tsr)."""
    message = email.message_from_bytes(data, policy=email.policy.compat32)
    for part in message.walk():
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        name = (part.get_filename() or "").lower()
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or "timestamp" in kind or name.endswith((".tsr", ".tst")):
            continue
        if "pkcs7" in kind or name.endswith(".p7m") or is_signed_container(payload):
            warnings.append("contenitore .m7m: marca temporale non verificata")
            return payload
    raise UnsupportedContainer("contenitore .m7m senza una parte .p7m riconoscibile")
