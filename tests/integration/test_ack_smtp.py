"""The SMTP and file transports against a real aiosmtpd server with TLS from a test CA."""

from __future__ import annotations

import smtplib
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from pec_ingest.ack.transport import DeliveryUnknown, FileTransport, SmtpTransport
from pec_ingest.errors import PermanentTransportError, TransportError
from pec_ingest.settings_smtp import SmtpSection
from tests.smtp_server import DROP, PASSWORD, TOO_MUCH_TRAFFIC, USERNAME, SmtpServer

TO = "associazione@pec.esempio.it"


def settings(smtp: SmtpServer, tmp_path: Path, *, security: str = "tls", ca: bool = True,
             password: str = PASSWORD) -> SmtpSection:
    secret = tmp_path / "smtp-password"
    secret.write_text(password + "\n", encoding="utf-8")
    port = smtp.tls.port if security == "tls" else smtp.starttls.port
    return SmtpSection(host="127.0.0.1", port=port, security=security, username=USERNAME,
                       password_file=str(secret), ca_file=str(smtp.ca_file) if ca else "",
                       from_address=USERNAME, timeout_seconds=5)


def message(n: int = 1) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = USERNAME
    msg["To"] = TO
    msg["Subject"] = f"Ricevuta della domanda n. PDZ2019-000{n} è arrivata"
    msg["Message-ID"] = f"<ack.PDZ2019-000{n}.abc@pec.regione.lombardia.it>"
    msg.set_content("Perché sì: città, attività.\n", charset="utf-8", cte="quoted-printable")
    return msg


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_sends_over_verified_tls_with_login(smtp: SmtpServer, tmp_path: Path,
                                            security: str) -> None:
    transport = SmtpTransport(settings(smtp, tmp_path, security=security))
    transport.send(message(1), USERNAME, TO)
    transport.send(message(2), USERNAME, TO)  # the same connection
    transport.close()
    assert [r.mail_from for r in smtp.received] == [USERNAME, USERNAME]
    assert smtp.received[0].rcpt_tos == [TO]
    assert smtp.received[1].message["Message-ID"] == message(2)["Message-ID"]
    assert "città" in smtp.received[0].message.get_content()
    assert len(smtp.handler.logins) == 1


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_unverifiable_certificate_is_refused(smtp: SmtpServer, tmp_path: Path,
                                             security: str) -> None:
    transport = SmtpTransport(settings(smtp, tmp_path, security=security, ca=False))
    with pytest.raises(TransportError, match="certificato") as info:
        transport.send(message(), USERNAME, TO)
    assert not isinstance(info.value, PermanentTransportError)
    assert smtp.received == []


def test_wrong_password_is_a_transport_error_without_the_password(
        smtp: SmtpServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    transport = SmtpTransport(settings(smtp, tmp_path, password="sbagliata-123"))
    with pytest.raises(TransportError, match="accesso rifiutato") as info:
        transport.send(message(), USERNAME, TO)
    assert "sbagliata-123" not in str(info.value) and "sbagliata-123" not in caplog.text
    assert "AUTH as" in caplog.text and smtp.received == []


@pytest.mark.parametrize(("answer", "permanent"), [
    ("451 4.3.0 Temporary local problem", False),
    (TOO_MUCH_TRAFFIC, False),
    ("554 5.6.0 Message content rejected", True),
])
def test_data_answers_are_classified(smtp: SmtpServer, tmp_path: Path, answer: str,
                                     permanent: bool) -> None:
    smtp.handler.answers.append(answer)
    transport = SmtpTransport(settings(smtp, tmp_path))
    with pytest.raises(TransportError) as info:
        transport.send(message(), USERNAME, TO)
    transport.close()
    assert isinstance(info.value, PermanentTransportError) is permanent
    assert answer.split(" ", 1)[1] in str(info.value)  # the server's words
    assert smtp.received == []


def test_refused_recipient_is_permanent_and_the_connection_reusable(
        smtp: SmtpServer, tmp_path: Path) -> None:
    smtp.handler.refused[TO] = "550 5.1.1 Casella inesistente"
    transport = SmtpTransport(settings(smtp, tmp_path))
    with pytest.raises(PermanentTransportError, match=r"5\.1\.1 Casella inesistente"):
        transport.send(message(1), USERNAME, TO)
    transport.send(message(2), USERNAME, "altro@pec.esempio.it")
    transport.close()
    assert [r.rcpt_tos for r in smtp.received] == [["altro@pec.esempio.it"]]
    assert len(smtp.handler.logins) == 1


def test_hang_up_during_data_is_uncertain(smtp: SmtpServer, tmp_path: Path) -> None:
    smtp.handler.answers.append(DROP)
    transport = SmtpTransport(settings(smtp, tmp_path))
    with pytest.raises(DeliveryUnknown, match="potrebbe aver accettato"):
        transport.send(message(1), USERNAME, TO)
    transport.send(message(2), USERNAME, TO)  # reconnects
    transport.close()
    assert len(smtp.received) == 2


def test_unreachable_server_is_temporary(tmp_path: Path) -> None:
    from tests.smtp_server import free_port

    s = SmtpSection(host="127.0.0.1", port=free_port(), security="plain",
                    from_address=USERNAME, timeout_seconds=2)
    with pytest.raises(TransportError) as info:
        SmtpTransport(s).send(message(), USERNAME, TO)
    assert not isinstance(info.value, PermanentTransportError)
    assert isinstance(info.value.__cause__, OSError | smtplib.SMTPException)


def test_file_transport_writes_eml(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path / "outbox")
    transport.send(message(3), USERNAME, TO)
    files = list((tmp_path / "outbox").iterdir())
    assert [f.name for f in files] == ["ack.PDZ2019-0003.abc@pec.regione.lombardia.it.eml"]
    parsed = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["Subject"] == "Ricevuta della domanda n. PDZ2019-0003 è arrivata"
    assert b"\r\n" in files[0].read_bytes()
