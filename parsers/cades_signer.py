"""Read and check one CMS SignerInfo: who signed, when, and whether the signature holds.

Two checks per signer, kept apart because a tampered file can pass one and fail the other:

* ``content_digest_ok``: the digest of the signed bytes equals the ``messageDigest`` signed
  attribute (without signed attributes the signature covers the bytes directly, so this is the
  signature check itself);
* ``signature_valid``: the signature verifies with the public key of the signer's certificate
  over the signed attributes exactly as received, re-tagged as a SET (0x31), as RFC 5652 asks.
  Attributes sent in non-DER order therefore fail when the signer signed the sorted form.

Certificate chains, revocation and timestamps are not checked here.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import TypeVar

from asn1crypto import algos, cms, x509
from asn1crypto.core import Asn1Value
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa

from parsers.cades_ber import der_length
from parsers.origin import raised_by_library

_HASHES: Mapping[str, type[hashes.HashAlgorithm]] = MappingProxyType(
    {
        "md5": hashes.MD5,
        "sha1": hashes.SHA1,
        "sha224": hashes.SHA224,
        "sha256": hashes.SHA256,
        "sha384": hashes.SHA384,
        "sha512": hashes.SHA512,
        "sha512_224": hashes.SHA512_224,
        "sha512_256": hashes.SHA512_256,
        "sha3_224": hashes.SHA3_224,
        "sha3_256": hashes.SHA3_256,
        "sha3_384": hashes.SHA3_384,
        "sha3_512": hashes.SHA3_512,
    }
)
_WEAK_DIGESTS = frozenset({"md5", "sha1"})
_MAX_COUNTER_DEPTH = 3
_CF_PREFIXES = ("TINIT-", "IT:")
_CF_RE = re.compile(r"[A-Z0-9]{16}|[0-9]{11}")
# What asn1crypto raises for a malformed structure: ValueError (and OverflowError for absurd
# lengths) is its answer to bad input; TypeError, KeyError and IndexError come out of its lazy
# parsing of a malformed value and count only when raised inside asn1crypto (:func:`malformed`):
# the same exception raised by our own code is a bug for the per-message guard.
ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError)


def malformed(exc: BaseException) -> bool:
    """True when ``exc`` (one of :data:`ASN1_ERRORS`) tells a malformed structure, not a bug."""
    return isinstance(exc, ValueError | OverflowError) or raised_by_library(exc, ("asn1crypto",))


@dataclass(frozen=True)
class Signer:
    """One signature (or counter-signature) and what its certificate says about the signer.

    ``name`` is the subject common name; ``serial_number`` the subject serialNumber as written
    (for Italian qualified certificates ``TINIT-<codice fiscale>`` or ``IT:<codice fiscale>``);
    ``codice_fiscale`` is taken from it only when it has the shape of one. ``issuer`` is the
    issuer's common name (the whole issuer name when it has none). ``reason`` says, in one
    line, why the signer is not valid; it is ``None`` when both checks pass.
    """

    name: str | None
    codice_fiscale: str | None
    serial_number: str | None
    issuer: str | None
    signing_time: datetime | None
    digest_algorithm: str
    signature_valid: bool
    content_digest_ok: bool
    reason: str | None
    counter_signers: tuple[Signer, ...] = ()

    @property
    def fully_valid(self) -> bool:
        """This signature, its digest and every counter-signature below it hold."""
        return (
            self.signature_valid
            and self.content_digest_ok
            and all(c.fully_valid for c in self.counter_signers)
        )


def codice_fiscale_from_serial(serial: str | None) -> str | None:
    """``TINIT-RSSMRA80A01H501U`` or ``IT:RSSMRA80A01H501U`` → the code; anything else → None."""
    if not serial:
        return None
    value = serial.strip().upper()
    for prefix in _CF_PREFIXES:
        if value.startswith(prefix):
            code = value[len(prefix) :].strip()
            return code if _CF_RE.fullmatch(code) else None
    return None


def read_signer(
    info: cms.SignerInfo,
    message: bytes,
    certificates: Sequence[x509.Certificate],
    warnings: list[str],
    depth: int = 0,
) -> Signer:
    """Check ``info`` against ``message`` (the content, or for a counter-signature the
    signature value it countersigns). Problems land in the result, never in an exception,
    except for a malformed structure (asn1crypto errors, see :data:`ASN1_ERRORS`)."""
    return read_signer_and_certificate(info, message, certificates, warnings, depth)[0]


def read_signer_and_certificate(
    info: cms.SignerInfo,
    message: bytes,
    certificates: Sequence[x509.Certificate],
    warnings: list[str],
    depth: int = 0,
) -> tuple[Signer, x509.Certificate | None]:
    """:func:`read_signer`, and the signer's certificate among ``certificates`` (the one
    :func:`signer_certificate` finds), looked for once."""
    digest_name = str(info["digest_algorithm"]["algorithm"].native)
    cert = _find_certificate(info["sid"], certificates)
    facts = certificate_facts(cert) if cert is not None else None
    serial = facts.serial if facts is not None else None
    name = facts.name if facts is not None else None
    label = name or "firmatario senza certificato"
    if digest_name in _WEAK_DIGESTS:
        warnings.append(f"{label}: impronta {digest_name.upper()}, algoritmo debole")
    attrs = _Attributes(info["signed_attrs"])
    sig_ok, digest_ok, reason = _checks(info, attrs, message, facts, digest_name, label,
                                        warnings)
    counters = _Attributes(info["unsigned_attrs"]).values("counter_signature")
    if counters and depth >= _MAX_COUNTER_DEPTH:
        warnings.append(
            f"{label}: controfirme annidate oltre {_MAX_COUNTER_DEPTH} livelli ignorate"
        )
        counters = []
    signature = bytes(info["signature"].native)
    return Signer(
        name=name,
        codice_fiscale=codice_fiscale_from_serial(serial),
        serial_number=serial,
        issuer=facts.issuer if facts is not None else None,
        signing_time=_signing_time(attrs) if attrs.present else None,
        digest_algorithm=digest_name,
        signature_valid=sig_ok,
        content_digest_ok=digest_ok,
        reason=reason,
        counter_signers=tuple(
            read_signer(c, signature, certificates, warnings, depth + 1) for c in counters
        ),
    ), cert


def _checks(
    info: cms.SignerInfo,
    attrs: _Attributes,
    message: bytes,
    cert: CertificateFacts | None,
    digest_name: str,
    label: str,
    warnings: list[str],
) -> tuple[bool, bool, str | None]:
    """``(signature_valid, content_digest_ok, reason)`` for one signer (``attrs``: its
    signed attributes)."""
    if not attrs.present:  # the signature covers the content itself
        sig_ok, sig_reason = _check_signature(info, cert, message, digest_name)
        return sig_ok, sig_ok, sig_reason
    digest_ok, digest_reason = _check_digest(attrs, message, digest_name)
    contents = attrs.encoded.contents
    signed = b"\x31" + der_length(len(contents)) + contents
    sig_ok, sig_reason = _check_signature(info, cert, signed, digest_name)
    if not _in_der_order(attrs.encoded):
        warnings.append(f"{label}: attributi firmati non in ordine DER")
        if not sig_ok:
            sig_reason = "la firma non corrisponde: attributi firmati non in ordine DER"
    return sig_ok, digest_ok, digest_reason or sig_reason


def _check_digest(
    attrs: _Attributes, message: bytes, digest_name: str
) -> tuple[bool, str | None]:
    algorithm = _HASHES.get(digest_name)
    if algorithm is None:
        return False, f"algoritmo di impronta non supportato: {digest_name}"
    values = attrs.values("message_digest")
    if not values:
        return False, "manca l'attributo firmato messageDigest"
    h = hashes.Hash(algorithm())
    h.update(message)
    if bytes(values[0].native) != h.finalize():
        return False, "impronta del documento diversa da quella firmata: documento alterato"
    return True, None


def _check_signature(
    info: cms.SignerInfo, cert: CertificateFacts | None, signed: bytes, digest_name: str
) -> tuple[bool, str | None]:
    if cert is None:
        return False, "il certificato del firmatario non è incluso nella busta"
    if cert.key is None:
        return False, "la chiave pubblica del certificato non è leggibile"
    return check_signature_value(bytes(info["signature"].native), info["signature_algorithm"],
                                 cert.key, signed, digest_name)


def check_signature_value(
    signature: bytes, algo: cms.SignedDigestAlgorithm, key: object, signed: bytes,
    digest_name: str
) -> tuple[bool, str | None]:
    """Whether ``signature`` (made with ``algo``) verifies ``signed`` with ``key``, and if not,
    why (the signer's check, :func:`read_signer`, once its certificate's key is known)."""
    try:
        kind = algo.signature_algo
    except ValueError:
        kind = str(algo["algorithm"].native)
    candidates = _hash_candidates(algo, digest_name)
    if not candidates and kind not in ("ed25519", "ed448"):
        return False, f"algoritmo di impronta non supportato: {digest_name}"
    try:
        for hash_algorithm in candidates or [hashes.SHA256()]:
            if _verify(key, kind, algo, signature, signed, hash_algorithm):
                return True, None
    except _Unsupported as exc:
        return False, f"algoritmo di firma non supportato: {exc}"
    return False, "la firma non corrisponde ai dati firmati"


class _Unsupported(Exception):
    pass


def _verify(
    key: object,
    kind: str,
    algo: cms.SignedDigestAlgorithm,
    signature: bytes,
    signed: bytes,
    hash_algorithm: hashes.HashAlgorithm,
) -> bool:
    try:
        if isinstance(key, rsa.RSAPublicKey) and kind == "rsassa_pss":
            key.verify(signature, signed, _pss_padding(algo), _pss_hash(algo))
        elif isinstance(key, rsa.RSAPublicKey) and kind == "rsassa_pkcs1v15":
            key.verify(signature, signed, padding.PKCS1v15(), hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and kind == "ecdsa":
            key.verify(signature, signed, ec.ECDSA(hash_algorithm))
        elif isinstance(key, dsa.DSAPublicKey) and kind == "dsa":
            key.verify(signature, signed, hash_algorithm)
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey) and kind in (
            "ed25519",
            "ed448",
        ):
            key.verify(signature, signed)
        else:
            raise _Unsupported(f"{kind} con chiave {type(key).__name__}")
    except InvalidSignature:
        return False
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _Unsupported(kind) from exc
    return True


def _hash_candidates(
    algo: cms.SignedDigestAlgorithm, digest_name: str
) -> list[hashes.HashAlgorithm]:
    """The signer's digest algorithm, then the one named by the signature algorithm if different
    (some signers disagree with themselves; PKCS#1 v1.5 names the hash inside the signature)."""
    names = [digest_name]
    with contextlib.suppress(ValueError):
        names.append(algo.hash_algo)
    unique = dict.fromkeys(n for n in names if n in _HASHES)
    return [_HASHES[n]() for n in unique]


def _pss_hash(algo: cms.SignedDigestAlgorithm) -> hashes.HashAlgorithm:
    name = algo["parameters"]["hash_algorithm"]["algorithm"].native
    if name not in _HASHES:
        raise _Unsupported(f"RSA-PSS con {name}")
    return _HASHES[name]()


def _pss_padding(algo: cms.SignedDigestAlgorithm) -> padding.PSS:
    params = algo["parameters"]
    mgf = params["mask_gen_algorithm"]
    mgf_hash = mgf["parameters"]
    if mgf["algorithm"].native != "mgf1" or not isinstance(mgf_hash, algos.DigestAlgorithm):
        # another mask generation function (asn1crypto leaves its parameters unparsed), or
        # MGF1 without its hash: nothing cryptography can verify with
        raise _Unsupported(f"RSA-PSS con generatore di maschera {mgf['algorithm'].native}")
    mgf_name = mgf_hash["algorithm"].native
    if mgf_name not in _HASHES:
        raise _Unsupported(f"RSA-PSS MGF1 con {mgf_name}")
    return padding.PSS(
        mgf=padding.MGF1(_HASHES[mgf_name]()), salt_length=params["salt_length"].native
    )


def signer_certificate(
    info: cms.SignerInfo, certificates: Sequence[x509.Certificate]
) -> x509.Certificate | None:
    """The certificate ``info`` names as its signer's, among ``certificates``."""
    return _find_certificate(info["sid"], certificates)


def _find_certificate(
    sid: cms.SignerIdentifier, certificates: Sequence[x509.Certificate]
) -> x509.Certificate | None:
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        serial = sid.chosen["serial_number"].native
        for cert in certificates:
            if _kept_fact(cert, _serial_of) == serial and _same_issuer(cert, issuer):
                return cert
        return None
    key_id = bytes(sid.chosen.native)
    for cert in certificates:
        if _kept_fact(cert, _key_identifier_of) == key_id:
            return cert
    return None


def _same_issuer(cert: x509.Certificate, issuer: x509.Name) -> bool:
    if _kept_fact(cert, _issuer_of) == issuer.dump():
        return True
    return _same_name(cert.issuer, issuer)


def _same_name(a: x509.Name, b: x509.Name) -> bool:
    if a.dump() == b.dump():
        return True
    try:
        return bool(a == b)
    except ASN1_ERRORS as exc:
        if not malformed(exc):
            raise
        return False


def _name_value(name: x509.Name, field: str) -> str | None:
    """The first value of ``field`` (asn1crypto's name, e.g. ``common_name``) in ``name``."""
    for rdn in name.chosen:
        for type_and_value in rdn:
            if type_and_value["type"].native == field:
                value = type_and_value["value"].native
                text = str(value) if value is not None else ""
                return text if text.strip() else None
    return None


def _issuer_label(cert: x509.Certificate) -> str | None:
    label = _name_value(cert.issuer, "common_name") or cert.issuer.human_friendly
    return label.strip() or None


def encoding(value: Asn1Value) -> bytes:
    """The bytes of a SEQUENCE as it arrived (a certificate, a public key), without asn1crypto's
    ``dump()``: that one takes a definite length whose header ends in 0x80 (128, 384, 640...
    bytes: one certificate in 256) for an indefinite one and re-encodes the whole value, which
    reads every field (and fails on one it cannot read) and may change the bytes. BER
    indefinite lengths are made definite before anything is parsed (``cades_ber``)."""
    contents = value.contents or b""
    return b"\x30" + der_length(len(contents)) + contents


@dataclass(frozen=True)
class CertificateFacts:
    """What a signer's check reads from its certificate: its subject's serial number and
    common name, its issuer's label, its public key (None: not readable)."""

    serial: str | None
    name: str | None
    issuer: str | None
    key: object | None


_KEPT_BYTES = 16 * 1024  # certificates up to this size have their facts kept (a provider's: 1-3 KB)


def certificate_facts(cert: x509.Certificate) -> CertificateFacts:
    """The facts of ``cert``. Those of a certificate of ordinary size are read once per
    encoding and kept (a PEC provider signs every envelope and receipt with the same
    certificate, and reading its names and key with asn1crypto cost more than the signature
    check itself); a larger one (a hostile message's) is read each time, never kept."""
    der = encoding(cert)
    return _kept_facts(der) if len(der) <= _KEPT_BYTES else _read_facts(der)


@functools.lru_cache(maxsize=64)
def _kept_facts(der: bytes) -> CertificateFacts:
    return _read_facts(der)


_Fact = TypeVar("_Fact")


def _kept_fact(cert: x509.Certificate, read: Callable[[x509.Certificate], _Fact]) -> _Fact:
    """``read(cert)``; for a certificate of ordinary size read once per encoding and kept,
    like :func:`certificate_facts` (a fresh copy is read: the same bytes, the same answer or
    the same error). One fact at a time: matching a signer reads only what it compares."""
    der = encoding(cert)
    return _kept_read(der, read) if len(der) <= _KEPT_BYTES else read(cert)


@functools.lru_cache(maxsize=192)
def _kept_read(der: bytes, read: Callable[[x509.Certificate], _Fact]) -> _Fact:
    return read(x509.Certificate.load(der))


def _serial_of(cert: x509.Certificate) -> object:
    return cert.serial_number


def _issuer_of(cert: x509.Certificate) -> object:
    return cert.issuer.dump()


def _key_identifier_of(cert: x509.Certificate) -> object:
    return cert.key_identifier


def _read_facts(der: bytes) -> CertificateFacts:
    cert = x509.Certificate.load(der)
    name = _name_value(cert.subject, "common_name")
    try:
        key: object | None = serialization.load_der_public_key(encoding(cert.public_key))
    except (ValueError, UnsupportedAlgorithm):
        key = None
    return CertificateFacts(serial=_name_value(cert.subject, "serial_number"),
                            name=name.strip() if name else None,
                            issuer=_issuer_label(cert), key=key)


def _signing_time(attrs: _Attributes) -> datetime | None:
    values = attrs.values("signing_time")
    if not values:
        return None
    value = values[0].native
    return value if isinstance(value, datetime) else None


class _Attributes:
    """The signed or unsigned attributes of one signer, their types read once.

    The first :meth:`values` reads the attributes in order, each one's type and then the
    values of those of the kind sought, as a pass of its own did (so a malformed one raises
    the same error at the same point); later calls reuse the types read.
    """

    def __init__(self, encoded: cms.CMSAttributes) -> None:
        self.encoded = encoded
        self.present = bool(encoded.contents)
        self._kinds: list[tuple[object, cms.CMSAttribute]] | None = None

    def values(self, kind: str) -> list[Asn1Value]:
        """The values of every attribute of type ``kind`` (asn1crypto's name), in order."""
        if not self.present:
            return []
        if self._kinds is not None:
            return [v for k, a in self._kinds if k == kind for v in a["values"]]
        kinds: list[tuple[object, cms.CMSAttribute]] = []
        found: list[Asn1Value] = []
        for attribute in self.encoded:
            kinds.append((attribute["type"].native, attribute))
            if kinds[-1][0] == kind:
                found.extend(attribute["values"])
        self._kinds = kinds
        return found


def _in_der_order(attrs: cms.CMSAttributes) -> bool:
    encodings = [a.dump() for a in attrs]
    return encodings == sorted(encodings)
