"""Configuration of the IMAP mailboxes, and where secrets come from.

Secrets never live in the file: ``password_file`` (a path; under systemd a credential such as
``/run/credentials/pec-ingest.service/imap-password``), ``password_env`` (an environment
variable), or, when neither is given, ``$CREDENTIALS_DIRECTORY/<credential>``. They are read
when needed and never appear in ``repr`` or logs.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pec_ingest.errors import ConfigError
from store.base import OUTCOMES

SECURITY = ("tls", "starttls", "plain")
KEYWORD = re.compile(r"[A-Za-z0-9$_.\-]{1,64}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Secret:
    """Where a password comes from; ``value()`` reads it, ``repr`` never shows it."""

    where: str
    file: str = ""
    env: str = ""
    credential: str = ""

    def value(self) -> str:
        if self.file:
            return _read_secret_file(Path(self.file), self.where)
        if self.env:
            if self.env not in os.environ:
                raise ConfigError(f"{self.where}.password_env: variabile {self.env} non impostata")
            return os.environ[self.env]
        creds = os.environ.get("CREDENTIALS_DIRECTORY")
        if creds and self.credential:
            return _read_secret_file(Path(creds) / self.credential, self.where)
        raise ConfigError(f"{self.where}: password mancante (password_file, password_env o "
                          f"credenziale systemd {self.credential!r})")


def _read_secret_file(path: Path, where: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{where}.password_file: impossibile leggere {path} "
                          f"({exc.strerror})") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"{where}.password_file: {path} non è testo UTF-8") from None
    if not value.strip():
        raise ConfigError(f"{where}.password_file: {path} è vuoto (scrivervi la password)")
    return value


@dataclass(frozen=True)
class MailboxSection:
    name: str = ""
    host: str = ""
    port: int = 993
    security: str = "tls"
    username: str = ""
    password_file: str = field(default="", repr=False)
    password_env: str = field(default="", repr=False)
    ca_file: str = ""
    folders: tuple[str, ...] = ("INBOX",)
    poll_interval_seconds: int = 60
    connect_timeout_seconds: float = 30.0
    read_timeout_seconds: float = 120.0
    since: date | None = None
    batch_size: int = 100
    batch_wait_ms: int = 2000
    max_message_mb: int = 100
    idle: bool = True
    set_keyword: str = ""
    move_to: str = ""
    expunge_after_copy: bool = False
    post_action_outcomes: tuple[str, ...] = ("submission",)
    skip_non_pec: bool = True
    ingest_workers: int = 0
    idle_renew_minutes: int = 25

    @property
    def secret(self) -> Secret:
        return Secret(f"mailboxes[{self.name}]", self.password_file, self.password_env,
                      f"imap-password-{self.name}" if self.name else "imap-password")

    def problems(self, where: str) -> list[str]:
        out = []
        if not self.name:
            out.append(f"{where}.name: obbligatorio")
        if not self.host:
            out.append(f"{where}.host: obbligatorio")
        if not self.username:
            out.append(f"{where}.username: obbligatorio")
        out += security_problems(where, self.security, self.host, self.port)
        if self.password_file and self.password_env:
            out.append(f"{where}: indicare password_file oppure password_env, non entrambi")
        if not self.folders:
            out.append(f"{where}.folders: almeno una cartella")
        if self.poll_interval_seconds < 5:
            out.append(f"{where}.poll_interval_seconds: almeno 5 secondi")
        if self.batch_size < 1 or self.max_message_mb < 1:
            out.append(f"{where}: batch_size e max_message_mb devono essere positivi")
        if not 100 <= self.batch_wait_ms <= 600_000:
            out.append(f"{where}.batch_wait_ms: tra 100 e 600000 millisecondi")
        if self.ca_file and not Path(self.ca_file).is_file():
            out.append(f"{where}.ca_file: file non trovato {self.ca_file}")
        return out + self._imap_problems(where)

    def _imap_problems(self, where: str) -> list[str]:
        out = []
        if self.set_keyword and not KEYWORD.fullmatch(self.set_keyword):
            out.append(f"{where}.set_keyword: {self.set_keyword!r} non è una parola chiave IMAP "
                       "(lettere, cifre, - _ . $, senza spazi né \\)")
        if self.move_to and self.move_to in self.folders:
            out.append(f"{where}.move_to: {self.move_to!r} è anche una cartella letta")
        unknown = sorted(set(self.post_action_outcomes) - set(OUTCOMES))
        if unknown:
            out.append(f"{where}.post_action_outcomes: {', '.join(unknown)} non ammessi "
                       f"({', '.join(OUTCOMES)})")
        if self.ingest_workers < 0:
            out.append(f"{where}.ingest_workers: 0 (uno per core) o un numero positivo")
        if not 1 <= self.idle_renew_minutes <= 29:
            out.append(f"{where}.idle_renew_minutes: tra 1 e 29 (i server chiudono dopo 30)")
        return out


def security_problems(where: str, security: str, host: str, port: int) -> list[str]:
    out = []
    if security not in SECURITY:
        out.append(f"{where}.security: {security!r} non ammesso (tls, starttls, plain)")
    elif security == "plain" and host and not is_loopback(host):
        out.append(f"{where}.security: 'plain' (senza cifratura) ammesso solo verso 127.0.0.1 "
                   f"o localhost, non verso {host}")
    if not 0 < port < 65536:
        out.append(f"{where}.port: {port} fuori intervallo")
    return out


