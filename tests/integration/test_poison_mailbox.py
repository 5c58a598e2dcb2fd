"""The poison mailbox: each hostile message is put in front of a normal PEC submission in a
real Dovecot; one poll and one run of the acknowledgement queue (real aiosmtpd) must record
the normal one and answer it, on SQLite and PostgreSQL, whatever the hostile one holds."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.ack import SmtpTransport, send_pending
from pec_ingest.config import Config, StateSection
from pec_ingest.isolation import ParserPool
from pec_ingest.mailbox import Mailbox
from pec_ingest.pipeline import Pipeline
from pec_ingest.poller import Poller
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.mailbox import COMUNE_PEC, DOCX
from pec_ingest.samples.pec import build_envelope, build_original
from pec_ingest.samples.people import make_organisation
from pec_ingest.settings_smtp import AcknowledgementSection, SmtpSection
from store.model import Acknowledgement, Message, ReviewReason
from store.model_mailbox import SkippedMessage
from tests.dovecot import DovecotServer
from tests.smtp_server import PASSWORD, USERNAME, SmtpServer

WHEN = datetime(2026, 9, 4, 11, 30, tzinfo=timezone(timedelta(hours=2)))


def _submission(n: int, *, sender: str | None = None, subject: str = "Allegato 1",
                message_id: str | None = None, name: str = "Allegato_1.docx",
                extra: list[tuple[str, bytes, str]] | None = None,
                daticert_mittente: str | None = None) -> bytes:
    org = make_organisation(n)
    pec = sender or org.pec
    files = [(name, build_docx(org, "table"), DOCX), *(extra or [])]
    original = build_original(sender=pec, to=[COMUNE_PEC], subject=subject, date=WHEN,
                              message_id=message_id or f"<orig.{n}@esempio.it>",
                              attachments=files)
    return build_envelope(original, mittente=pec, destinatari=[COMUNE_PEC],
                          identificativo=f"opec.poison.{n}@pec.simulato.example", data=WHEN,
                          daticert_mittente=daticert_mittente)


def many_parts() -> bytes:
    """Ten thousand tiny parts: a BODYSTRUCTURE line over imaplib's 1,000,000 bytes."""
    return _submission(201, extra=[(f"p{i}.txt", b"x", "text/plain") for i in range(10000)])


def huge_subject() -> bytes:
    """A subject over 1 MB."""
    return _submission(202, subject="Allegato 1 " + "A" * 1_100_000)


def crlf_message_id() -> bytes:
    """The sender's Message-ID carries CR LF once its RFC 2047 encoding is undone."""
    return _submission(206, message_id="=?utf-8?Q?<orig.206=0D=0ABcc:_x@esempio.it>?=")


def crlf_mittente() -> bytes:
    """A daticert ``<mittente>`` with CR LF inside."""
    return _submission(207, daticert_mittente="ente207@pec.esempio.it\r\nBcc: spia@esempio.it")


def non_ascii_recipient() -> bytes:
    """A certified sender with a non-ASCII character: smtplib cannot encode it."""
    return _submission(208, sender="comunitàaperta.coop@postecert.it")


def nul_subject() -> bytes:
    """NUL in the subject and in an attachment name (PostgreSQL refuses U+0000)."""
    return _submission(209, subject="Allegato 1\x00 domanda",
                       extra=[("nota\x00.txt", b"nota", "text/plain")])


def header_over_cut() -> bytes:
    """300 KB of (unsigned, top-level) headers before the envelope's own."""
    filler = b"".join(b"Received: from relay%d.example by mx.example; x\r\n" % i
                      for i in range(7000))
    return filler + _submission(210)


POISON: dict[str, Callable[[], bytes]] = {
    "header_over_cut": header_over_cut,
    "many_parts": many_parts,
    "huge_subject": huge_subject,
    "crlf_message_id": crlf_message_id,
    "crlf_mittente": crlf_mittente,
    "non_ascii_recipient": non_ascii_recipient,
    "nul_subject": nul_subject,
}


def _config(tmp_path: Path, dovecot: DovecotServer, imap_user: str, smtp: SmtpServer) -> Config:
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD, encoding="utf-8")
    return dataclasses.replace(
        Config(), state=StateSection(dir=tmp_path / "state"),
        mailboxes=(dovecot.section(imap_user, batch_size=4),),
        smtp=SmtpSection(host="127.0.0.1", port=smtp.starttls.port, security="starttls",
                         username=USERNAME, password_file=str(secret),
                         ca_file=str(smtp.ca_file), from_address=USERNAME, timeout_seconds=5),
        acknowledgements=AcknowledgementSection(transport="smtp"))


@pytest.mark.parametrize("poison", sorted(POISON))
def test_poison_message_stops_nothing_but_itself(
        poison: str, tmp_path: Path, sessions: sessionmaker[Session], parser_pool: ParserPool,
        dovecot: DovecotServer, imap_user: str, smtp: SmtpServer) -> None:
    config = _config(tmp_path, dovecot, imap_user, smtp)
    normal_org = make_organisation(200)
    dovecot.append(imap_user, [_submission(199), POISON[poison](), _submission(200)])
    poller = Poller(config, sessions, Pipeline(config, sessions, parse=parser_pool.parse_many))

    [report] = poller.poll_all()
    assert report.ok, report.error
    send_pending(config, sessions, SmtpTransport(config.smtp))

    recipients = {rcpt for r in smtp.received for rcpt in r.rcpt_tos}
    assert {normal_org.pec, make_organisation(199).pec} <= recipients
    with sessions() as s:
        outcomes = {m.identificativo: m.outcome for m in s.scalars(select(Message))}
        assert outcomes["opec.poison.200@pec.simulato.example"] == "submission"
        acks = {a.to_address: a.status for a in s.scalars(select(Acknowledgement))}
        assert acks[normal_org.pec] == "sent"
        skipped = list(s.scalars(select(SkippedMessage)))
        handled = {m.uid for m in s.scalars(select(Message))} | {k.uid for k in skipped}
        assert handled == {1, 2, 3}  # the hostile one too: recorded, not silently lost
    assert poller.poll_all()[0].fetched == 0  # and not read again on the next poll
    _check_hostile(poison, sessions)


def _check_hostile(poison: str, sessions: sessionmaker[Session]) -> None:
    """What became of the hostile message itself."""
    with sessions() as s:
        messages = {m.uid: m for m in s.scalars(select(Message))}
        acks = {a.submission.message.uid: a for a in s.scalars(select(Acknowledgement))}
        skipped = {k.uid: k.reason for k in s.scalars(select(SkippedMessage))}
        if poison in ("many_parts", "huge_subject"):
            assert skipped == {2: "unreadable_header"}
            return
        if poison == "header_over_cut":
            assert messages[2].outcome == "ignored" and 2 not in acks
            codes = {r.code for r in s.scalars(select(ReviewReason).where(
                ReviewReason.message_id == messages[2].id))}
            assert codes == {"unreadable"}
            return
        assert messages[2].outcome == "submission"
        for value in (messages[2].subject, messages[2].riferimento_message_id,
                      messages[2].sender, acks[2].to_address):
            assert not set(value or "") & {"\r", "\n", "\x00"}
        if poison in ("crlf_mittente", "non_ascii_recipient"):
            assert acks[2].status == "failed" and "indirizzo del destinatario" in acks[2].error
            codes = {r.code for r in acks[2].submission.review_reasons}
            assert "ack_failed" in codes
        else:
            assert acks[2].status == "sent"
        if poison == "nul_subject":
            assert "\x00" not in (messages[2].subject or "")
            names = {a.filename for a in messages[2].attachments}
            assert "nota\ufffd.txt" in names


@pytest.mark.parametrize("batch_size", [4, 1])
def test_unreadable_first_look_is_skipped_with_the_reason(
        batch_size: int, tmp_path: Path, sessions: sessionmaker[Session],
        parser_pool: ParserPool, dovecot: DovecotServer, imap_user: str, smtp: SmtpServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """In one batch, or (batch_size 1) in the look at the next batch started while the one
    before is being written: refused there, it is set aside all the same and the poll goes on
    on a new connection."""
    config = _config(tmp_path, dovecot, imap_user, smtp)
    config = dataclasses.replace(config, mailboxes=(
        dataclasses.replace(config.mailboxes[0], batch_size=batch_size),))
    dovecot.append(imap_user, [_submission(203), many_parts(), _submission(204),
                               _submission(205)])
    looked_from: dict[int, str] = {}
    first_look = Mailbox.first_look

    def recorded(mailbox: Mailbox, uids: Sequence[int], *args: Any) -> Any:
        looked_from.update(dict.fromkeys(uids, threading.current_thread().name))
        return first_look(mailbox, uids, *args)

    monkeypatch.setattr(Mailbox, "first_look", recorded)
    poller = Poller(config, sessions, Pipeline(config, sessions, parse=parser_pool.parse_many))
    [report] = poller.poll_all()
    assert report.ok, report.error
    assert report.skipped == 1 and report.outcomes["submission"] == 3
    with sessions() as s:
        [skipped] = s.scalars(select(SkippedMessage))
    assert (skipped.uid, skipped.reason) == (2, "unreadable_header")
    assert "1000000" in (skipped.detail or "")
    if batch_size == 1:  # the first batch looked at in the poll's thread, the others ahead
        assert not looked_from[1].startswith("look")
        assert all(looked_from[uid].startswith("look") for uid in (2, 3, 4))
