"""Integrity check of a detached S/MIME (CMS SignedData) signature, as PEC providers make.

Only integrity is checked: the content digest against the ``messageDigest`` signed attribute,
and the signer's signature over the signed attributes with the public key of the certificate
the signature carries. Trust in that certificate (chain, revocation) is not judged here.

``asn1crypto`` reads the CMS structure; BER indefinite lengths are first rewritten as definite
lengths (:func:`ber_to_der`) because asn1crypto limits indefinite-length nesting. The signature
itself is checked by ``cryptography``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from asn1crypto import cms, x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa

_MAX_BER_DEPTH = 64
_LINE_BREAK = re.compile(rb"\r*\n")
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
}
_ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)


@dataclass(frozen=True)
class SignatureCheck:
    """``valid`` is None when no signature is present; ``reason`` says why it is not valid."""

    present: bool
    valid: bool | None
    reason: str | None
    signer: str | None

    def to_json(self) -> dict[str, bool | None]:
        return {"present": self.present, "valid": self.valid}


ABSENT = SignatureCheck(present=False, valid=None, reason=None, signer=None)


class BerError(ValueError):
    """The bytes are not a well-formed BER/DER encoding."""


def canonicalize(content: bytes) -> bytes:
    """S/MIME canonical form of signed text: every line break is CRLF (RFC 8551 §3.1.1).

    Trailing carriage returns before a line break, and at the very end, are dropped as
    OpenSSL does when it splits a multipart/signed message.
    """
    return _LINE_BREAK.sub(b"\r\n", content).rstrip(b"\r") if content else content


def ber_to_der(data: bytes, max_depth: int = _MAX_BER_DEPTH) -> bytes:
    """Rewrite BER lengths as minimal definite lengths (the first element of ``data``)."""
    out, _ = _convert(data, 0, len(data), 0, max_depth)
    return out


def _convert(data: bytes, pos: int, end: int, depth: int, max_depth: int) -> tuple[bytes, int]:
    tag, constructed, length, start = _read_header(data, pos, end)
    if not constructed:
        if length is None:
            raise BerError("primitive element with indefinite length")
        return tag + _der_length(length) + data[start : start + length], start + length
    if depth >= max_depth:
        raise BerError("ASN.1 nesting too deep")
    children: list[bytes] = []
    stop = end if length is None else start + length
    cursor = start
    while True:
        if length is None and data[cursor : cursor + 2] == b"\x00\x00":
            cursor += 2
            break
        if cursor >= stop:
            if length is None:
                raise BerError("indefinite length without end-of-contents")
            break
        child, cursor = _convert(data, cursor, stop, depth + 1, max_depth)
        children.append(child)
    if length is not None and cursor != stop:
        raise BerError("element overruns its container")
    body = b"".join(children)
    return tag + _der_length(len(body)) + body, cursor


def _read_header(data: bytes, pos: int, end: int) -> tuple[bytes, bool, int | None, int]:
    if pos >= end:
        raise BerError("truncated ASN.1 element")
    first = data[pos]
    cursor = pos + 1
    if first & 0x1F == 0x1F:
        while cursor < end and data[cursor] & 0x80:
            cursor += 1
        cursor += 1
    if cursor >= end:
        raise BerError("truncated ASN.1 header")
    tag = data[pos:cursor]
    lead = data[cursor]
    cursor += 1
    if lead == 0x80:
        return tag, bool(first & 0x20), None, cursor
    if lead < 0x80:
        length = lead
    else:
        count = lead & 0x7F
        if count > 8 or cursor + count > end:
            raise BerError("bad ASN.1 length")
        length = int.from_bytes(data[cursor : cursor + count], "big")
        cursor += count
    if cursor + length > end:
        raise BerError("ASN.1 element longer than its data")
    return tag, bool(first & 0x20), length, cursor


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def verify_detached(content: bytes, signature: bytes) -> SignatureCheck:
    """Check a detached CMS signature over ``content`` (already canonical, if text)."""
    try:
        signed = _load_signed_data(signature)
        certificates = [
            choice.chosen for choice in signed["certificates"] or [] if choice.name == "certificate"
        ]
        signer_infos = list(signed["signer_infos"])
    except _ASN1_ERRORS as exc:
        return _invalid(f"firma illeggibile ({_short(exc)})")
    if not signer_infos:
        return _invalid("la firma non contiene firmatari")
    signer_name: str | None = None
    for info in signer_infos:
        try:
            certificate = _find_certificate(info, certificates)
            if certificate is None:
                return _invalid("certificato del firmatario assente dalla firma", signer_name)
            name = _common_name(certificate)
            signer_name = signer_name or name
            problem = _check_signer(info, certificate, content)
        except _ASN1_ERRORS as exc:
            return _invalid(f"firma illeggibile ({_short(exc)})", signer_name)
        if problem:
            return _invalid(problem, name)
    return SignatureCheck(present=True, valid=True, reason=None, signer=signer_name)


def _load_signed_data(signature: bytes) -> cms.SignedData:
    if not signature:
        raise ValueError("vuota")
    info = cms.ContentInfo.load(ber_to_der(signature))
    if info["content_type"].native != "signed_data":
        raise ValueError("non è una CMS SignedData")
    signed: cms.SignedData = info["content"]
    return signed


def _find_certificate(
    info: cms.SignerInfo, certificates: list[x509.Certificate]
) -> x509.Certificate | None:
    sid = info["sid"]
    for certificate in certificates:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if certificate.serial_number == wanted["serial_number"].native and (
                # the same encoded name is the same name; only otherwise compare semantically
                certificate.issuer.dump() == wanted["issuer"].dump()
                or certificate.issuer == wanted["issuer"]
            ):
                return certificate
        elif certificate.key_identifier == sid.chosen.native:
            return certificate
    return None


def _common_name(certificate: x509.Certificate) -> str | None:
    value = certificate.subject.native.get("common_name")
    if isinstance(value, list):
        value = value[-1] if value else None
    return str(value) if value is not None else None


def _check_signer(info: cms.SignerInfo, certificate: x509.Certificate, content: bytes) -> str:
    """Return an empty string when the signer verifies, else the reason it does not."""
    algorithm = info["digest_algorithm"]["algorithm"].native
    hash_type = _HASHES.get(algorithm)
    if hash_type is None:
        return f"algoritmo di impronta non supportato ({algorithm})"
    digest = hashes.Hash(hash_type())
    digest.update(content)
    attributes = info["signed_attrs"]
    if isinstance(attributes, cms.CMSAttributes) and len(attributes):
        declared = _message_digest(attributes)
        if declared is None:
            return "attributo messageDigest assente dalla firma"
        if declared != digest.finalize():
            return "impronta del contenuto diversa da quella firmata: messaggio alterato"
        signed_bytes = b"\x31" + _der_length(len(attributes.contents)) + attributes.contents
    else:
        signed_bytes = content
    return _check_signature(info, certificate, signed_bytes, hash_type())


def _message_digest(attributes: cms.CMSAttributes) -> bytes | None:
    for attribute in attributes:
        if attribute["type"].native == "message_digest":
            values = attribute["values"]
            return bytes(values[0].native) if len(values) else None
    return None


def _check_signature(
    info: cms.SignerInfo,
    certificate: x509.Certificate,
    data: bytes,
    hash_algorithm: hashes.HashAlgorithm,
) -> str:
    try:
        key = serialization.load_der_public_key(certificate.public_key.dump())
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"chiave pubblica del firmatario illeggibile ({_short(exc)})"
    signature = bytes(info["signature"].native)
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, _rsa_padding(info, hash_algorithm), hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hash_algorithm))
        elif isinstance(key, dsa.DSAPublicKey):
            key.verify(signature, data, hash_algorithm)
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            return "tipo di chiave del firmatario non supportato"
    except InvalidSignature:
        return "firma crittografica non valida"
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return f"firma non verificabile ({_short(exc)})"
    return ""


def _rsa_padding(
    info: cms.SignerInfo, hash_algorithm: hashes.HashAlgorithm
) -> padding.AsymmetricPadding:
    if info["signature_algorithm"].signature_algo == "rsassa_pss":
        return padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=padding.PSS.AUTO)
    return padding.PKCS1v15()


def _invalid(reason: str, signer: str | None = None) -> SignatureCheck:
    return SignatureCheck(present=True, valid=False, reason=reason, signer=signer)


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
