"""parsers.cades_ber: the shortcut for input that is already definite-length DER must answer
exactly what the full rewrite answers (same Definite, or the same exception and message).

Inputs: real signatures (corpus .p7m, PEC smime.p7s, signatures inside signed PDFs of
realdocs), CMS made here and by the openssl CLI in DER and BER, random ASN.1 trees mixing
minimal, non-minimal and indefinite lengths, chunked OCTET STRINGs and high tag numbers, and
every one of them truncated, flipped, extended and nested under different depth limits.
"""

from __future__ import annotations

import base64
import email
import email.policy
import random
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from parsers.cades_ber import Definite, _definite_der_end, rewrite, to_definite
from parsers.errors import LimitExceeded, SignedDataError
from pec_ingest.samples.p7m import SignerKey, make_signer, sign

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
_PDF_SIGNATURE = re.compile(rb"/Contents\s*<([0-9A-Fa-f\s]{200,})>")
_DEPTHS = (0, 1, 2, 3, 5, 64)
_PRIMITIVE_TAGS = [bytes([tag]) for tag in (0x02, 0x04, 0x05, 0x06, 0x0C, 0x80, 0x81, 0x00)]
_PRIMITIVE_TAGS.append(b"\x9f\x21")  # high tag number
_INSERTS = (b"\x80", b"\x00\x00", b"\x24\x80", b"\x81", b"\xff")
Outcome = tuple[str, object, object]


def _outcome(fn: object, data: bytes, depth: int) -> Outcome:
    assert callable(fn)
    try:
        result: Definite = fn(data, depth)
    except (SignedDataError, LimitExceeded) as exc:
        return ("raised", type(exc), str(exc))
    return ("returned", result, type(result.data))


def _assert_same(data: bytes, depth: int) -> bool:
    """Same answer from both; True when the shortcut answered by itself."""
    expected = _outcome(rewrite, data, depth)
    assert _outcome(to_definite, data, depth) == expected, (data[:32].hex(), depth)
    shortcut = _definite_der_end(data, depth) is not None
    if shortcut:
        assert expected[0] == "returned"
    return shortcut


# --- inputs ----------------------------------------------------------------------------------


def _corpus_signatures() -> Iterator[bytes]:
    for path in sorted((CORPUS / "p7m").glob("*.p7m")) if (CORPUS / "p7m").is_dir() else []:
        data = path.read_bytes()
        if data[:1] != b"\x30":
            try:
                data = base64.b64decode(b"".join(data.split()))
            except ValueError:
                continue
        yield data
    for path in sorted((CORPUS / "forms").glob("*.p7m")) if (CORPUS / "forms").is_dir() else []:
        yield path.read_bytes()
    for path in sorted((CORPUS / "pec").glob("*.eml")) if (CORPUS / "pec").is_dir() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
        for part in message.walk():
            if "pkcs7" in part.get_content_type():
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes) and payload:
                    yield payload
    realdocs = CORPUS / "realdocs"
    for path in sorted(realdocs.rglob("*.pdf")) if realdocs.is_dir() else []:
        for match in _PDF_SIGNATURE.finditer(path.read_bytes()):
            yield bytes.fromhex(match.group(1).decode("ascii"))  # zero padding: trailing bytes


def _openssl_signatures(signer: SignerKey) -> Iterator[bytes]:
    if shutil.which("openssl") is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        key = signer.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )  # fmt: skip
        (d / "key.pem").write_bytes(key)
        (d / "cert.pem").write_bytes(signer.certificate.public_bytes(serialization.Encoding.PEM))
        (d / "in.bin").write_bytes(b"contenuto\r\n" * 500)
        for extra in ([], ["-stream"], ["-nodetach"], ["-nodetach", "-stream"]):
            command = ["openssl", "cms", "-sign", "-binary", "-outform", "DER", *extra,
                       "-signer", str(d / "cert.pem"), "-inkey", str(d / "key.pem"),
                       "-in", str(d / "in.bin"), "-out", str(d / "out.p7m")]  # fmt: skip
            subprocess.run(command, check=True, capture_output=True)
            yield (d / "out.p7m").read_bytes()


def _made_here(signer: SignerKey) -> Iterator[bytes]:
    content = b"%PDF-1.7\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 120
    yield sign(content, [signer])
    yield sign(content, [signer], detached=True)
    for nesting in (1, 2, 4):
        yield sign(content, [signer], encoding="ber", ber_nesting=nesting)


def _length(n: int, rng: random.Random) -> bytes:
    """A definite length for ``n``: usually minimal, sometimes padded (valid BER, not DER)."""
    roll = rng.random()
    if roll < 0.1:
        return bytes([0x81, n]) if n < 0x100 else b"\x83" + n.to_bytes(3, "big")
    if roll < 0.15:
        return b"\x82" + n.to_bytes(2, "big") if n < 0x10000 else b"\x84" + n.to_bytes(4, "big")
    return _minimal(n)


def _minimal(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tree(rng: random.Random, depth: int, *, der: bool, inside_chunks: bool = False) -> bytes:
    """One random element; ``der``: minimal definite lengths only, no chunked OCTET STRING."""
    if depth <= 0 or rng.random() < 0.4:
        tags = [b"\x04"] if inside_chunks else _PRIMITIVE_TAGS
        if inside_chunks and not der and rng.random() < 0.05:
            tags = [b"\x02"]  # a wrong chunk
        body = rng.randbytes(rng.choice((0, 1, 2, 5, 127, 128, 200, 300)))
    else:
        tags = [b"\x30", b"\x31", b"\xa0", b"\xa3", b"\x3f\x22"]
        if not der and (inside_chunks or rng.random() < 0.3):
            tags = [b"\x24"]
        chunks = tags == [b"\x24"]
        count = rng.randrange(0, 5)
        body = b"".join(_tree(rng, depth - 1, der=der, inside_chunks=chunks) for _ in range(count))
        if not der and rng.random() < 0.3:
            return rng.choice(tags) + b"\x80" + body + b"\x00\x00"
    tag = rng.choice(tags)
    if der:
        if tag[:1] == b"\x9f" or tag[:1] == b"\x3f":
            tag = b"\x81" if tag[:1] == b"\x9f" else b"\x30"
        return tag + _minimal(len(body)) + body
    return tag + _length(len(body), rng) + body


def _mutations(data: bytes, rng: random.Random, count: int) -> Iterator[bytes]:
    yield data
    yield data + b"\x00" * rng.randrange(1, 9)
    yield data + rng.randbytes(rng.randrange(1, 40))
    yield b""
    yield data[:1]
    yield data[:2]
    for _ in range(count):
        cut = rng.randrange(0, len(data) + 1)
        yield data[:cut]
        flipped = bytearray(data)
        if flipped:
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        yield bytes(flipped)
        at = rng.randrange(0, len(data) + 1)
        yield data[:at] + rng.choice(_INSERTS) + data[at:]


@pytest.fixture(scope="module")
def signer() -> SignerKey:
    return make_signer("Alice Rossi", "RSSLCA80A41H501X")


# --- tests -----------------------------------------------------------------------------------


def test_real_and_generated_signatures_answer_as_the_full_rewrite(signer: SignerKey) -> None:
    rng = random.Random(20261202)
    samples = [*_corpus_signatures(), *_openssl_signatures(signer), *_made_here(signer)]
    shortcuts = total = 0
    for sample in samples:
        for depth in _DEPTHS:
            shortcuts += _assert_same(sample, depth)
            total += 1
        for mutated in _mutations(sample, rng, 12):
            shortcuts += _assert_same(mutated, 64)
            total += 1
    assert shortcuts > 10 and total - shortcuts > 10, (shortcuts, total)


def test_der_signatures_take_the_shortcut_and_come_back_unchanged(signer: SignerKey) -> None:
    when = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # one signing time: the same signature
    der = sign(b"documento", [signer], signing_time=when)
    assert _definite_der_end(der, 64) == len(der)
    assert to_definite(der, 64) == Definite(der, False, 0)
    assert to_definite(der + b"\x00\x00\x00", 64) == Definite(der, False, 3)
    ber = sign(b"documento", [signer], encoding="ber", signing_time=when)
    assert _definite_der_end(ber, 64) is None
    assert to_definite(ber, 64) == rewrite(ber, 64) and to_definite(ber, 64).data == der


def test_random_asn1_trees_answer_as_the_full_rewrite() -> None:
    rng = random.Random(7)
    shortcuts = total = 0
    for i in range(1500):
        tree = _tree(rng, rng.randrange(1, 7), der=i % 2 == 0)
        for depth in (rng.choice(_DEPTHS), 64):
            shortcuts += _assert_same(tree, depth)
            total += 1
        for mutated in _mutations(tree, rng, 2):
            shortcuts += _assert_same(mutated, 64)
            total += 1
    assert shortcuts > 500 and total - shortcuts > 500, (shortcuts, total)


@pytest.mark.parametrize(
    "data",
    [
        b"\x04\x81\x05hello",  # non-minimal long form
        b"\x04\x82\x00\x80" + b"x" * 128,  # leading zero length octet
        b"\x30\x81\x03\x02\x01\x01",  # non-minimal constructed
        b"\x30\x03\x02\x81\x01\x01",  # non-minimal inside
        b"\x30\x80\x02\x01\x01\x00\x00",  # indefinite
        b"\x24\x06\x04\x01a\x04\x01b",  # chunked OCTET STRING
        b"\x30\x04\x24\x02\x04\x00",  # chunked inside
        b"\x9f\x21\x01\x00",  # high tag number
        b"\x30\x05\x02\x01\x01",  # truncated
        b"\x30\x02\x02\x01\x01",  # child runs past its parent
        b"\x04\x89" + b"\x01" * 9,  # absurd length of length
        b"\x05\x80",  # indefinite primitive
        b"\x00\x00",  # end-of-contents alone
        b"\x30\x02\x00\x00",  # end-of-contents inside a definite element
        b"\x30\x00",
        b"\x02\x01\x01trailing",
    ],
)
def test_edge_cases_answer_as_the_full_rewrite(data: bytes) -> None:
    for depth in _DEPTHS:
        _assert_same(data, depth)


def test_input_other_than_bytes_goes_through_the_full_rewrite() -> None:
    data = bytearray(b"\x30\x03\x02\x01\x01")
    assert _definite_der_end(data, 64) is None  # type: ignore[arg-type]
    assert to_definite(data, 64) == rewrite(data, 64)  # type: ignore[arg-type]
