"""parsers.cades: signed bytes in, SignedDocument out (samples built by pec_ingest.samples.p7m)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import serialization

from parsers.cades import SignedDocument, codice_fiscale_from_serial, is_signed_container, unwrap
from parsers.errors import LimitExceeded, SignedDataError, UnsupportedContainer
from parsers.limits import Limits
from pec_ingest.samples.p7m import SignerKey, encode, make_signer, sign, to_m7m, to_tsd, wrap

WHEN = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
PDF = b"%PDF-1.7\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 150 + b"%%EOF\n"
XML = b"<?xml version='1.0' encoding='UTF-8'?><domanda><ente>APS Futura</ente></domanda>"


@pytest.fixture(scope="module")
def alice() -> SignerKey:
    return make_signer("Alice Rossi", "RSSLCA80A41H501X")


@pytest.fixture(scope="module")
def bruno() -> SignerKey:
    return make_signer("Bruno Verdi", "VRDBRN70B02F205Y", "ec")


@pytest.fixture(scope="module")
def carla() -> SignerKey:
    return make_signer("Carla Neri", "NRECRL75C43L219Z")


def _signature_of(der: bytes, index: int = 0) -> bytes:
    info = cms.ContentInfo.load(der)["content"]["signer_infos"][index]
    return bytes(info["signature"].native)


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["der", "ber", "pem", "base64"])
def test_each_encoding_round_trips_to_the_exact_content(alice: SignerKey, encoding: str) -> None:
    signed = sign(PDF, [alice], encoding=encoding, signing_time=WHEN)  # type: ignore[arg-type]
    doc = unwrap(signed)
    assert doc.content == PDF
    assert doc.sha256 == hashlib.sha256(PDF).hexdigest()
    assert doc.encoding == encoding
    assert (doc.layers, doc.valid, doc.format) == (1, True, "pdf")
    assert doc.warnings == ()


def test_ber_sample_really_uses_indefinite_lengths(alice: SignerKey) -> None:
    signed = sign(PDF, [alice], encoding="ber")
    assert signed.startswith(b"\x30\x80") and b"\x24\x80" in signed
    assert unwrap(signed).content == PDF


def test_signer_identity_comes_from_the_certificate(alice: SignerKey) -> None:
    doc = unwrap(sign(XML, [alice], signing_time=WHEN))
    (signer,) = doc.signers
    assert signer.name == "Alice Rossi"
    assert signer.codice_fiscale == "RSSLCA80A41H501X"
    assert signer.serial_number == "TINIT-RSSLCA80A41H501X"
    assert signer.issuer == "Alice Rossi"  # self-signed
    assert signer.signing_time == WHEN
    assert signer.digest_algorithm == "sha256"
    assert (signer.signature_valid, signer.content_digest_ok, signer.reason) == (True, True, None)
    assert doc.format == "xml"


def test_parallel_signers_are_all_reported_and_checked(
    alice: SignerKey, bruno: SignerKey, carla: SignerKey
) -> None:
    doc = unwrap(sign(PDF, [alice, bruno, carla]))
    assert sorted(s.codice_fiscale or "" for s in doc.signers) == [
        "NRECRL75C43L219Z",
        "RSSLCA80A41H501X",
        "VRDBRN70B02F205Y",
    ]
    assert all(s.signature_valid and s.content_digest_ok for s in doc.signers)
    assert doc.valid and doc.layers == 1


def test_nested_layers_unwrap_to_the_innermost_document(
    alice: SignerKey, bruno: SignerKey, carla: SignerKey
) -> None:
    signed = wrap(PDF, [[alice], [bruno, carla]], encoding="ber")
    doc = unwrap(signed)
    assert doc.content == PDF and doc.layers == 2 and doc.encoding == "ber"
    outer, inner = doc.signers[:2], doc.signers[2:]
    assert {s.name for s in outer} == {"Bruno Verdi", "Carla Neri"}
    assert [s.name for s in inner] == ["Alice Rossi"]
    assert doc.valid


def test_inner_layer_sent_as_base64_text_is_opened(alice: SignerKey, bruno: SignerKey) -> None:
    inner = sign(XML, [alice], encoding="base64")
    doc = unwrap(sign(inner, [bruno]))
    assert doc.content == XML and doc.layers == 2
    assert [s.name for s in doc.signers] == ["Bruno Verdi", "Alice Rossi"]
    assert any("base64" in w for w in doc.warnings)


def test_base64_of_base64_with_crlf(alice: SignerKey) -> None:
    once = sign(XML, [alice], encoding="base64")
    twice = base64.encodebytes(once).replace(b"\n", b"\r\n")
    doc = unwrap(twice)
    assert doc.content == XML and doc.encoding == "base64" and doc.valid


def test_pem_with_bom_and_blank_lines(alice: SignerKey) -> None:
    pem = b"\xef\xbb\xbf\r\n" + sign(XML, [alice], encoding="pem").replace(b"\n", b"\r\n")
    assert unwrap(pem).content == XML
    assert is_signed_container(pem)


@pytest.mark.parametrize("digest", ["md5", "sha1", "sha256", "sha512"])
def test_digest_algorithms(alice: SignerKey, digest: str) -> None:
    doc = unwrap(sign(XML, [alice], digest=digest))
    assert doc.signers[0].digest_algorithm == digest
    assert doc.valid
    weak = any("algoritmo debole" in w for w in doc.warnings)
    assert weak == (digest in ("md5", "sha1"))


def test_rsa_pss_and_ecdsa_signatures_verify(alice: SignerKey, bruno: SignerKey) -> None:
    doc = unwrap(sign(XML, [alice, bruno], pss=True, digest="sha512"))
    assert doc.valid and len(doc.signers) == 2


MGF1 = bytes.fromhex("06092a864886f70d010108")  # the OID 1.2.840.113549.1.1.8 (mgf1)


@pytest.mark.parametrize("other", [
    bytes.fromhex("06092a864886f70d010109"),  # 1.2.840.113549.1.1.9, not a mask generator
    bytes.fromhex("06092b864886f70d010108"),  # an unknown arc
], ids=["pkcs1-9", "unknown-arc"])
def test_rsa_pss_with_an_unknown_mask_generator_is_an_invalid_signature(
        alice: SignerKey, other: bytes) -> None:
    """asn1crypto leaves the parameters of an unknown mask generation function unparsed: the
    signer is reported unsupported, not a crash of our code (found by fuzzing)."""
    signed = sign(XML, [alice], pss=True)
    assert signed.count(MGF1) == 1
    doc = unwrap(signed.replace(MGF1, other))
    (signer,) = doc.signers
    assert not doc.valid and not signer.signature_valid
    assert "RSA-PSS con generatore di maschera" in (signer.reason or "")


def test_counter_signature_is_checked(alice: SignerKey, bruno: SignerKey) -> None:
    signed = sign(XML, [alice], countersigners=[bruno])
    doc = unwrap(signed)
    (signer,) = doc.signers
    (counter,) = signer.counter_signers
    assert counter.name == "Bruno Verdi" and counter.codice_fiscale == "VRDBRN70B02F205Y"
    assert counter.signature_valid and counter.content_digest_ok and doc.valid


def test_counter_signature_over_another_value_is_invalid(
    alice: SignerKey, bruno: SignerKey
) -> None:
    signed = sign(XML, [alice], countersigners=[bruno])
    main = _signature_of(signed)
    # Alter the main signature: the counter-signature's digest no longer matches it.
    doc = unwrap(signed.replace(main, main[:-1] + bytes([main[-1] ^ 1])))
    (signer,) = doc.signers
    assert not signer.signature_valid
    assert not signer.counter_signers[0].content_digest_ok
    assert not doc.valid


# --- tampering -----------------------------------------------------------------------------


def test_tampered_content_keeps_a_valid_signature_but_fails_the_digest(alice: SignerKey) -> None:
    signed = sign(b"importo richiesto: 1000 euro", [alice])
    tampered = signed.replace(b"1000 euro", b"9000 euro")
    assert tampered != signed
    doc = unwrap(tampered)
    (signer,) = doc.signers
    assert doc.content == b"importo richiesto: 9000 euro"
    assert signer.signature_valid  # the signed attributes are untouched
    assert not signer.content_digest_ok
    assert signer.reason is not None and "alterato" in signer.reason
    assert not doc.valid


def test_tampered_signature_is_reported_invalid(alice: SignerKey) -> None:
    signed = sign(XML, [alice])
    signature = _signature_of(signed)
    doc = unwrap(signed.replace(signature, bytes([signature[0] ^ 0x40]) + signature[1:]))
    (signer,) = doc.signers
    assert signer.content_digest_ok and not signer.signature_valid
    assert signer.reason == "la firma non corrisponde ai dati firmati"
    assert not doc.valid and doc.content == XML


def test_signed_attributes_out_of_der_order_report_invalid_without_crashing(
    alice: SignerKey,
) -> None:
    doc = unwrap(sign(XML, [alice], scrambled_attributes=True))
    (signer,) = doc.signers
    assert doc.content == XML
    assert signer.content_digest_ok and not signer.signature_valid
    assert signer.reason is not None and "ordine DER" in signer.reason
    assert not doc.valid


def test_signature_without_signed_attributes_covers_the_content(alice: SignerKey) -> None:
    # openssl -noattr signs the content itself (no signed attributes).
    signed = _openssl_sign(alice, XML, "-noattr")
    doc = unwrap(signed)
    (signer,) = doc.signers
    assert doc.content == XML and doc.valid and signer.signing_time is None
    tampered = unwrap(signed.replace(b"APS Futura", b"APS Fatura"))
    assert not tampered.valid and not tampered.signers[0].signature_valid


def test_openssl_streamed_ber_is_read(alice: SignerKey) -> None:
    signed = _openssl_sign(alice, PDF, "-stream")
    assert signed[:2] == b"\x30\x80"
    doc = unwrap(signed)
    assert doc.content == PDF and doc.encoding == "ber" and doc.valid
    assert doc.signers[0].codice_fiscale == "RSSLCA80A41H501X"


def _openssl_sign(signer: SignerKey, content: bytes, *extra: str) -> bytes:
    """Sign with the openssl CLI (tests only), to check against a real CMS producer."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        key = signer.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        (d / "key.pem").write_bytes(key)
        (d / "cert.pem").write_bytes(signer.certificate.public_bytes(serialization.Encoding.PEM))
        (d / "in.bin").write_bytes(content)
        command = ["openssl", "cms", "-sign", "-binary", "-nodetach", "-outform", "DER", *extra]
        command += ["-signer", str(d / "cert.pem"), "-inkey", str(d / "key.pem")]
        command += ["-in", str(d / "in.bin"), "-out", str(d / "out.p7m")]
        subprocess.run(command, check=True, capture_output=True)
        return (d / "out.p7m").read_bytes()


# --- refusals ------------------------------------------------------------------------------


def test_detached_signature_is_refused_with_a_clear_message(alice: SignerKey) -> None:
    with pytest.raises(SignedDataError, match="firma staccata: il documento non è incluso"):
        unwrap(sign(XML, [alice], detached=True))


def _junk_inputs() -> list[tuple[str, bytes]]:
    der = sign(PDF, [make_signer("Alice Rossi", "RSSLCA80A41H501X")])
    return [
        ("empty", b""),
        ("two bytes", b" \n"),
        ("zeros", b"\x00" * 100),
        ("text", b"questo non e' un file firmato"),
        ("pdf", PDF),
        ("truncated der", der[: len(der) // 2]),
        ("truncated ber", encode(der, "ber")[:-3]),
        ("only a header", b"\x30\x80"),
        ("sequence of nothing", b"\x30\x03\x02\x01\x00"),
        ("huge length", b"\x30\x88\xff\xff\xff\xff\xff\xff\xff\xff" + b"\x00" * 40),
        ("base64 of text", base64.b64encode(b"hello world, not a signature at all" * 3)),
        ("bad base64", b"MIIkBgYJKoZIhvcN" * 10 + b"!!"),
        ("truncated pem", b"-----BEGIN PKCS7-----\nMIIkBgYJKoZIhvcNAQcCoIIj9zCC\n"),
        ("certificate only", make_signer("Alice Rossi", "RSSLCA80A41H501X").certificate_der),
        ("wrong first byte", b"\x43" + der[1:]),
    ]


@pytest.mark.parametrize(("label", "data"), _junk_inputs(), ids=[j[0] for j in _junk_inputs()])
def test_junk_gives_signed_data_error_fast(label: str, data: bytes) -> None:
    start = time.perf_counter()
    with pytest.raises(SignedDataError) as info:
        unwrap(data)
    assert time.perf_counter() - start < 10.0  # hang guard, generous for a busy machine
    message = str(info.value)
    assert message and "\n" not in message
    assert not is_signed_container(data) or label.startswith(("truncated", "only", "sequence"))


def test_deep_ber_nesting_beyond_asn1crypto_default_is_read(alice: SignerKey) -> None:
    doc = unwrap(sign(PDF, [alice], encoding="ber", ber_nesting=40))
    assert doc.content == PDF and doc.valid


@pytest.mark.parametrize("depth", [5_000, 200_000])
def test_hostile_nesting_raises_a_parse_error_not_recursion_error(
    alice: SignerKey, depth: int
) -> None:
    hostile = [
        sign(PDF, [alice], encoding="ber", ber_nesting=depth),
        b"\x30\x80" * depth + b"\x00\x00" * depth,
    ]
    for data in hostile:
        start = time.perf_counter()
        with pytest.raises((SignedDataError, LimitExceeded)):
            unwrap(data)
        assert time.perf_counter() - start < 15.0  # hang guard


def test_oversize_input_is_refused_before_parsing(alice: SignerKey) -> None:
    signed = sign(PDF, [alice])
    with pytest.raises(LimitExceeded, match="troppo grande"):
        unwrap(signed, Limits(max_input_bytes=len(signed) - 1))
    assert unwrap(signed, Limits(max_input_bytes=len(signed))).content == PDF


def test_too_many_layers_are_refused(alice: SignerKey) -> None:
    signed = wrap(XML, [[alice]] * 3)
    assert unwrap(signed, Limits(max_signed_layers=3)).layers == 3
    with pytest.raises(LimitExceeded, match="livelli"):
        unwrap(signed, Limits(max_signed_layers=2))


def test_trailing_bytes_are_ignored_with_a_warning(alice: SignerKey) -> None:
    doc = unwrap(sign(XML, [alice]) + b"\r\n\x00\x00")
    assert doc.content == XML and doc.valid
    assert any("4 byte dopo la fine" in w for w in doc.warnings)


def test_enveloped_data_is_an_unsupported_container() -> None:
    enveloped = bytes.fromhex("300f06092a864886f70d010703a0023000")
    with pytest.raises(UnsupportedContainer, match="cifrata"):
        unwrap(enveloped)


# --- other containers ----------------------------------------------------------------------


def test_m7m_opens_its_p7m_part(alice: SignerKey) -> None:
    doc = unwrap(to_m7m(sign(PDF, [alice], encoding="ber")))
    assert doc.content == PDF and doc.valid and doc.encoding == "ber"
    assert any(".m7m" in w for w in doc.warnings)


def test_m7m_without_p7m_part_is_unsupported() -> None:
    m7m = to_m7m(b"not a signature").replace(b"pkcs7-mime", b"octet-stream")
    m7m = m7m.replace(b"documento.pdf.p7m", b"documento.pdf")
    with pytest.raises(UnsupportedContainer, match=r"\.m7m"):
        unwrap(m7m)


def test_tsd_around_a_p7m_is_unwrapped(alice: SignerKey) -> None:
    doc = unwrap(to_tsd(sign(XML, [alice])))
    assert doc.content == XML and doc.layers == 1 and doc.valid
    assert any(".tsd" in w for w in doc.warnings)


def test_tsd_around_an_unsigned_document_is_not_valid() -> None:
    doc = unwrap(to_tsd(PDF))
    assert doc.content == PDF and doc.layers == 0 and doc.signers == () and not doc.valid


def test_tsd_without_content_is_unsupported() -> None:
    with pytest.raises(UnsupportedContainer, match=r"\.tsd"):
        unwrap(to_tsd(None))


# --- small pieces --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["der", "ber", "pem", "base64"])
def test_is_signed_container_recognises_every_encoding(alice: SignerKey, encoding: str) -> None:
    signed = sign(XML, [alice], encoding=encoding)  # type: ignore[arg-type]
    assert is_signed_container(signed)
    assert is_signed_container(base64.encodebytes(signed))


def test_is_signed_container_rejects_documents_and_timestamp_replies(alice: SignerKey) -> None:
    token = sign(XML, [alice])
    tsr = b"\x30\x82" + (len(token) + 5).to_bytes(2, "big") + b"\x30\x03\x02\x01\x00" + token
    for data in (b"", PDF, XML, b"\x30\x03\x02\x01\x00", tsr, b"A" * 100):
        assert not is_signed_container(data)
    assert is_signed_container(to_m7m(token)) and is_signed_container(to_tsd(token))


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        ("TINIT-RSSMRA80A01H501U", "RSSMRA80A01H501U"),
        ("IT:RSSMRA80A01H501U", "RSSMRA80A01H501U"),
        (" IT:dstlsn52a01c342f", "DSTLSN52A01C342F"),
        ("TINIT-01234567890", "01234567890"),
        ("TINIT-0123456789", None),  # 10 digits
        ("TINIT-RSSMRA80A01H501", None),  # 15 characters
        ("RSSMRA80A01H501U", None),  # no prefix: do not guess
        ("IT:RSSMRA80A01H501U/2", None),
        ("07945211006", None),  # an issuer's VAT number, no prefix
        ("", None),
        (None, None),
    ],
)
def test_codice_fiscale_is_taken_only_when_it_looks_like_one(
    serial: str | None, expected: str | None
) -> None:
    assert codice_fiscale_from_serial(serial) == expected


def test_result_is_frozen(alice: SignerKey) -> None:
    doc = unwrap(sign(XML, [alice]))
    assert isinstance(doc, SignedDocument)
    with pytest.raises(AttributeError):
        doc.valid = False  # type: ignore[misc]


def test_asn1_errors_of_ours_are_bugs_not_malformed_input() -> None:
    """TypeError/KeyError/IndexError count as a malformed structure only when asn1crypto raised
    them; raised by our own code they are bugs for the per-message guard."""
    from asn1crypto import core

    from parsers.cades_signer import malformed

    with pytest.raises(TypeError) as refused:
        core.OctetString(5)  # type: ignore[arg-type]  # asn1crypto's own refusal
    assert malformed(refused.value)
    for bug in (TypeError("ours"), KeyError("ours"), IndexError("ours")):
        with pytest.raises(type(bug)) as ours:
            raise bug
        assert not malformed(ours.value)
    assert malformed(ValueError("the documented answer to bad input"))
