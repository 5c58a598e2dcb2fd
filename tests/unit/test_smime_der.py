"""parsers.smime_der (the DER reading of a valid one-signer signature) against the full reading
of parsers.smime: it answers for real providers' signatures and ours, declines everything else,
and never answers where the full reading would not say valid with the same signer and
certificates (real PEC messages, generated signatures, thousands of mutations of both)."""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

import parsers.envelope as envelope_module
import parsers.smime as smime
from parsers.cades_ber import der_length
from parsers.envelope import parse_envelope
from parsers.limits import Limits
from parsers.smime import SignatureCheck, verify_detached
from parsers.smime_der import verify_valid_der
from pec_ingest.samples import pec
from pec_ingest.samples.p7m import make_signer, sign

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
CONTENT = b"Content-Type: text/plain\r\n\r\nDomanda di partecipazione\r\nriga due\r\n"


def full_reading(content: bytes, signature: bytes, monkeypatch: pytest.MonkeyPatch,
                 ) -> SignatureCheck:
    with monkeypatch.context() as patch:
        patch.setattr(smime, "verify_valid_der", lambda _c, _s: None)
        return verify_detached(content, signature)


def agrees(content: bytes, signature: bytes, monkeypatch: pytest.MonkeyPatch) -> bool | None:
    """None: declined; True: answered, as the full reading answers; False: a disagreement."""
    quick = verify_valid_der(content, signature)
    if quick is None:
        return None
    full = full_reading(content, signature, monkeypatch)
    return bool(full.valid) and (full.signer, full.certificates) == quick


@pytest.fixture(scope="module")
def rsa_key() -> pec.ProviderKey:
    return pec.ProviderKey.generate(gestore="Gestore RSA S.p.A.", algorithm="rsa")


def _provider_signatures() -> Iterator[tuple[str, bytes, bytes]]:
    """(file, signed content, signature) of every real PEC message of the corpus."""
    calls: list[tuple[bytes, bytes]] = []
    original = envelope_module.verify_detached

    def spy(content: bytes, signature: bytes) -> SignatureCheck:
        calls.append((content, signature))
        return original(content, signature)

    envelope_module.verify_detached = spy
    try:
        for path in sorted((CORPUS / "pec").glob("*.eml")):
            before = len(calls)
            parse_envelope(path.read_bytes(), Limits())
            yield from ((path.name, c, s) for c, s in calls[before:])
    finally:
        envelope_module.verify_detached = original


def test_real_providers_signatures(monkeypatch: pytest.MonkeyPatch) -> None:
    if not (CORPUS / "pec").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus missing: {CORPUS / 'pec'}")
        pytest.skip("shared corpus not beside the repository")
    answered = declined = 0
    for name, content, signature in _provider_signatures():
        verdict = agrees(content, signature, monkeypatch)
        assert verdict is not False, name
        full = full_reading(content, signature, monkeypatch)
        if verdict is None:
            declined += 1
            assert not full.valid, f"{name}: a valid provider signature the DER reading declined"
        else:
            answered += 1
    assert answered >= 8  # Aruba 2014 and 2018, Sogei: envelopes and receipts


@pytest.mark.parametrize(("algorithm", "micalg"), [("ec", "sha-256"), ("rsa", "sha-256"),
                                                   ("rsa", "sha-512")])
def test_generated_signatures_are_answered(algorithm: str, micalg: str,
                                           rsa_key: pec.ProviderKey,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    key = rsa_key if algorithm == "rsa" else pec.default_provider_key()
    signature = key.sign(CONTENT, micalg=micalg)
    assert agrees(CONTENT, signature, monkeypatch) is True
    assert verify_detached(CONTENT, signature).signer == key.common_name


def test_what_it_leaves_to_the_full_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    key = pec.default_provider_key()
    alice, bruno = make_signer("Alice Rossi", "RSSLCA80A41H501X"), make_signer(
        "Bruno Verdi", "VRDBRN70B02F205Y", "ec")
    left = {
        "BER": (CONTENT, key.sign(CONTENT, ber=True)),
        "tampered content": (CONTENT.replace(b"due", b"tre"), key.sign(CONTENT)),
        "two signers": (CONTENT, sign(CONTENT, [alice, bruno], detached=True)),
        "counter-signature": (CONTENT, sign(CONTENT, [alice], detached=True,
                                            countersigners=[bruno])),
        "trailing bytes": (CONTENT, key.sign(CONTENT) + b"\x00\x00"),
        "empty": (CONTENT, b""),
    }
    for name, (content, signature) in left.items():
        assert verify_valid_der(content, signature) is None, name
    # the full reading still answers them, with its reasons
    assert verify_detached(*left["BER"]).valid
    assert verify_detached(*left["two signers"]).valid
    tampered = verify_detached(*left["tampered content"])
    assert not tampered.valid and "alterato" in (tampered.reason or "")
    # RSA-PSS goes through the same signature check: answered, as the full reading answers
    assert agrees(CONTENT, sign(CONTENT, [alice], detached=True, pss=True), monkeypatch)


@pytest.mark.parametrize("algorithm", ["ec", "rsa"])
def test_mutations_never_answered_differently(algorithm: str, rsa_key: pec.ProviderKey,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Every byte of a signature changed (a bit, a random value, 0x00, 0x80, 0xff): wherever
    the DER reading still answers (the change left the signature valid: a certificate's
    unsigned parts, a version...), the full reading answers the same."""
    key = rsa_key if algorithm == "rsa" else pec.default_provider_key()
    signature = key.sign(CONTENT)
    rng = random.Random(1951)
    answered = 0
    for position in range(len(signature)):
        original = signature[position]
        for value in {original ^ (1 << rng.randrange(8)), rng.randrange(256), 0x00, 0x80, 0xFF}:
            if value == original:
                continue
            mutated = signature[:position] + bytes([value]) + signature[position + 1:]
            verdict = agrees(CONTENT, mutated, monkeypatch)
            assert verdict is not False, (position, original, value)
            answered += verdict is True
    assert answered > 0  # some changes leave it valid: the comparison did happen


# --- signatures built by hand: attributes and certificates a library would not produce -------

MD_OID = bytes.fromhex("06092a864886f70d010904")  # messageDigest
ST_OID = bytes.fromhex("06092a864886f70d010905")  # signingTime
CT_OID = bytes.fromhex("06092a864886f70d010903")  # contentType
DATA_OID = bytes.fromhex("06092a864886f70d010701")
SHA256 = bytes.fromhex("300d06096086480165030402010500")
RSA = bytes.fromhex("300d06092a864886f70d0101010500")


def tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + der_length(len(body)) + body


def padded(oid: bytes) -> bytes:
    """The same OID with a 0x80 byte before its last subidentifier (not DER; asn1crypto reads
    it as the same type)."""
    return tlv(0x06, oid[2:-1] + b"\x80" + oid[-1:])


def attribute(oid: bytes, *values: bytes) -> bytes:
    return tlv(0x30, oid + tlv(0x31, b"".join(values)))


def built(key: pec.ProviderKey, attributes: list[bytes], extra_certificates: int = 0) -> bytes:
    """A DER SignedData over CONTENT, one RSA signer, ``attributes`` in the given order."""
    certificate = key.certificate.public_bytes(serialization.Encoding.DER)
    loaded = x509.Certificate.load(certificate)
    raw = b"".join(attributes)
    signature = key.private_key.sign(b"\x31" + der_length(len(raw)) + raw,  # type: ignore[call-arg]
                                     padding.PKCS1v15(), hashes.SHA256())  # type: ignore[arg-type]
    sid = tlv(0x30, loaded.issuer.dump() + loaded["tbs_certificate"]["serial_number"].dump())
    signer = tlv(0x30, b"\x02\x01\x01" + sid + SHA256 + tlv(0xA0, raw) + RSA
                 + tlv(0x04, signature))
    body = (b"\x02\x01\x01" + tlv(0x31, SHA256) + tlv(0x30, DATA_OID)
            + tlv(0xA0, certificate * (1 + extra_certificates)) + tlv(0x31, signer))
    return tlv(0x30, bytes.fromhex("06092a864886f70d010702") + tlv(0xA0, tlv(0x30, body)))


def digest_of(content: bytes) -> bytes:
    return tlv(0x04, hashlib.sha256(content).digest())


def test_built_signature_is_answered(rsa_key: pec.ProviderKey,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    attributes = sorted([attribute(CT_OID, DATA_OID), attribute(MD_OID, digest_of(CONTENT)),
                         attribute(ST_OID, tlv(0x17, b"250101000000Z"))])
    assert agrees(CONTENT, built(rsa_key, attributes), monkeypatch) is True


@pytest.mark.parametrize("case", ["padded digest first", "padded time garbage",
                                  "padded time of another type", "many certificates"])
def test_hostile_built_signatures_agree(case: str, rsa_key: pec.ProviderKey,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Attribute types told apart by asn1crypto's name, not by their bytes (a reviewer found
    the DER reading calling valid a signature whose first messageDigest, under a padded OID,
    was wrong); a signature carrying many certificates is not kept per encoding."""
    good = [attribute(CT_OID, DATA_OID), attribute(MD_OID, digest_of(CONTENT))]
    attributes = {
        "padded digest first": [attribute(padded(MD_OID), tlv(0x04, bytes(32))), *good],
        "padded time garbage": [*good, attribute(padded(ST_OID), tlv(0x17, b"garbage"))],
        "padded time of another type": [*good, attribute(padded(ST_OID), tlv(0x04, b"x"))],
        "many certificates": good,
    }[case]
    signature = built(rsa_key, attributes,
                      extra_certificates=8 if case == "many certificates" else 0)
    assert agrees(CONTENT, signature, monkeypatch) is not False
    full = full_reading(CONTENT, signature, monkeypatch)
    if case == "many certificates":
        assert full.valid and verify_valid_der(CONTENT, signature) is None
    else:
        assert not full.valid and verify_valid_der(CONTENT, signature) is None
