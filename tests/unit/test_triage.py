"""The first look decides which receipts are ours: only those are downloaded."""

from __future__ import annotations

import dataclasses
import email.policy
from email.parser import BytesHeaderParser

import pytest
from imapclient.response_parser import parse_fetch_response

from pec_ingest import triage
from pec_ingest.mailbox import FirstLook
from pec_ingest.settings_imap import MailboxSection
from pec_ingest.triage import judge, needs_structure

BOX = MailboxSection(name="p", host="127.0.0.1", username="u")


def receipt(reference: str | None) -> FirstLook:
    head = "X-Ricevuta: accettazione\r\nSubject: ACCETTAZIONE: x\r\n"
    if reference is not None:
        head += f"X-Riferimento-Message-ID: {reference}\r\n"
    return FirstLook(uid=7, size=4000, header=(head + "\r\n").encode(), structure=None)


def test_receipt_of_our_acknowledgement_is_downloaded() -> None:
    verdict = judge(receipt("<ack.PDZ2019-0001.0a1b2c3d4e5f6a7b@pec.comune.example>"), BOX)
    assert verdict.download and verdict.kind == "receipt"


def test_receipt_of_the_protocol_office_mail_is_skipped_with_the_reason() -> None:
    verdict = judge(receipt("<protocollo.2019.123@pec.comune.example>"), BOX)
    assert not verdict.download
    assert verdict.reason == "other_receipt" and "protocollo.2019.123" in verdict.detail


def test_receipt_without_reference_is_downloaded_to_be_safe() -> None:
    assert judge(receipt(None), BOX).download


# An envelope whose original (postacert.eml) has only a text body: no attachment.
NO_ATTACHMENT = parse_fetch_response([
    b'1 (UID 7 BODYSTRUCTURE (("text" "plain" NIL NIL NIL "7bit" 2 1 NIL NIL NIL NIL)'
    b'("message" "rfc822" ("name" "postacert.eml") NIL NIL "7bit" 300 (NIL "x" NIL NIL NIL '
    b'NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 2 1 NIL NIL NIL '
    b'NIL) 10 NIL ("inline" NIL) NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL))'])[7][
        b"BODYSTRUCTURE"]
PLAIN = parse_fetch_response([b'1 (UID 7 BODYSTRUCTURE ("text" "plain" NIL NIL NIL "7bit" 2 1 '
                              b'NIL NIL NIL NIL))'])[7][b"BODYSTRUCTURE"]


@pytest.mark.parametrize("head", [
    "X-Trasporto: posta-certificata", "X-Trasporto: ERRORE", "X-Trasporto: avvenuta-consegna",
    "X-Ricevuta: accettazione\r\nX-Riferimento-Message-ID: <x@y>",
    "X-Ricevuta: accettazione\r\nX-Trasporto: posta-certificata", "Subject: ciao",
    "X-Trasporto: =?utf-8?q?posta-certificata?="])
@pytest.mark.parametrize("size", [4000, 2 * 1024 * 1024])
@pytest.mark.parametrize("skip_non_pec", [True, False])
def test_structure_is_needed_only_where_the_verdict_depends_on_it(
        head: str, size: int, skip_non_pec: bool) -> None:
    box = dataclasses.replace(BOX, max_message_mb=1, skip_non_pec=skip_non_pec)
    look = FirstLook(uid=7, size=size, header=f"{head}\r\n\r\n".encode(),
                     structure=PLAIN if head.startswith("Subject") else NO_ATTACHMENT)
    without = dataclasses.replace(look, structure=None)
    if not needs_structure(without, box):
        assert judge(without, box) == judge(look, box)
    else:
        assert judge(without, box) != judge(look, box)  # the structure did count here


HEADER_BLOCKS = [
    b"",
    b"\r\n",
    b"Subject: a\r\n  folded\tline\r\nFrom: \"Ente\" <ente@pec.example>\r\n\r\n",
    b"From nobody\r\nSubject: after a Unix From line\r\n\r\n",  # the stdlib's parser decides
    b" continuation first\r\nSubject: y\r\n\r\n",
    b"Subject: =?utf-8?q?Adesione_citt=C3=A0?=\r\nX-Ricevuta: accettazione\r\n"
    b"X-Riferimento-Message-ID: <ack.1@c.example>\r\n\r\n",
    b"subject:no space\nx-trasporto: posta-certificata\n\n",
    b"Subject: a\rb\r\nMessage-ID: <m@x>\r\n\r\n",  # a lone CR
    b"Subject: \xe0 8 bit \xe8\r\nFrom: a@b.example\r\n\r\n",
    b"Subject: first\r\nSubject: second\r\n\r\n",
]


@pytest.mark.parametrize("block", HEADER_BLOCKS)
def test_header_values_as_the_stdlib_parser_reads_them(block: bytes) -> None:
    """The first look reads its header fields with parsers.mime.split_message; each value the
    verdict uses is what BytesHeaderParser(policy=compat32) gives."""
    reference = BytesHeaderParser(policy=email.policy.compat32).parsebytes(block)
    ours = triage._headers(block)
    for name in ("Message-ID", "Subject", "From", "X-Trasporto", "X-Ricevuta",
                 "X-Riferimento-Message-ID"):
        assert triage._value(ours, name) == triage._value(reference, name), name
