"""Integrity check of a detached S/MIME (CMS SignedData) signature, as PEC providers make.

Only integrity is checked: the content digest against the ``messageDigest`` signed attribute,
and the signer's signature over the signed attributes with the public key of the certificate
the signature carries. Trust in that certificate (chain, revocation) is not judged here.

``asn1crypto`` reads the CMS structure; BER indefinite lengths are first rewritten as definite
lengths (:func:`parsers.cades_ber.to_definite`) because asn1crypto limits indefinite-length
nesting. Signers are checked by :mod:`parsers.cades_signer` (with ``cryptography``), the code
that also checks signed attachments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from asn1crypto import cms, x509

from parsers.cades_ber import to_definite
from parsers.cades_signer import (
    ASN1_ERRORS,
    encoding,
    malformed,
    read_signer_and_certificate,
)
from parsers.errors import LimitExceeded, SignedDataError
from parsers.smime_der import verify_valid_der

_MAX_BER_DEPTH = 64
MAX_SIGNERS = 4  # a PEC provider signs alone; this bounds the time spent on a hostile one
_LINE_BREAK = re.compile(rb"\r*\n")
@dataclass(frozen=True)
class SignatureCheck:
    """``valid`` is None when no signature is present; ``reason`` says why it is not valid.
    ``certificates``: DER certificates the signature carries, the first signer's first (for a
    caller that judges trust; empty when the signature is not valid)."""

    present: bool
    valid: bool | None
    reason: str | None
    signer: str | None
    certificates: tuple[bytes, ...] = field(default=(), repr=False, compare=False)

    def to_json(self) -> dict[str, bool | None]:
        return {"present": self.present, "valid": self.valid}


ABSENT = SignatureCheck(present=False, valid=None, reason=None, signer=None)


def canonicalize(content: bytes) -> bytes:
    """S/MIME canonical form of signed text: every line break is CRLF (RFC 8551 §3.1.1).

    Trailing carriage returns before a line break, and at the very end, are dropped as
    OpenSSL does when it splits a multipart/signed message.
    """
    if not content:
        return content
    if b"\r\r" not in content and content.count(b"\n") == content.count(b"\r\n"):
        return content.rstrip(b"\r")  # every line break is already one CRLF: nothing to replace
    return _LINE_BREAK.sub(b"\r\n", content).rstrip(b"\r")


def verify_detached(content: bytes, signature: bytes) -> SignatureCheck:
    """Check a detached CMS signature over ``content`` (already canonical, if text).

    Each signer is checked by :func:`parsers.cades_signer.read_signer`, the same code that
    checks signed attachments: the content digest against ``messageDigest`` and the signature
    over the signed attributes.

    The common case (a DER signature with one signer, valid) is answered by
    :func:`parsers.smime_der.verify_valid_der` without asn1crypto's reading of the structure;
    everything else, and every reason, comes from the reading below.
    """
    quick = verify_valid_der(content, signature)
    if quick is not None:
        return SignatureCheck(present=True, valid=True, reason=None, signer=quick[0],
                              certificates=quick[1])
    try:
        signed = _load_signed_data(signature)
        certificates = [
            choice.chosen for choice in signed["certificates"] or [] if choice.name == "certificate"
        ]
        signer_infos = list(signed["signer_infos"])
    except (*ASN1_ERRORS, SignedDataError, LimitExceeded) as exc:  # BER nested too deep
        if isinstance(exc, ASN1_ERRORS) and not malformed(exc):
            raise
        return _invalid(f"firma illeggibile ({_short(exc)})")
    if not signer_infos:
        return _invalid("la firma non contiene firmatari")
    if len(signer_infos) > MAX_SIGNERS:  # each one digests the whole content again
        return _invalid(f"la firma ha {len(signer_infos)} firmatari: un gestore PEC ne ha uno "
                        f"(verificati al massimo {MAX_SIGNERS})")
    signer_name: str | None = None
    first: x509.Certificate | None = None
    for index, info in enumerate(signer_infos):
        try:
            signer, cert = read_signer_and_certificate(info, content, certificates, [])
        except ASN1_ERRORS as exc:
            if not malformed(exc):
                raise
            return _invalid(f"firma illeggibile ({_short(exc)})", signer_name)
        signer_name = signer_name or signer.name
        if not (signer.signature_valid and signer.content_digest_ok):
            return _invalid(signer.reason or "firma non valida", signer.name)
        first = cert if index == 0 else first
    ordered = [first] if first is not None else []
    ordered += [c for c in certificates if c is not first]
    return SignatureCheck(present=True, valid=True, reason=None, signer=signer_name,
                          certificates=tuple(encoding(c) for c in ordered) if first else ())


def _load_signed_data(signature: bytes) -> cms.SignedData:
    if not signature:
        raise ValueError("vuota")
    info = cms.ContentInfo.load(to_definite(signature, _MAX_BER_DEPTH).data)
    if info["content_type"].native != "signed_data":
        raise ValueError("non è una CMS SignedData")
    signed: cms.SignedData = info["content"]
    return signed


def _invalid(reason: str, signer: str | None = None) -> SignatureCheck:
    return SignatureCheck(present=True, valid=False, reason=reason, signer=signer)


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
