"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1 with TLS from a throwaway CA.

:class:`SmtpServer` runs two listeners over one :class:`RecordingHandler`: implicit TLS (as a
PEC provider's port 465) and STARTTLS (required before AUTH and MAIL). Both demand AUTH with
``USERNAME``/``PASSWORD``. The handler keeps every accepted message and can be told to answer
the next DATA commands otherwise (``451 ...``, ``550 5.7.1 Too much traffic``, ``554 ...``,
or :data:`DROP`: keep the message and hang up before replying), or to refuse a recipient.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import warnings
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pec_ingest.samples.pec import build_receipt

USERNAME = "comune.cernuscosulnaviglio@pec.regione.lombardia.it"
PASSWORD = "segreto-di-prova"
TOO_MUCH_TRAFFIC = "550 5.7.1 Too much traffic, try later"
DROP = "drop"  # an answer: keep the message, close the connection without replying


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return cast(EmailMessage, message_from_bytes(self.data, policy=policy.default))


@dataclass
class RecordingHandler:
    """Stores what it accepts; ``answers`` (FIFO) override the reply to the next DATA."""

    received: list[Received] = field(default_factory=list)
    answers: deque[str] = field(default_factory=deque)
    refused: dict[str, str] = field(default_factory=dict)
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = self.answers.popleft() if self.answers else "250 2.0.0 Ok: queued"
        if not answer.startswith(("250", DROP)):
            return answer
        data = envelope.original_content or envelope.content
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), data))
        if answer == DROP:  # took the message, then the line broke before the reply
            server.transport.close()
        return "250 2.0.0 Ok: queued" if answer == DROP else answer

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USERNAME \
                and auth_data.password.decode() == PASSWORD:
            self.logins.append(mechanism)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


class ImplicitTlsController(Controller):
    """The whole session is TLS, so aiosmtpd's warning about AUTH without STARTTLS is moot."""

    def factory(self) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return super().factory()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    """Two aiosmtpd controllers (implicit TLS and STARTTLS) sharing one handler and one CA."""

    def __init__(self, folder: Path) -> None:
        self.ca = trustme.CA()
        self.ca_file = folder / "test-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
        self.handler = RecordingHandler()
        common: dict[str, Any] = {"authenticator": self.handler.authenticate,
                                  "auth_required": True, "hostname": "127.0.0.1"}
        self.tls = self._start(ImplicitTlsController, ssl_context=server_ctx,
                               auth_require_tls=False, **common)
        self.starttls = self._start(Controller, tls_context=server_ctx, require_starttls=True,
                                    auth_require_tls=True, **common)

    def _start(self, cls: type[Controller], **kwargs: Any) -> Controller:
        for _ in range(5):
            controller = cls(self.handler, port=free_port(), ready_timeout=10, **kwargs)
            try:
                controller.start()
            except OSError:  # the port was taken in between: try another
                continue
            return controller
        raise RuntimeError("nessuna porta libera per il server SMTP di prova")

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def stop(self) -> None:
        for controller in (self.tls, self.starttls):
            controller.stop()


def provider_receipts(received: Received, when: datetime,
                      kinds: tuple[str, ...] = ("accettazione", "avvenuta-consegna"),
                      errore_esteso: str | None = None) -> list[bytes]:
    """What the sender's PEC provider sends back for an accepted message: one receipt per kind
    (``accettazione``, ``avvenuta-consegna``, ``errore-consegna``, ...), each naming the message
    by its Message-ID, as the provider does."""
    message = received.message
    msgid = str(message["Message-ID"])
    ident = f"opec.{hashlib.sha256(msgid.encode()).hexdigest()[:16]}@pec.simulato.example"
    out = []
    for step, kind in enumerate(kinds):
        failure = kind in ("errore-consegna", "non-accettazione", "preavviso-errore-consegna")
        out.append(build_receipt(
            kind, msgid=msgid, mittente=received.mail_from, destinatari=received.rcpt_tos,
            identificativo=ident, data=when + timedelta(seconds=step),
            oggetto=str(message["Subject"]),
            errore="no-dest" if failure else None,
            errore_esteso=errore_esteso if failure else None,
            receipt_id=f"ricevuta.{kind}.{ident}"))
    return out
