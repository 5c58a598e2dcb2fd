"""The acknowledgement outbox end to end: the pipeline queues, send_pending sends over a real
SMTP server with TLS, a simulated PEC provider answers with receipts that the pipeline
reconciles. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.ack import SendReport, SmtpTransport, send_pending
from pec_ingest.config import Config, StateSection
from pec_ingest.pipeline import Pipeline, Source
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.mailbox import COMUNE_PEC, DOCX, SampleMessage
from pec_ingest.samples.pec import build_envelope, build_original, build_receipt
from pec_ingest.samples.people import make_organisation
from pec_ingest.settings_smtp import AcknowledgementSection, SmtpSection
from store.model import Acknowledgement, Receipt, ReviewReason
from tests.smtp_server import (
    DROP,
    PASSWORD,
    TOO_MUCH_TRAFFIC,
    USERNAME,
    SmtpServer,
    provider_receipts,
)

ROME = timezone(timedelta(hours=2))
T0 = datetime(2019, 9, 3, 9, 0, tzinfo=ROME)
NOW = datetime(2019, 9, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path, smtp: SmtpServer) -> Config:
    """The conftest configuration with the test SMTP server (implicit TLS, verified)."""
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD, encoding="utf-8")
    return dataclasses.replace(
        Config(), state=StateSection(dir=tmp_path / "state"),
        smtp=SmtpSection(host="127.0.0.1", port=smtp.tls.port, security="tls",
                         username=USERNAME, password_file=str(secret), ca_file=str(smtp.ca_file),
                         from_address=USERNAME, timeout_seconds=5),
        acknowledgements=AcknowledgementSection(transport="smtp", rate_per_minute=5,
                                                retry_initial_seconds=60, max_attempts=3,
                                                sending_grace_minutes=120))


def pec_with_form(seed: int, when: datetime = T0, *, sender: str | None = None,
                  layout: str = "table") -> tuple[bytes, str]:
    """A certified submission and its certified sender."""
    org = make_organisation(seed)
    mittente = sender or org.pec
    original = build_original(sender=mittente, to=[COMUNE_PEC], subject="Allegato 1 Piano di Zona",
                              date=when, message_id=f"<orig.{seed}.{when:%d%H%M}@esempio.it>",
                              attachments=[("Allegato_1.docx", build_docx(org, layout), DOCX)])
    raw = build_envelope(original, mittente=mittente, destinatari=[COMUNE_PEC],
                         identificativo=f"opec.{seed}.{when:%d%H%M}@pec.simulato.example",
                         data=when)
    return raw, mittente


def acks(sessions: sessionmaker[Session]) -> list[Acknowledgement]:
    with sessions() as s:
        return list(s.scalars(select(Acknowledgement).order_by(Acknowledgement.id)))


def send(config: Config, sessions: sessionmaker[Session], now: datetime = NOW) -> SendReport:
    return send_pending(config, sessions, SmtpTransport(config.smtp), now=now)


def ingest(pipeline: Pipeline, raw: bytes) -> None:
    assert pipeline.ingest(raw, Source()).outcome in ("submission", "receipt")


def test_one_acknowledgement_per_submission_across_restarts(
        pipeline: Pipeline, config: Config, sessions: sessionmaker[Session],
        smtp: SmtpServer) -> None:
    raw, sender = pec_with_form(51)
    out = pipeline.ingest(raw, Source())
    [ack] = acks(sessions)
    assert ack.status == "pending" and ack.to_address == sender
    assert ack.message_id.startswith(f"<ack.{out.registration_number}.")
    assert ack.message_id.endswith("@pec.regione.lombardia.it>")
    assert send(config, sessions).sent == 1
    assert send(config, sessions).attempted == 0  # same process
    restarted = Pipeline(config, sessions)  # a new process: state only in the database
    assert restarted.ingest(raw, Source()).duplicate
    assert send(config, sessions, NOW + timedelta(hours=5)).attempted == 0
    [received] = smtp.received
    msg = received.message
    assert received.mail_from == USERNAME and received.rcpt_tos == [sender]
    assert msg["From"].addresses[0].addr_spec == USERNAME and msg["To"] == sender
    assert msg["Message-ID"] == ack.message_id
    assert msg["In-Reply-To"] == f"<opec.51.{T0:%d%H%M}@pec.simulato.example>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert out.registration_number in msg["Subject"]
    [sent] = acks(sessions)
    assert sent.status == "sent" and sent.sent_at == NOW and sent.attempts == 1


def test_no_acknowledgement_without_a_commit(pipeline: Pipeline,
                                             sessions: sessionmaker[Session]) -> None:
    def crash() -> None:
        raise RuntimeError("crash before commit")

    pipeline.before_commit = crash
    pipeline.ingest(pec_with_form(52)[0], Source())
    assert acks(sessions) == []


def test_no_reply_to_receipts_anomalies_unrelated_mail(
        pipeline: Pipeline, mailbox: list[SampleMessage], sessions: sessionmaker[Session],
        config: Config) -> None:
    noise = [m for m in mailbox if m.expect["outcome"] != "submission"]
    assert {m.expect["outcome"] for m in noise} == {"ignored", "anomaly", "receipt"}
    for m in noise:
        pipeline.ingest(m.raw, Source())
    auto = b"Auto-Submitted: auto-generated\r\n" + pec_with_form(53)[0]
    provider = pec_with_form(54, sender="posta-certificata@pec.aruba.it")[0]
    own = pec_with_form(55, sender=USERNAME)[0]
    for raw in (auto, provider, own):  # recorded as submissions, yet not answered
        assert pipeline.ingest(raw, Source()).outcome == "submission"
    assert acks(sessions) == []
    assert send(config, sessions).attempted == 0


def test_disabled_acknowledgements_queue_and_send_nothing(
        pipeline: Pipeline, config: Config, sessions: sessionmaker[Session],
        smtp: SmtpServer) -> None:
    ingest(pipeline, pec_with_form(73)[0])  # queued while enabled
    off = dataclasses.replace(config, acknowledgements=dataclasses.replace(
        config.acknowledgements, enabled=False))
    pipeline.config = off
    ingest(pipeline, pec_with_form(74)[0])
    assert send(off, sessions).attempted == 0
    assert [a.status for a in acks(sessions)] == ["pending"] and smtp.received == []


def test_resubmission_gets_its_own(pipeline: Pipeline, config: Config,
                                   sessions: sessionmaker[Session], smtp: SmtpServer) -> None:
    first = pipeline.ingest(pec_with_form(56)[0], Source())
    second = pipeline.ingest(pec_with_form(56, T0 + timedelta(days=1), layout="narrative")[0],
                             Source())
    rows = acks(sessions)
    assert [a.submission_id for a in rows] == [first.submission_id, second.submission_id]
    assert len({a.message_id for a in rows}) == 2
    assert send(config, sessions).sent == 2
    assert sorted(str(r.message["Subject"]).split()[4] for r in smtp.received) == [
        first.registration_number, second.registration_number]


def test_receipts_move_it_to_delivered_and_never_back(
        pipeline: Pipeline, config: Config, sessions: sessionmaker[Session],
        smtp: SmtpServer) -> None:
    ingest(pipeline, pec_with_form(57)[0])
    send(config, sessions)
    accettazione, consegna = provider_receipts(smtp.received[0], T0 + timedelta(minutes=1))
    ingest(pipeline, consegna)  # out of order: the delivery first
    ingest(pipeline, accettazione)
    [ack] = acks(sessions)
    assert ack.status == "delivered" and ack.error is None
    assert ack.delivered_at == T0 + timedelta(minutes=1, seconds=1)
    assert ack.accepted_at == T0 + timedelta(minutes=1)
    with sessions() as s:
        linked = s.scalars(select(Receipt.kind).where(Receipt.acknowledgement_id == ack.id))
        assert sorted(linked) == ["accettazione", "avvenuta-consegna"]


def test_delivery_failure_receipt_fails_it_for_review(
        pipeline: Pipeline, config: Config, sessions: sessionmaker[Session],
        smtp: SmtpServer) -> None:
    ingest(pipeline, pec_with_form(58)[0])
    send(config, sessions)
    for raw in provider_receipts(smtp.received[0], T0, ("accettazione",
                                                        "preavviso-errore-consegna")):
        ingest(pipeline, raw)
    [ack] = acks(sessions)
    assert ack.status == "accepted" and "non definitivo" in (ack.error or "")  # a warning only
    [failure] = provider_receipts(smtp.received[0], T0 + timedelta(hours=24),
                                  ("errore-consegna",), errore_esteso="5.1.1 casella piena")
    ingest(pipeline, failure)
    [ack] = acks(sessions)
    assert ack.status == "failed" and "5.1.1 casella piena" in (ack.error or "")
    with sessions() as s:
        [reason] = s.scalars(select(ReviewReason).where(ReviewReason.code == "ack_failed"))
        assert reason.submission_id == ack.submission_id and ack.message_id in reason.detail


def test_receipt_for_an_unknown_message_is_recorded_alone(
        pipeline: Pipeline, config: Config, sessions: sessionmaker[Session]) -> None:
    ingest(pipeline, pec_with_form(59)[0])
    ingest(pipeline, build_receipt("accettazione", msgid="<ack.PDZ2019-9999.x@altrove.it>",
                                   mittente=USERNAME, destinatari=["x@pec.esempio.it"],
                                   identificativo="opec.ignoto@pec.simulato.example", data=T0))
    with sessions() as s:
        [receipt] = s.scalars(select(Receipt))
        assert receipt.acknowledgement_id is None
        assert receipt.referenced_message_id == "<ack.PDZ2019-9999.x@altrove.it>"
    assert [a.status for a in acks(sessions)] == ["pending"]


@pytest.mark.parametrize("answer", ["451 4.3.0 Riprovare piu tardi", TOO_MUCH_TRAFFIC])
def test_temporary_failure_retries_with_backoff_then_succeeds(
        pipeline: Pipeline, config: Config, sessions: sessionmaker[Session], smtp: SmtpServer,
        answer: str) -> None:
    ingest(pipeline, pec_with_form(60)[0])
    smtp.handler.answers.extend([answer, answer])
    assert send(config, sessions).retrying == 1
    [ack] = acks(sessions)
    assert ack.status == "pending" and ack.attempts == 1 and answer[4:] in (ack.error or "")
    assert ack.next_attempt_at == NOW + timedelta(seconds=60)
    assert send(config, sessions, NOW + timedelta(seconds=59)).attempted == 0  # not yet due
    assert send(config, sessions, NOW + timedelta(seconds=60)).retrying == 1
    assert acks(sessions)[0].next_attempt_at == NOW + timedelta(seconds=180)  # doubled
    assert send(config, sessions, NOW + timedelta(seconds=180)).sent == 1
    [ack] = acks(sessions)
    assert ack.status == "sent" and ack.attempts == 3 and ack.error is None
    assert len(smtp.received) == 1


def test_permanent_failure_is_final_with_the_servers_words(
        pipeline: Pipeline, config: Config, sessions: sessionmaker[Session],
        smtp: SmtpServer) -> None:
    raw, sender = pec_with_form(61)
    ingest(pipeline, raw)
    smtp.handler.refused[sender] = "550 5.1.1 Utente sconosciuto"
    assert send(config, sessions).failed == 1
    [ack] = acks(sessions)
    assert ack.status == "failed" and "550 5.1.1 Utente sconosciuto" in (ack.error or "")
    assert send(config, sessions, NOW + timedelta(days=1)).attempted == 0
    with sessions() as s:
        codes = s.scalars(select(ReviewReason.code).where(
            ReviewReason.submission_id == ack.submission_id))
        assert "ack_failed" in list(codes)


def test_too_many_temporary_failures_fail_it(pipeline: Pipeline, config: Config,
                                             sessions: sessionmaker[Session],
                                             smtp: SmtpServer) -> None:
    ingest(pipeline, pec_with_form(62)[0])
    smtp.handler.answers.extend(["421 4.4.2 Timeout"] * 3)
    for minutes in (0, 10, 30):
        send(config, sessions, NOW + timedelta(minutes=minutes))
    [ack] = acks(sessions)
    assert ack.status == "failed" and ack.attempts == 3 and "dopo 3 tentativi" in (ack.error or "")


def test_rate_limit_spaces_sends_across_calls(pipeline: Pipeline, config: Config,
                                              sessions: sessionmaker[Session],
                                              smtp: SmtpServer) -> None:
    config = dataclasses.replace(config, acknowledgements=dataclasses.replace(
        config.acknowledgements, rate_per_minute=2))
    for seed in (63, 64, 65, 66, 67):
        ingest(pipeline, pec_with_form(seed)[0])
    first = send(config, sessions)
    assert (first.sent, first.deferred) == (2, 3)
    assert send(config, sessions, NOW + timedelta(seconds=30)).sent == 0  # same minute
    assert send(config, sessions, NOW + timedelta(seconds=61)).sent == 2
    assert send(config, sessions, NOW + timedelta(seconds=122)).sent == 1
    assert len(smtp.received) == 5
    assert [a.status for a in acks(sessions)] == ["sent"] * 5


class Crash(BaseException):
    """The process dies (SIGKILL, power cut) right after the SMTP server took the message."""


class CrashAfterSend(SmtpTransport):
    def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        super().send(message, sender, recipient)
        raise Crash


def crash_while_sending(pipeline: Pipeline, config: Config,
                        sessions: sessionmaker[Session], seed: int) -> Acknowledgement:
    ingest(pipeline, pec_with_form(seed)[0])
    with pytest.raises(Crash):
        send_pending(config, sessions, CrashAfterSend(config.smtp), now=NOW)
    [ack] = acks(sessions)
    assert ack.status == "sending" and ack.sent_at is None
    return ack


def test_crash_window_acceptance_receipt_settles_it(
        pipeline: Pipeline, config: Config, sessions: sessionmaker[Session],
        smtp: SmtpServer) -> None:
    crash_while_sending(pipeline, config, sessions, 68)
    assert send(config, sessions, NOW + timedelta(minutes=30)).attempted == 0  # within grace
    accettazione, _ = provider_receipts(smtp.received[0], T0 + timedelta(minutes=2))
    ingest(pipeline, accettazione)
    [ack] = acks(sessions)
    assert ack.status == "accepted" and ack.sent_at is not None
    assert send(config, sessions, NOW + timedelta(days=1)).attempted == 0
    assert len(smtp.received) == 1


def test_crash_window_resent_after_grace_without_receipt(
        pipeline: Pipeline, config: Config, sessions: sessionmaker[Session],
        smtp: SmtpServer) -> None:
    before = crash_while_sending(pipeline, config, sessions, 69)
    assert send(config, sessions, NOW + timedelta(minutes=119)).attempted == 0
    assert send(config, sessions, NOW + timedelta(minutes=120)).sent == 1
    [ack] = acks(sessions)
    assert ack.status == "sent" and ack.attempts == 2 and ack.message_id == before.message_id
    assert len(smtp.received) == 2


def test_hang_up_during_data_waits_for_the_receipt(
        pipeline: Pipeline, config: Config, sessions: sessionmaker[Session],
        smtp: SmtpServer) -> None:
    ingest(pipeline, pec_with_form(71)[0])
    ingest(pipeline, pec_with_form(72)[0])
    smtp.handler.answers.append(DROP)
    report = send(config, sessions)
    assert (report.uncertain, report.deferred) == (1, 1)  # the batch stops there
    first, second = acks(sessions)
    assert first.status == "sending" and "potrebbe" in (first.error or "")
    assert second.status == "pending"
    assert send(config, sessions, NOW + timedelta(minutes=1)).sent == 1  # only the second
    ingest(pipeline, provider_receipts(smtp.received[0], T0)[0])
    assert acks(sessions)[0].status == "accepted"
    assert len(smtp.received) == 2


def test_unverified_tls_leaves_it_pending(pipeline: Pipeline, config: Config,
                                          sessions: sessionmaker[Session],
                                          smtp: SmtpServer) -> None:
    config = dataclasses.replace(config, smtp=dataclasses.replace(config.smtp, ca_file=""))
    ingest(pipeline, pec_with_form(70)[0])
    report = send(config, sessions)
    assert report.retrying == 1 and smtp.received == []
    [ack] = acks(sessions)
    assert ack.status == "pending" and "certificato" in (ack.error or "")
