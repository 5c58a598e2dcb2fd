"""Hostile header values through the pipeline, straight from a file (``ingest``: no IMAP server
to alter the bytes): the same row on SQLite and PostgreSQL, nothing a reply header could not
carry."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import flag_modified

from parsers.mime import MAX_HEAD_BYTES
from pec_ingest.ack import SmtpTransport, outbox, send_pending
from pec_ingest.config import Config
from pec_ingest.pipeline import Pipeline, Source
from pec_ingest.settings_smtp import AcknowledgementSection, SmtpSection
from store.cleaning import header_text, without_nul
from store.model import Acknowledgement, Message, ReviewReason, Submission
from tests.integration.test_poison_mailbox import crlf_message_id, crlf_mittente, nul_subject
from tests.smtp_server import PASSWORD, USERNAME, SmtpServer


def test_nul_in_subject_and_file_name_is_stored_alike_on_both_databases(
        pipeline: Pipeline, sessions: sessionmaker[Session]) -> None:
    outcome = pipeline.ingest(nul_subject(), Source("file", path="nul.eml"))
    assert outcome.outcome == "submission", outcome.reason
    with sessions() as s:
        [message] = s.scalars(select(Message))
        assert message.subject == "POSTA CERTIFICATA: Allegato 1  domanda"  # a header value
        assert "nota\ufffd.txt" in {a.filename for a in message.attachments}
        assert message.failure_count == 0


def test_nul_set_on_a_stored_row_is_replaced_on_both_databases(
        pipeline: Pipeline, sessions: sessionmaker[Session]) -> None:
    """A row already stored, then changed with text holding NUL (a failure reason from an
    exception, a value typed by staff, JSON reassigned or flagged as modified): the guard
    before the flush replaces it, on PostgreSQL too (which would refuse the row)."""
    outcome = pipeline.ingest(nul_subject(), Source("file", path="nul.eml"))
    assert outcome.outcome == "submission", outcome.reason
    with sessions() as s:
        [message] = s.scalars(select(Message))
        [submission] = s.scalars(select(Submission))
        message.reason = "errore\x00interno"
        submission.denominazione = "Coop\x00 Sociale"
        submission.parsed["note"] = ["a\x00b"]
        flag_modified(submission, "parsed")
        s.commit()
    with sessions() as s:
        [message] = s.scalars(select(Message))
        [submission] = s.scalars(select(Submission))
        assert message.reason == "errore\ufffdinterno"
        assert submission.denominazione == "Coop\ufffd Sociale"
        assert submission.parsed["note"] == ["a\ufffdb"]


def test_header_values_with_line_breaks_are_stored_on_one_line(
        pipeline: Pipeline, sessions: sessionmaker[Session]) -> None:
    for n, raw in enumerate((crlf_message_id(), crlf_mittente())):
        assert pipeline.ingest(raw, Source("file", path=f"{n}.eml")).outcome == "submission"
    with sessions() as s:
        rows = [(m.riferimento_message_id, m.sender, m.subject)
                for m in s.scalars(select(Message))]
        rows += [(a.to_address, None, None) for a in s.scalars(select(Acknowledgement))]
    assert rows and all(not set(v or "") & {"\r", "\n", "\x00"} for row in rows for v in row)
    assert ("<orig.206 Bcc: x@esempio.it>", "ilgirasole@pec.it",
            "POSTA CERTIFICATA: Allegato 1") in rows


def test_a_signed_pec_with_headers_beyond_the_cut_goes_to_review(
        pipeline: Pipeline, sessions: sessionmaker[Session]) -> None:
    """Top-level headers are outside the provider's signature: anyone on the path may add
    them. 300 KB of them push X-Trasporto and Content-Type beyond the parser's cut."""
    raw = nul_subject().replace(b"\x00", b"")
    filler = b"".join(b"Received: from relay%d.example by mx.example; x\r\n" % i
                      for i in range(7000))
    assert len(filler) > MAX_HEAD_BYTES
    outcome = pipeline.ingest(filler + raw, Source("file", path="big.eml"))
    assert outcome.outcome == "ignored"
    with sessions() as s:
        [message] = s.scalars(select(Message))
        [reason] = s.scalars(select(ReviewReason).where(ReviewReason.message_id == message.id))
    assert reason.code == "unreadable" and "256 KB" in (reason.detail or "")


def test_cleaning_functions() -> None:
    assert header_text("a\r\n\tb\x00c") == "a \tb c"
    assert header_text(None) is None
    assert without_nul({"k\x00": ["v\x00", 1]}) == {"k\ufffd": ["v\ufffd", 1]}


def test_an_unexpected_error_fails_one_acknowledgement_not_the_queue(
        pipeline: Pipeline, sessions: sessionmaker[Session], smtp: SmtpServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for n, raw in enumerate((crlf_message_id(), nul_subject())):
        assert pipeline.ingest(raw, Source("file", path=f"{n}.eml")).outcome == "submission"
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD, encoding="utf-8")
    config = dataclasses.replace(
        pipeline.config,
        smtp=SmtpSection(host="127.0.0.1", port=smtp.starttls.port, security="starttls",
                         username=USERNAME, password_file=str(secret),
                         ca_file=str(smtp.ca_file), from_address=USERNAME, timeout_seconds=5),
        acknowledgements=AcknowledgementSection(transport="smtp"))
    with sessions() as s:
        first, second = sorted(a.id for a in s.scalars(select(Acknowledgement)))
    real_build = outbox.build

    def broken(config: Config, ack: Acknowledgement, now: datetime) -> EmailMessage:
        if ack.id == first:
            raise RuntimeError("guasto di prova")
        return real_build(config, ack, now)

    monkeypatch.setattr(outbox, "build", broken)
    report = send_pending(config, sessions, SmtpTransport(config.smtp))
    assert (report.sent, report.failed) == (1, 1)
    with sessions() as s:
        acks = {a.id: a for a in s.scalars(select(Acknowledgement))}
        assert acks[first].status == "failed" and "guasto di prova" in (acks[first].error or "")
        assert "ack_failed" in {r.code for r in acks[first].submission.review_reasons}
        assert acks[second].status == "sent"
