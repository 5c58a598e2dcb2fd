"""Malformed input never raises: it gives a PecMessage with warnings, in bounded time."""

from __future__ import annotations

import base64
import random
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from parsers.envelope import PecMessage, parse_envelope
from parsers.limits import Limits
from pec_ingest.samples import pec

WHEN = datetime(2025, 3, 1, 9, 0, 0, tzinfo=timezone(timedelta(hours=1)))
SECONDS = 15.0  # a hang guard, not a benchmark: hostile headers once took 77 s


def original() -> bytes:
    return pec.build_original(
        sender="ente@pec.example.it", to=["protocollo@pec.comune.example.it"],
        subject="Domanda", date=WHEN, message_id="<m1@pec.example.it>",
        attachments=[("modulo.pdf.p7m", b"0\x82" + b"\x01" * 500, "application/pkcs7-mime")],
    )  # fmt: skip


def envelope() -> bytes:
    return pec.build_envelope(
        original(),
        mittente="ente@pec.example.it",
        destinatari=["protocollo@pec.comune.example.it"],
        identificativo="opec1.20250301090000.1.1.1@pec.simulato.example",
        data=WHEN,
    )


def timed(raw: bytes, limits: Limits | None = None) -> PecMessage:
    start = time.perf_counter()
    message = parse_envelope(raw, limits) if limits else parse_envelope(raw)
    assert time.perf_counter() - start < SECONDS
    assert isinstance(message, PecMessage)
    for text in (message.subject, message.sender, *message.warnings):
        if text is not None:
            text.encode("utf-8")  # no lone surrogates reach the caller
    return message


def replace_signature(raw: bytes, new_base64: bytes) -> bytes:
    return re.sub(
        rb'(filename="smime.p7s"\r\n\r\n)[A-Za-z0-9+/=\r\n]+?(\r\n--)',
        lambda m: m.group(1) + new_base64 + m.group(2),
        raw,
    )


def test_empty_input() -> None:
    message = timed(b"")
    assert message.kind == "not-pec"
    assert message.warnings == ("messaggio vuoto",)
    assert message.signature.present is False and message.signature.valid is None


@pytest.mark.parametrize(
    "raw",
    [b"\x00" * 4096, bytes(random.Random(7).getrandbits(8) for _ in range(20000)), b"\xff\xfe<<"],
    ids=["zeros", "random", "short-junk"],
)
def test_junk_is_not_pec_with_a_warning(raw: bytes) -> None:
    message = timed(raw)
    assert message.kind == "not-pec"
    assert message.warnings


def test_every_truncation_is_survived() -> None:
    raw = envelope()
    header_end = raw.index(b"\r\n\r\n")
    signature_start = raw.index(b'filename="smime.p7s"')
    for cut in [*range(1, len(raw), 97), len(raw) - 3]:
        message = timed(raw[:cut])
        if cut > header_end:
            assert message.kind == "posta-certificata"
            assert message.warnings
        if header_end < cut < signature_start:
            assert message.signature.valid is False


@pytest.mark.parametrize(
    ("new_signature", "reason"),
    [
        (b"MII...njA==", "firma illeggibile"),
        (b"", "firma illeggibile"),
        (b"AAAA" * 50, "firma illeggibile"),
        (b"MIAGCSqGSIb3DQEHAqCAMIACAQEx", "firma illeggibile"),
    ],
    ids=["placeholder", "empty", "zeros", "truncated-ber"],
)
def test_garbage_signatures_are_present_but_invalid(new_signature: bytes, reason: str) -> None:
    raw = replace_signature(envelope(), new_signature)
    message = timed(raw)
    assert message.kind == "posta-certificata"
    assert message.signature.present is True
    assert message.signature.valid is False
    assert message.signature.reason is not None and reason in message.signature.reason


def test_signature_from_another_message_does_not_verify() -> None:
    other = pec.build_receipt(
        "accettazione", msgid="<x@y>", mittente="a@b.it", destinatari=["c@d.it"],
        identificativo="opec9@p", data=WHEN,
    )  # fmt: skip
    stolen = re.search(rb'filename="smime.p7s"\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--', other)
    assert stolen is not None
    message = timed(replace_signature(envelope(), stolen.group(1)))
    assert message.signature.valid is False


def test_signature_part_missing() -> None:
    raw = envelope()
    cut = raw.index(b"\r\n------", raw.index(b"postacert.eml"))
    message = timed(raw[:cut] + b"\r\n")
    assert message.signature.present is True and message.signature.valid is False
    assert message.signature.reason == "parte di firma (smime.p7s) assente"


def test_missing_daticert_is_reported() -> None:
    raw = envelope().replace(b'filename="daticert.xml"', b'filename="note.xml"')
    message = timed(raw)
    assert message.kind == "posta-certificata"
    assert message.daticert is None
    assert "daticert.xml assente" in message.warnings
    assert message.signature.valid is False  # the signed bytes changed too


def test_unknown_header_values_are_warned_about() -> None:
    raw = envelope().replace(b"X-Trasporto: posta-certificata", b"X-Trasporto: boh")
    message = timed(raw)
    assert any("X-Trasporto sconosciuto" in w for w in message.warnings)


@pytest.mark.parametrize(
    "headers",
    [
        b"Subject: =?x-unknown-charset?Q?caf=E8?=\r\n",
        b"Subject: \xff\xfe caf\xe8 \xc3\xa8\r\n",
        b"Subject: =?utf-8?B?!!!?=\r\nFrom: \"Per conto di: <\r\n",
        b"Reply-To: =?utf-8?q?=?= <@>\r\nFrom: <<<\r\nMessage-ID: <<>>\r\n",
        b"Content-Type: multipart/mixed; boundary=\r\n",
        b"Content-Type: text/plain; charset=\"x-bogus\"\r\nContent-Transfer-Encoding: x-uue\r\n",
        b"X-Ricevuta: \xe8\xe8\r\nX-Trasporto: =?utf-8?q?posta?=\r\n",
        b"Subject: " + b"A" * 1_000_000 + b"\r\n",
    ],
    ids=["unknown-charset", "8bit", "bad-b64-word", "bad-addresses", "no-boundary", "bogus-cte",
         "8bit-pec-headers", "huge-line"],
)
def test_undecodable_headers(headers: bytes) -> None:
    raw = headers + b"Date: Sat, 1 Mar 2025 09:00:00 +0100\r\n\r\nbody \xe8\r\n"
    message = timed(raw)
    assert message.kind in ("not-pec", "posta-certificata")


def test_wrong_charset_in_daticert_is_read_leniently() -> None:
    xml = pec.build_daticert(
        "posta-certificata", mittente="ente@pec.example.it", destinatari=["p@pec.it"],
        oggetto="Perché", gestore="G", data=WHEN, identificativo="opec1@p",
    ).replace("Perché".encode(), "Perché".encode("latin-1"))  # fmt: skip
    raw = envelope()
    encoded = base64.encodebytes(xml).replace(b"\n", b"\r\n").rstrip()
    raw = re.sub(
        rb'(filename="daticert.xml"\r\nContent-Transfer-Encoding: base64\r\n\r\n)'
        rb"[A-Za-z0-9+/=\r\n]+?(\r\n--)",
        lambda m: m.group(1) + encoded + m.group(2),
        raw,
    )
    message = timed(raw)
    assert message.daticert is not None
    assert message.daticert.identificativo == "opec1@p"
    assert any("letto in modo tollerante" in w for w in message.warnings)


def nested_multipart(depth: int) -> bytes:
    body = b"Content-Type: text/plain\r\n\r\nfondo\r\n"
    for level in range(depth):
        boundary = f"b{level}".encode()
        body = (b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--'
                + boundary + b"\r\n" + body + b"\r\n--" + boundary + b"--\r\n")  # fmt: skip
    return b"From: a@b.it\r\nSubject: deep\r\n" + body


def nested_messages(depth: int) -> bytes:
    raw = b"From: a@b.it\r\nContent-Type: application/pdf; name=x.pdf\r\n\r\n%PDF"
    for _ in range(depth):
        raw = b"From: a@b.it\r\nContent-Type: message/rfc822\r\n\r\n" + raw
    return raw


def many_parts(count: int) -> bytes:
    part = b"--b\r\nContent-Type: application/octet-stream; name=f.bin\r\n\r\nx\r\n"
    return (b'From: a@b.it\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' + part * count
            + b"--b--\r\n")  # fmt: skip


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: nested_multipart(3000), "troppo annidata"),
        (lambda: nested_messages(3000), "troppo annidata"),
        (lambda: many_parts(20000), "troppe parti MIME"),
    ],
    ids=["multipart-depth", "message-depth", "part-count"],
)
def test_mime_limits_are_respected(build: Callable[[], bytes], expected: str) -> None:
    message = timed(build())
    assert any(expected in w for w in message.warnings)
    assert len(message.attachments) <= Limits().max_mime_parts


def hostile_header_parts(count: int) -> bytes:
    hostile = b"a=b; " * 800  # costly for the header parser
    part = (b"--b\r\nContent-Type: application/octet-stream; " + hostile
            + b"\r\nContent-Disposition: attachment; " + hostile + b"\r\n\r\nx\r\n")  # fmt: skip
    return (b'From: a@b.it\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
            + part * count + b"--b--\r\n")  # fmt: skip


def test_costly_mime_headers_are_budgeted() -> None:
    message = timed(hostile_header_parts(600))
    assert "intestazioni MIME eccessive: le parti restanti non sono lette" in message.warnings
    assert 0 < len(message.attachments) < 100


@pytest.mark.parametrize("name", ["From", "Reply-To", "Content-Type"])
def test_deeply_nested_header_comments(name: str) -> None:
    raw = (name.encode() + b": " + b"(" * 50000 + b"\r\nX-Trasporto: posta-certificata\r\n"
           b"Subject: x\r\n\r\nbody")  # fmt: skip
    message = timed(raw)
    assert message.kind == "posta-certificata"
    assert "intestazioni troppo lunghe o malformate: accorciate" in message.warnings


def test_custom_limits_apply() -> None:
    limits = Limits(max_mime_depth=2, max_mime_parts=3)
    message = timed(many_parts(10), limits)
    assert len(message.attachments) == 2  # the root counts as one part
    assert any("troppe parti MIME (oltre 3)" in w for w in message.warnings)


def test_oversized_message_is_classified_from_headers_only() -> None:
    raw = envelope()
    message = timed(raw, Limits(max_input_bytes=len(raw) - 1))
    assert message.kind == "posta-certificata"
    assert message.sender == "ente@pec.example.it"
    assert message.attachments == ()
    assert message.signature.valid is False
    assert "oltre il limite" in message.warnings[0]


def test_nested_forwards_are_bounded() -> None:
    raw = envelope()
    for _ in range(6):
        raw = pec.build_forward(raw, sender="l@x.it", to="p@y.it", subject="fwd", date=WHEN)
    message = timed(raw)
    assert message.kind in ("not-pec", "posta-certificata")


def test_random_mutations_never_raise() -> None:
    rng = random.Random(2025)
    raw = envelope()
    for _ in range(150):
        mutated = bytearray(raw)
        for _ in range(rng.randint(1, 20)):
            operation = rng.random()
            position = rng.randrange(len(mutated))
            if operation < 0.4:
                mutated[position] = rng.randrange(256)
            elif operation < 0.7:
                del mutated[position : position + rng.randint(1, 200)]
            else:
                mutated[position:position] = rng.choice([b"\r\n", b"--", b"\r\n\r\n", b"\x00"])
        timed(bytes(mutated))
