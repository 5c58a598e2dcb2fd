"""The first look decides which receipts are ours: only those are downloaded."""

from __future__ import annotations

from pec_ingest.mailbox import FirstLook
from pec_ingest.settings_imap import MailboxSection
from pec_ingest.triage import judge

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
