"""How an acknowledgement leaves: over the mailbox provider's SMTP, or into a folder of .eml files.

Both transports have ``send(message, sender, recipient)`` and ``close()``. Errors are
translated where they enter:

* :class:`~pec_ingest.errors.PermanentTransportError`: the server refused for good (a 5xx
  answer, a refused recipient); ``str(exc)`` carries the server's words;
* :class:`DeliveryUnknown`: the connection broke while the message itself was being handed
  over, so the server may have accepted it; the outbox must not resend at once;
* :class:`~pec_ingest.errors.TransportError`: anything temporary (4xx, connection errors,
  timeouts, TLS problems, and the provider's ``550 ... Too much traffic``).

SMTP traffic is logged at DEBUG, commands and replies only: never the password, never the body.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import socket
import ssl
import tempfile
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Protocol

from pec_ingest import interruption
from pec_ingest.config import Config
from pec_ingest.errors import ConfigError, PermanentTransportError, TransportError
from pec_ingest.settings_smtp import SmtpSection

log = logging.getLogger(__name__)
TEMPORARY_5XX = re.compile(r"too\s+much\s+traffic|rate\s+limit|too\s+many", re.IGNORECASE)


class DeliveryUnknown(TransportError):
    """The connection failed during DATA: the server may or may not have the message."""


class Transport(Protocol):
    def send(self, message: EmailMessage, sender: str, recipient: str) -> None: ...

    def close(self) -> None: ...


def make_transport(config: Config) -> Transport:
    """The configured transport (``acknowledgements.transport``, ``auto`` already resolved)."""
    settings = config.acknowledgements.resolved(config.smtp)
    if settings.transport == "smtp":
        return SmtpTransport(config.smtp)
    return FileTransport(outbox_dir(config))


def outbox_dir(config: Config) -> Path:
    configured = config.acknowledgements.outbox_dir
    return Path(configured) if configured else config.state.dir / "outbox"


class FileTransport:
    """Writes each message to ``<folder>/<Message-ID>.eml`` (temp file, fsync, rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sent: list[Path] = []

    def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        name = re.sub(r"[^A-Za-z0-9._@-]", "_", str(message["Message-ID"]).strip("<> ")) + ".eml"
        data = message.as_bytes(policy=SMTP_POLICY)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.folder / name)
        except OSError as exc:
            raise TransportError(f"impossibile scrivere {self.folder / name}: {exc}") from exc
        self.sent.append(self.folder / name)
        log.debug("file transport: %s -> %s (%d bytes)", sender, recipient, len(data))

    def close(self) -> None:
        return None


def _refusal(step: str, code: int, reply: bytes | str) -> TransportError:
    words = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    text = f"{step}: {code} {' '.join(words.split())}"
    if 500 <= code < 600 and not TEMPORARY_5XX.search(words):
        return PermanentTransportError(text)
    return TransportError(text)


class SmtpTransport:
    """One SMTP connection, opened on the first send and kept for the batch."""

    def __init__(self, settings: SmtpSection) -> None:
        self.settings = settings
        self._conn: smtplib.SMTP | None = None
        self._opening: smtplib.SMTP | None = None  # connecting: may be cut on stop

    def ssl_context(self) -> ssl.SSLContext:
        """Certificate and host name verified, against ``ca_file`` when given."""
        return ssl.create_default_context(cafile=self.settings.ca_file or None)

    def _set_up(self, s: SmtpSection, where: str) -> smtplib.SMTP:
        try:
            conn = self._open(s)
            if s.username:
                password = s.secret.value()
                log.debug("%s: AUTH as %s (password hidden)", where, s.username)
                conn.login(s.username, password)
        except BaseException:
            self._abandon()
            raise
        finally:
            self._opening = None
        log.debug("%s: ready", where)
        return conn

    def _abandon(self) -> None:
        """Close a connection that failed while being set up (translated by the caller)."""
        if self._opening is not None:
            self._opening.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        where = f"SMTP {s.host}:{s.port} ({s.security})"
        log.debug("%s: connecting", where)
        try:
            return self._set_up(s, where)
        except ConfigError as exc:
            raise TransportError(f"{where}: {exc}") from exc
        except ssl.SSLCertVerificationError as exc:
            raise TransportError(f"{where}: certificato del server non valido "
                                 f"({exc.verify_message})") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportError(f"{where}: accesso rifiutato ({exc.smtp_code})") from exc
        except smtplib.SMTPResponseException as exc:
            raise _refusal(where, exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"{where}: {type(exc).__name__}: {exc}") from exc

    def _open(self, s: SmtpSection) -> smtplib.SMTP:
        """Connected (TCP, TLS, greeting: bounded by ``timeout_seconds``), then registered
        for a stop to cut while EHLO, STARTTLS and AUTH (:meth:`_connect`) go on."""
        timeout = s.timeout_seconds
        conn: smtplib.SMTP = (
            smtplib.SMTP_SSL(s.host, s.port, timeout=timeout, context=self.ssl_context())
            if s.security == "tls" else smtplib.SMTP(s.host, s.port, timeout=timeout))
        self._opening = conn
        interruption.opened("smtp", self)
        conn.ehlo()
        if s.security == "starttls":
            conn.starttls(context=self.ssl_context())
            conn.ehlo()
        return conn

    def current_socket(self) -> socket.socket | None:
        """The connection's socket, for :func:`pec_ingest.interruption.interrupt`."""
        conn = self._conn or self._opening
        sock = getattr(conn, "sock", None) if conn is not None else None
        return sock if isinstance(sock, socket.socket) else None

    def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        if self._conn is None:
            self._conn = self._connect()
        conn = self._conn
        try:
            self._transaction(conn, message.as_bytes(policy=SMTP_POLICY), sender, recipient)
        except PermanentTransportError:
            self._reset()
            raise
        except TransportError:
            self.close()
            raise

    def _transaction(self, conn: smtplib.SMTP, data: bytes, sender: str,
                     recipient: str) -> None:
        try:
            code, reply = conn.mail(sender)
            log.debug("MAIL FROM:<%s> -> %s %r", sender, code, reply)
            if code != 250:
                raise _refusal("MAIL FROM", code, reply)
            code, reply = conn.rcpt(recipient)
            log.debug("RCPT TO:<%s> -> %s %r", recipient, code, reply)
            if code not in (250, 251):
                raise _refusal(f"RCPT TO {recipient}", code, reply)
        except smtplib.SMTPResponseException as exc:
            raise _refusal("SMTP", exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"SMTP: {type(exc).__name__}: {exc}") from exc
        try:
            code, reply = conn.data(data)
        except smtplib.SMTPResponseException as exc:
            raise _refusal("DATA", exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryUnknown(f"DATA interrotto ({type(exc).__name__}: {exc}): il server "
                                  "potrebbe aver accettato il messaggio") from exc
        log.debug("DATA (%d bytes) -> %s %r", len(data), code, reply)
        if code != 250:
            raise _refusal("DATA", code, reply)

    def _reset(self) -> None:
        """After a refusal the connection is reusable once RSET succeeds."""
        if self._conn is None:
            return
        try:
            self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        interruption.closed(self)
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

    def check_login(self) -> None:
        """Connect and log in, then close (``check-config --connect``); TransportError."""
        self._conn = self._connect()
        self.close()
