"""Build CAdES-BES-like signed files (``.p7m``) for tests and the demo, with self-signed keys.

Not a signing product: certificates are self-signed, nothing is timestamped, and several knobs
exist only to reproduce what arrives in the wild (BER with deep nesting, MD5, attributes out of
DER order, counter-signatures, nested layers, ``.m7m`` and ``.tsd`` containers)::

    alice = make_signer("Alice Rossi", "RSSLCA80A41H501X")
    p7m = sign(b"%PDF-1.7 ...", [alice], encoding="ber")
    double = wrap(b"<xml/>", [[alice], [make_signer("Bob Verdi", "VRDBBO70B02F205Y", "ec")]])
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from parsers.cades_ber import der_length, read_header

Encoding = Literal["der", "ber", "pem", "base64"]
KeyType = Literal["rsa", "ec"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_NOT_BEFORE = datetime(2024, 1, 1, tzinfo=UTC)
_NOT_AFTER = datetime(2036, 1, 1, tzinfo=UTC)
_BER_SPINE_DEPTH = 4  # ContentInfo, [0], SignedData, its fields, and theirs become indefinite


@dataclass(frozen=True)
class SignerKey:
    """A signer: private key and self-signed certificate (CN=name, serialNumber=TINIT-<cf>)."""

    name: str
    codice_fiscale: str
    key_type: KeyType
    private_key: PrivateKey
    certificate: x509.Certificate

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


@functools.lru_cache(maxsize=64)
def make_signer(name: str, codice_fiscale: str, key_type: KeyType = "rsa") -> SignerKey:
    """A signer with a fresh key (cached per arguments, so tests stay fast)."""
    key: PrivateKey
    if key_type == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif key_type == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"unknown key type {key_type!r}")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "IT"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, f"TINIT-{codice_fiscale}"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return SignerKey(name, codice_fiscale, key_type, key, cert)


def sign(
    content: bytes,
    signers: Sequence[SignerKey],
    *,
    encoding: Encoding = "der",
    detached: bool = False,
    digest: str = "sha256",
    signing_time: datetime | None = None,
    countersigners: Sequence[SignerKey] = (),
    pss: bool = False,
    scrambled_attributes: bool = False,
    ber_nesting: int = 1,
) -> bytes:
    """A SignedData over ``content`` with one SignerInfo per signer (parallel signatures).

    Signed attributes: contentType, messageDigest, signingTime, signingCertificateV2.
    ``countersigners`` countersign the first signer. ``pss`` uses RSA-PSS for RSA keys.
    ``scrambled_attributes`` sends the signed attributes out of DER order while signing the
    DER form (as some real signers do: the content is fine, the signature does not verify).
    ``ber_nesting`` (BER only): how many constructed OCTET STRING levels wrap the chunks.
    """
    when = (signing_time or datetime.now(UTC)).replace(microsecond=0)
    infos = []
    replacements: list[tuple[bytes, bytes]] = []
    for i, signer in enumerate(signers):
        info, attrs = _signer_info(content, signer, digest, when, pss=pss, content_type=True)
        if i == 0 and countersigners:
            counters = [
                _signer_info(info["signature"].native, c, digest, when, pss=pss)[0]
                for c in countersigners
            ]
            info["unsigned_attrs"] = [{"type": "counter_signature", "values": counters}]
        if scrambled_attributes:
            replacements.append((attrs.contents, b"".join(reversed([a.dump() for a in attrs]))))
        infos.append(info)
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": digest}],
            "encap_content_info": (
                {"content_type": "data"}
                if detached
                else {"content_type": "data", "content": content}
            ),
            "certificates": [_asn1_certificate(s) for s in [*signers, *countersigners]],
            "signer_infos": infos,
        }
    )
    der = cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
    for sorted_attrs, scrambled in replacements:
        der = der.replace(sorted_attrs, scrambled, 1)  # same length: a permutation
    return encode(der, encoding, ber_nesting=ber_nesting)


def wrap(
    content: bytes,
    layers: Sequence[Sequence[SignerKey]],
    *,
    encoding: Encoding = "der",
    signing_time: datetime | None = None,
) -> bytes:
    """Sign ``content`` once per entry of ``layers`` (innermost first): a ``.p7m.p7m`` kept
    under one name. Inner layers are DER; ``encoding`` applies to the outermost."""
    data = content
    for i, signers in enumerate(layers):
        last = i == len(layers) - 1
        data = sign(data, signers, encoding=encoding if last else "der", signing_time=signing_time)
    return data


def encode(der: bytes, encoding: Encoding, *, ber_nesting: int = 1) -> bytes:
    """Re-encode a DER ContentInfo as DER, BER (indefinite lengths, chunked content), PEM or
    base64 text with CRLF line ends."""
    if encoding == "der":
        return der
    if encoding == "ber":
        return _to_ber(der, 0, len(der), 0, ber_nesting)
    text = base64.b64encode(der)
    if encoding == "pem":
        lines = [text[i : i + 64] for i in range(0, len(text), 64)]
        return b"\n".join([b"-----BEGIN PKCS7-----", *lines, b"-----END PKCS7-----", b""])
    if encoding == "base64":
        return b"\r\n".join(text[i : i + 76] for i in range(0, len(text), 76)) + b"\r\n"
    raise ValueError(f"unknown encoding {encoding!r}")


def to_m7m(p7m: bytes, timestamp: bytes = b"\x30\x03\x02\x01\x00") -> bytes:
    """An ``.m7m``: MIME multipart with the p7m and a (placeholder) timestamp response."""
    boundary = "m7m-boundary-0001"
    parts = [
        ("application/pkcs7-mime", "documento.pdf.p7m", p7m),
        ("application/timestamp-reply", "documento.tsr", timestamp),
    ]
    out = [f"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary={boundary}\r\n\r\n"]
    for kind, name, payload in parts:
        body = base64.encodebytes(payload).decode("ascii").replace("\n", "\r\n")
        out.append(
            f"--{boundary}\r\nContent-Type: {kind}; name={name}\r\n"
            f"Content-Transfer-Encoding: base64\r\n"
            f'Content-Disposition: attachment; filename="{name}"\r\n\r\n{body}'
        )
    out.append(f"--{boundary}--\r\n")
    return "".join(out).encode("ascii")


def to_tsd(content: bytes | None, file_name: str = "documento.pdf.p7m") -> bytes:
    """An RFC 5544 TimeStampedData around ``content`` (None: no embedded content). The
    evidence is a placeholder, not a real timestamp token."""
    fields: dict[str, object] = {
        "version": "v1",
        "meta_data": {"hash_protected": False, "file_name": file_name},
        "temporal_evidence": tsp.Evidence(
            name="tst_evidence",
            value=[{"time_stamp": {"content_type": "tst_info", "content": None}}],
        ),
    }
    if content is not None:
        fields["content"] = content
    tsd = tsp.TimeStampedData(fields)
    return cms.ContentInfo({"content_type": "timestamped_data", "content": tsd}).dump()


def _signer_info(
    message: bytes,
    signer: SignerKey,
    digest: str,
    when: datetime,
    *,
    pss: bool,
    content_type: bool = False,
) -> tuple[cms.SignerInfo, cms.CMSAttributes]:
    hash_algorithm = _HASHES[digest]()
    attrs = cms.CMSAttributes(_signed_attributes(message, signer, digest, when, content_type))
    signed = attrs.dump()  # a SET OF in DER order
    key = signer.private_key
    if isinstance(key, rsa.RSAPrivateKey) and pss:
        salt = hash_algorithm.digest_size
        signature = key.sign(
            signed, padding.PSS(padding.MGF1(hash_algorithm), salt), hash_algorithm
        )
        algorithm = _pss_algorithm(digest, salt)
    elif isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signed, padding.PKCS1v15(), hash_algorithm)
        algorithm = {"algorithm": "rsassa_pkcs1v15"}
    else:
        signature = key.sign(signed, ec.ECDSA(hash_algorithm))
        algorithm = {"algorithm": f"{digest}_ecdsa"}
    cert = _asn1_certificate(signer)
    info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": cert.issuer, "serial_number": cert.serial_number},
            ),
            "digest_algorithm": {"algorithm": digest},
            "signed_attrs": attrs,
            "signature_algorithm": algorithm,
            "signature": signature,
        }
    )
    return info, attrs


def _signed_attributes(
    message: bytes, signer: SignerKey, digest: str, when: datetime, content_type: bool
) -> list[dict[str, object]]:
    h = hashes.Hash(_HASHES[digest]())
    h.update(message)
    cert = _asn1_certificate(signer)
    essv2 = {
        "certs": [
            {
                "hash_algorithm": {"algorithm": "sha256"},
                "cert_hash": hashlib.sha256(signer.certificate_der).digest(),
                "issuer_serial": {
                    "issuer": [asn1_x509.GeneralName(name="directory_name", value=cert.issuer)],
                    "serial_number": cert.serial_number,
                },
            }
        ]
    }
    attrs: list[dict[str, object]] = [
        {"type": "message_digest", "values": [h.finalize()]},
        {"type": "signing_time", "values": [cms.Time(name="utc_time", value=when)]},
        {"type": "signing_certificate_v2", "values": [essv2]},
    ]
    if content_type:
        attrs.insert(0, {"type": "content_type", "values": ["data"]})
    return attrs


def _pss_algorithm(digest: str, salt: int) -> dict[str, object]:
    return {
        "algorithm": "rsassa_pss",
        "parameters": {
            "hash_algorithm": {"algorithm": digest},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": digest}},
            "salt_length": salt,
            "trailer_field": "trailer_field_bc",
        },
    }


def _asn1_certificate(signer: SignerKey) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(signer.certificate_der)


def _to_ber(der: bytes, pos: int, end: int, depth: int, nesting: int) -> bytes:
    """Indefinite lengths on the outer structure, the document as chunked OCTET STRINGs."""
    out = []
    while pos < end:
        ident, start, length, constructed = read_header(der, pos, end)
        assert length is not None  # DER input
        stop = start + length
        if constructed and depth <= _BER_SPINE_DEPTH:
            inner = _to_ber(der, start, stop, depth + 1, nesting)
            out.append(ident + b"\x80" + inner + b"\x00\x00")
        elif ident == b"\x04" and length > 512:
            out.append(_chunked(der[start:stop], nesting))
        else:
            out.append(der[pos:stop])
        pos = stop
    return b"".join(out)


def _chunked(value: bytes, nesting: int, size: int = 1000) -> bytes:
    """``value`` as 0x04 chunks inside ``nesting`` levels of indefinite constructed OCTET STRING."""
    chunks = b"".join(
        b"\x04" + der_length(len(value[i : i + size])) + value[i : i + size]
        for i in range(0, len(value), size)
    )
    if nesting <= 0:
        return b"\x04" + der_length(len(value)) + value
    return b"\x24\x80" * nesting + chunks + b"\x00\x00" * nesting
