"""A real PEC envelope (../shared/corpus/pec) inside another message is unwrapped: forwarded by
a person (as message/rfc822, or as an .eml file the way Outlook attaches it), re-wrapped by a
list server (the whole envelope as the body, or with a footer part). Kind, daticert, provider
signature, original and attachments are the inner envelope's, with a warning that it came
wrapped."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest

from parsers.envelope import PecMessage, parse_envelope

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "pec"
ENVELOPE = CORPUS / "oca_POSTA_CERTIFICATA_Invio_File_7339338.eml"

pytestmark = pytest.mark.skipif(not ENVELOPE.is_file(), reason=f"corpus not present at {CORPUS}")

HEAD = (b"From: Ufficio Protocollo <protocollo@comune.example.it>\r\n"
        b"To: sociale@comune.example.it\r\nDate: Mon, 10 Dec 2018 09:00:00 +0100\r\n"
        b"Message-ID: <wrap-%s@comune.example.it>\r\nMIME-Version: 1.0\r\n")


def forwarded_as_message(inner: bytes) -> bytes:
    return (HEAD % b"1" + b"Subject: I: POSTA CERTIFICATA: Invio File 7339338\r\n"
            b'Content-Type: multipart/mixed; boundary="fw1"\r\n\r\n'
            b"--fw1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVedi messaggio inoltrato.\r\n"
            b'--fw1\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; '
            b'filename="Invio File 7339338.eml"\r\n\r\n' + inner + b"\r\n--fw1--\r\n")


def forwarded_as_eml_file(inner: bytes) -> bytes:
    encoded = base64.encodebytes(inner).replace(b"\n", b"\r\n")
    return (HEAD % b"2" + b"Subject: FW: POSTA CERTIFICATA: Invio File 7339338\r\n"
            b'Content-Type: multipart/mixed; boundary="fw2"\r\n\r\n'
            b"--fw2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIn allegato.\r\n"
            b'--fw2\r\nContent-Type: application/octet-stream; name="POSTA CERTIFICATA.eml"\r\n'
            b"Content-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="POSTA CERTIFICATA.eml"\r\n\r\n'
            + encoded + b"--fw2--\r\n")


def list_wrapped_whole(inner: bytes) -> bytes:
    return (HEAD % b"3" + b"Subject: [sociale] POSTA CERTIFICATA: Invio File 7339338\r\n"
            b"List-Id: <sociale.comune.example.it>\r\nContent-Type: message/rfc822\r\n\r\n"
            + inner)


def list_wrapped_with_footer(inner: bytes) -> bytes:
    return (HEAD % b"4" + b"Subject: [sociale] POSTA CERTIFICATA: Invio File 7339338\r\n"
            b'List-Id: <sociale.comune.example.it>\r\nContent-Type: multipart/mixed; '
            b'boundary="ls4"\r\n\r\n--ls4\r\nContent-Type: message/rfc822\r\n'
            b"Content-Disposition: inline\r\n\r\n" + inner +
            b"\r\n--ls4\r\nContent-Type: text/plain\r\n\r\nLista sociale: per cancellarsi...\r\n"
            b"--ls4--\r\n")


@pytest.mark.parametrize("wrap", [forwarded_as_message, forwarded_as_eml_file,
                                  list_wrapped_whole, list_wrapped_with_footer])
def test_a_wrapped_real_envelope_is_read_as_the_inner_envelope(
        wrap: Callable[[bytes], bytes]) -> None:
    inner = ENVELOPE.read_bytes()
    direct = parse_envelope(inner)
    assert direct.kind == "posta-certificata" and direct.signature.valid is True
    wrapped: PecMessage = parse_envelope(wrap(inner))
    assert wrapped.kind == direct.kind
    assert wrapped.daticert == direct.daticert and wrapped.sender == direct.sender
    assert wrapped.signature.valid is True
    assert wrapped.original == direct.original and wrapped.original is not None
    assert [a.sha256 for a in wrapped.attachments] == [a.sha256 for a in direct.attachments]
    assert wrapped.warnings[0].startswith("busta PEC contenuta in un altro messaggio")


def test_an_attached_mail_that_is_not_a_pec_leaves_the_message_ordinary() -> None:
    plain = (b"From: a@example.it\r\nTo: b@example.it\r\nSubject: ciao\r\n"
             b"Message-ID: <p@example.it>\r\n\r\nsolo testo\r\n")
    message = parse_envelope(forwarded_as_eml_file(plain))
    assert message.kind == "not-pec" and message.daticert is None
    assert [a.filename for a in message.attachments] == ["POSTA CERTIFICATA.eml"]
