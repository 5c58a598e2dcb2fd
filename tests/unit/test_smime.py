"""Detached CMS signature checks: valid, tampered, BER, garbage; OpenSSL agrees when present."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from asn1crypto import cms

from parsers.cades_ber import to_definite
from parsers.envelope import parse_envelope
from parsers.errors import ParseError
from parsers.smime import canonicalize, verify_detached
from pec_ingest.samples import pec

CONTENT = b"Content-Type: text/plain\r\n\r\nDomanda di partecipazione\r\nriga due\r\n"


@pytest.fixture(scope="module")
def rsa_key() -> pec.ProviderKey:
    return pec.ProviderKey.generate(gestore="Gestore RSA S.p.A.", algorithm="rsa")


@pytest.mark.parametrize("algorithm", ["ec", "rsa"])
def test_valid_signature(algorithm: str, rsa_key: pec.ProviderKey) -> None:
    key = rsa_key if algorithm == "rsa" else pec.default_provider_key()
    result = verify_detached(CONTENT, key.sign(CONTENT))
    assert result.present is True and result.valid is True and result.reason is None
    assert result.signer == key.common_name


def test_one_changed_byte_is_detected() -> None:
    signature = pec.default_provider_key().sign(CONTENT)
    tampered = CONTENT.replace(b"Domanda", b"Domandb")
    result = verify_detached(tampered, signature)
    assert result.valid is False
    assert result.reason == "impronta del documento diversa da quella firmata: documento alterato"


def test_tampered_signed_attributes_fail_the_signature_itself() -> None:
    signature = bytearray(pec.default_provider_key().sign(CONTENT))
    # signingTime is a signed attribute: change one digit of the UTCTime.
    position = signature.rindex(b"\x17\x0d") + 3
    signature[position] = ord("0") if signature[position] != ord("0") else ord("1")
    result = verify_detached(CONTENT, bytes(signature))
    assert result.valid is False
    assert result.reason == "la firma non corrisponde ai dati firmati"


def test_signature_value_flipped(rsa_key: pec.ProviderKey) -> None:
    signature = bytearray(rsa_key.sign(CONTENT))
    signature[-5] ^= 0x01  # inside the RSA signature value, the last field
    result = verify_detached(CONTENT, bytes(signature))
    assert result.valid is False and result.reason == "la firma non corrisponde ai dati firmati"


def test_provider_style_ber_verifies() -> None:
    ber = pec.default_provider_key().sign(CONTENT, ber=True)
    assert ber[1] == 0x80  # indefinite length at the top
    assert verify_detached(CONTENT, ber).valid is True


def test_deeply_nested_indefinite_ber_is_read_beyond_asn1crypto_default_depth() -> None:
    der = pec.default_provider_key().sign(CONTENT)
    ber = pec.to_indefinite_ber(der, max_depth=64)
    with pytest.raises(ValueError):
        _ = cms.ContentInfo.load(ber).native  # asn1crypto alone gives up on this nesting
    assert to_definite(ber, 64).data == der
    assert verify_detached(CONTENT, ber).valid is True


def test_ber_rewriting_rejects_broken_encodings() -> None:
    for broken in (b"", b"\x30", b"\x30\x80\x02\x01\x01", b"\x30\x05\x02\x01", b"\x04\x80\x00\x00"):
        with pytest.raises(ParseError):
            to_definite(broken, 64)
    too_deep = b"\x30\x80" * 100 + b"\x00\x00" * 100
    with pytest.raises(ParseError):
        to_definite(too_deep, 64)


def test_signer_certificate_missing() -> None:
    signed = cms.ContentInfo.load(pec.default_provider_key().sign(CONTENT))
    signed["content"]["certificates"] = []
    result = verify_detached(CONTENT, signed.dump(force=True))
    assert result.valid is False
    assert result.reason == "il certificato del firmatario non è incluso nella busta"


def test_not_signed_data() -> None:
    data = cms.ContentInfo({"content_type": "data", "content": b"hello"}).dump()
    result = verify_detached(CONTENT, data)
    assert result.present is True and result.valid is False
    assert result.reason is not None and result.reason.startswith("firma illeggibile")


@pytest.mark.parametrize("junk", [b"", b"\x00", b"MII...njA==", bytes(range(256)) * 4])
def test_garbage(junk: bytes) -> None:
    result = verify_detached(CONTENT, junk)
    assert result.present is True and result.valid is False and result.reason


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"a\r\nb", b"a\r\nb"),
        (b"a\r\r\nb\rc", b"a\r\nb\rc"),
        (b"a\n\nb\r", b"a\r\n\r\nb"),
        (b"", b""),
    ],
)
def test_canonicalize(raw: bytes, canonical: bytes) -> None:
    assert canonicalize(raw) == canonical


def test_canonicalize_answers_as_the_line_break_substitution() -> None:
    rnd = random.Random(11)
    unchanged = 0
    for _ in range(4000):
        pieces = (b"\r\n", b"\r\n", b"\n", b"\r", b"\r\r\n", b"a", b"bc", b" ")
        raw = b"".join(rnd.choice(pieces[: rnd.choice((2, 8))]) for _ in range(rnd.randint(0, 12)))
        expected = re.sub(rb"\r*\n", b"\r\n", raw).rstrip(b"\r") if raw else raw
        assert canonicalize(raw) == expected, raw
        unchanged += expected == raw
    assert unchanged > 500


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not installed")
@pytest.mark.parametrize("variant", ["crlf", "lf", "tampered", "ber"])
def test_verdict_matches_openssl(variant: str, tmp_path: Path) -> None:
    when = datetime(2025, 5, 5, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    original = pec.build_original(
        sender="a@pec.example.it", to=["b@pec.example.it"], subject="Prova", date=when,
        message_id="<p1@pec.example.it>", attachments=[("x.pdf", b"%PDF-1.4", "application/pdf")],
    )  # fmt: skip
    raw = pec.build_envelope(
        original, mittente="a@pec.example.it", destinatari=["b@pec.example.it"],
        identificativo="opec5@pec.simulato.example", data=when, ber=variant == "ber",
    )  # fmt: skip
    if variant == "lf":
        raw = raw.replace(b"\r\n", b"\n")
    if variant == "tampered":
        raw = raw.replace(b"Subject: Prova", b"Subject: Prove")
    path = tmp_path / "message.eml"
    path.write_bytes(raw)
    completed = subprocess.run(
        ["openssl", "smime", "-verify", "-noverify", "-in", str(path), "-out", "/dev/null"],
        capture_output=True,
        check=False,
    )
    ours = parse_envelope(raw).signature.valid
    assert ours is (completed.returncode == 0)
    assert ours is (variant != "tampered")


def test_certificates_read_once_each_signature_checked_with_its_own_key(
        rsa_key: pec.ProviderKey) -> None:
    """A signer certificate's facts (names, key) are read once per certificate encoding and
    kept: two providers in turn each get their own name and key, from the kept facts too."""
    from parsers.cades_signer import _kept_facts

    ec_key = pec.default_provider_key()
    before = _kept_facts.cache_info().hits
    for _ in range(2):
        for key in (ec_key, rsa_key):
            result = verify_detached(CONTENT, key.sign(CONTENT))
            assert result.valid is True and result.signer == key.common_name
            flipped = bytearray(key.sign(CONTENT))
            flipped[-5] ^= 0x01
            wrong = verify_detached(CONTENT, bytes(flipped))
            assert wrong.valid is False and wrong.signer == key.common_name
    assert _kept_facts.cache_info().hits >= before + 6


def _self_signed(key: object, pad: int = 0, key_id: bool = False) -> bytes:
    """A self-signed certificate (cryptography), padded by an unknown extension, with a
    subject key identifier when ``key_id``."""
    from datetime import datetime as dt

    from cryptography import x509 as cx
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    name = cx.Name([cx.NameAttribute(NameOID.COMMON_NAME, "Gestore di prova"),
                    cx.NameAttribute(NameOID.SERIAL_NUMBER, "TINIT-RSSMRA80A01H501U")])
    builder = (cx.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key())  # type: ignore[attr-defined]
               .serial_number(12345).not_valid_before(dt(2024, 1, 1))
               .not_valid_after(dt(2030, 1, 1)))
    if pad:
        builder = builder.add_extension(cx.UnrecognizedExtension(
            cx.ObjectIdentifier("1.2.3.4.5"), b"A" * pad), critical=False)
    if key_id:
        builder = builder.add_extension(cx.SubjectKeyIdentifier.from_public_key(
            key.public_key()), critical=False)  # type: ignore[attr-defined]
    cert = builder.sign(key, hashes.SHA256())  # type: ignore[arg-type]
    return cert.public_bytes(serialization.Encoding.DER)


def _detached(signer: bytes, key: object, extra: bytes | None = None) -> bytes:
    from cryptography import x509 as cx
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.serialization import pkcs7

    builder = pkcs7.PKCS7SignatureBuilder().set_data(CONTENT).add_signer(
        cx.load_der_x509_certificate(signer), key, hashes.SHA256())  # type: ignore[arg-type]
    if extra is not None:
        builder = builder.add_certificate(cx.load_der_x509_certificate(extra))
    return builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature])


def test_a_certificate_whose_length_header_ends_in_0x80_is_taken_as_it_arrived() -> None:
    """asn1crypto's dump() takes a definite length ending in 0x80 (here 384 bytes) for an
    indefinite one and re-encodes the certificate, reading every field: a certificate in the
    signature with a date it cannot read then made the check raise instead of answering.
    The certificates are taken as they arrived: same bytes, and the check answers."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    signer = _self_signed(key)
    odd = next(d for d in (_self_signed(key, pad) for pad in range(0, 600))
               if d[1] == 0x82 and d[3] == 0x80)
    good = verify_detached(CONTENT, _detached(signer, key, odd))
    assert good.valid is True and good.signer == "Gestore di prova"
    assert good.certificates == (signer, odd)  # the bytes that arrived
    bad_date = odd.replace(b"240101000000Z", b"2401010000XXZ")
    signature = _detached(signer, key, odd).replace(odd, bad_date)
    result = verify_detached(CONTENT, signature)  # answers, does not raise
    assert result.valid is True and result.certificates == (signer, bad_date)
    odd_signer = verify_detached(CONTENT, _detached(odd, key))
    assert odd_signer.valid is True and odd_signer.signer == "Gestore di prova"


def test_a_large_certificate_is_read_but_not_kept() -> None:
    """Facts of certificates of ordinary size are kept; a hostile message's huge certificate
    is read each time and never held by the cache (memory of a long-lived worker)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from parsers.cades_signer import _kept_facts, _kept_read

    key = ec.generate_private_key(ec.SECP256R1())
    huge = _self_signed(key, pad=200_000)
    before = _kept_facts.cache_info()
    before_read = _kept_read.cache_info()
    result = verify_detached(CONTENT, _detached(huge, key))
    assert result.valid is True and result.signer == "Gestore di prova"
    after = _kept_facts.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)  # neither kept nor sought
    after_read = _kept_read.cache_info()  # nor its serial number and issuer, used to match it
    assert (after_read.hits, after_read.misses) == (before_read.hits, before_read.misses)
    assert verify_detached(CONTENT, _detached(_self_signed(key), key)).valid is True
    assert _kept_facts.cache_info().misses == before.misses + 1  # an ordinary one is kept


def _with_key_identifier(signature: bytes, key_id: bytes) -> bytes:
    """``signature`` with its signer named by subject key identifier (not signed: still valid)."""
    info = cms.ContentInfo.load(signature)
    signer = info["content"]["signer_infos"][0]
    signer["sid"] = cms.SignerIdentifier({"subject_key_identifier": key_id})
    return bytes(info.dump(force=True))


def test_signer_certificate_matched_from_kept_facts_as_in_place() -> None:
    """The facts a signer is matched by (serial number, issuer, key identifier) are kept per
    certificate encoding: they equal those read from the certificate in the signature, and
    a check answers the same the first time and from the kept facts, by issuer and serial
    or by key identifier, with the signer's certificate first among those returned."""
    from cryptography import x509 as cx
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from parsers.cades_signer import _issuer_of, _kept_fact, _key_identifier_of, _serial_of

    key = ec.generate_private_key(ec.SECP256R1())
    provider = pec.default_provider_key()
    other = provider.certificate.public_bytes(serialization.Encoding.DER)
    signer = _self_signed(key, key_id=True)
    ski = cx.SubjectKeyIdentifier.from_public_key(key.public_key()).digest
    signature = _detached(signer, key, other)
    by_key = _with_key_identifier(signature, ski)
    for data in (signature, by_key, provider.sign(CONTENT)):
        signed = cms.ContentInfo.load(data)["content"]
        for index, choice in enumerate(signed["certificates"]):
            fresh = cms.ContentInfo.load(data)["content"]["certificates"][index].chosen
            for read in (_serial_of, _issuer_of, _key_identifier_of):
                assert _kept_fact(choice.chosen, read) == read(fresh)
    for data in (signature, by_key):
        first, again = verify_detached(CONTENT, data), verify_detached(CONTENT, data)
        assert first == again and first.valid is True
        assert first.certificates == again.certificates and first.certificates[0] == signer
    missing = verify_detached(CONTENT, _with_key_identifier(signature, b"\x01" * 20))
    assert missing.reason == "il certificato del firmatario non è incluso nella busta"
