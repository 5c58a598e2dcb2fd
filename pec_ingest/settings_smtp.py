"""Configuration of the SMTP server and of the acknowledgements sent through it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pec_ingest.settings_imap import Secret, security_problems


@dataclass(frozen=True)
class SmtpSection:
    host: str = ""
    port: int = 465
    security: str = "tls"
    username: str = ""
    password_file: str = field(default="", repr=False)
    password_env: str = field(default="", repr=False)
    ca_file: str = ""
    from_address: str = ""
    timeout_seconds: float = 60.0

    @property
    def secret(self) -> Secret:
        return Secret("smtp", self.password_file, self.password_env, "smtp-password")

    @property
    def configured(self) -> bool:
        return bool(self.host)

    def problems(self) -> list[str]:
        if not self.host:
            return []
        out = security_problems("smtp", self.security, self.host, self.port)
        if "@" not in self.from_address:
            out.append("smtp.from_address: indirizzo PEC del mittente obbligatorio")
        if self.password_file and self.password_env:
            out.append("smtp: indicare password_file oppure password_env, non entrambi")
        if self.ca_file and not Path(self.ca_file).is_file():
            out.append(f"smtp.ca_file: file non trovato {self.ca_file}")
        return out


@dataclass(frozen=True)
class MeetingSection:
    title: str = ""
    when: datetime | None = None
    place: str = ""


DEFAULT_MEETINGS = (
    MeetingSection("Incontro plenario", datetime(2019, 9, 11, 17, 0),
                   "La Filanda, Cernusco sul Naviglio"),
    MeetingSection("Incontro congiunto dei tre Tavoli d'area", datetime(2019, 10, 2, 16, 0),
                   "sedi da comunicare"),
)


@dataclass(frozen=True)
class AcknowledgementSection:
    enabled: bool = True
    transport: str = "auto"  # smtp | file | auto (smtp when [smtp] is configured, else file)
    outbox_dir: str = ""  # for the file transport; default <state>/outbox
    templates_dir: str = ""
    rate_per_minute: int = 5
    retry_initial_seconds: int = 60
    retry_max_seconds: int = 3600
    max_attempts: int = 12
    sending_grace_minutes: int = 120
    office_name: str = "Ufficio di Piano - Ambito Distrettuale 4"
    office_email: str = "pianodizona@comune.cernuscosulnaviglio.mi.it"
    office_phone: str = "02 9278 434 / 358 / 217"
    meetings: tuple[MeetingSection, ...] = DEFAULT_MEETINGS

    def resolved(self, smtp: SmtpSection) -> AcknowledgementSection:
        """``auto`` made concrete: SMTP when configured, else the file transport."""
        if self.transport != "auto":
            return self
        return dataclasses.replace(self, transport="smtp" if smtp.configured else "file")

    def problems(self, smtp: SmtpSection) -> list[str]:
        out = []
        if self.transport not in ("smtp", "file", "auto"):
            out.append(f"acknowledgements.transport: {self.transport!r} non ammesso (smtp, file)")
        elif self.enabled and self.transport == "smtp" and not smtp.configured:
            out.append("acknowledgements: trasporto 'smtp' senza sezione [smtp] (oppure "
                       "transport = \"file\" o enabled = false)")
        if self.rate_per_minute < 1 or self.max_attempts < 1:
            out.append("acknowledgements: rate_per_minute e max_attempts devono essere positivi")
        if self.templates_dir and not Path(self.templates_dir).is_dir():
            out.append(f"acknowledgements.templates_dir: cartella non trovata {self.templates_dir}")
        return out
