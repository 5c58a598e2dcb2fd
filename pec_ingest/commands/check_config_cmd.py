"""``pec-ingest check-config``: is the configuration right? Optionally, can we connect?

Every problem is reported at once: the file's own (types, unknown keys, values), the password
files (missing, unreadable, empty) and the acknowledgement templates (syntax). The production
passwords exist only inside the unit (``LoadCredential=``): ``--credentials DIR`` reads them
from DIR instead (e.g. ``/etc/pec-ingest``), or run the check inside a transient unit with the
same credentials (``systemd-run``, see the README).
"""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import jinja2

from pec_ingest.ack.templates import HTML, SUBJECT, TEXT, environment
from pec_ingest.config import Config, build_section, decode_config, load_config
from pec_ingest.database import safe_url
from pec_ingest.errors import ConfigError, PecIngestError
from pec_ingest.settings_imap import MailboxSection, Secret
from pec_ingest.settings_smtp import SmtpSection

SYSTEMD_CREDENTIALS = "/run/credentials/"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("check-config", help="verifica la configurazione (e le connessioni)")
    p.add_argument("--connect", action="store_true",
                   help="prova anche il database, i login IMAP e il login SMTP")
    p.add_argument("--credentials", type=Path, metavar="CARTELLA",
                   help="legge le password dalla cartella indicata (es. /etc/pec-ingest) "
                        "invece che da /run/credentials/... del servizio")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:  # add what the file's problems hide: passwords, templates
        more = _problems_of_file(args.config, args.credentials)
        raise ConfigError(exc.problems + [p for p in more if p not in exc.problems]) from None
    problems = _secret_problems(_secrets(config.mailboxes, config.smtp, config), args.credentials)
    problems += template_problems(config.acknowledgements.templates_dir)
    if problems:
        raise ConfigError(problems)
    print("\n".join(summary(config)))
    if args.connect:
        return _connect(config, args.credentials)
    print("configurazione valida")
    return 0


def summary(config: Config) -> list[str]:
    lines = [f"file:          {config.source or '(valori predefiniti)'}",
             f"database:      {safe_url(config.database_url)}",
             f"stato:         {config.state.dir}",
             f"procedura:     {config.procedure.code}, "
             f"scadenza {config.deadline:%d/%m/%Y %H:%M %Z}"]
    for box in config.mailboxes:
        lines.append(f"casella:       {box.name} {box.username}@{box.host}:{box.port} "
                     f"({box.security}) cartelle {', '.join(box.folders)} ogni "
                     f"{box.poll_interval_seconds}s")
    if config.smtp.configured:
        s = config.smtp
        lines.append(f"smtp:          {s.from_address} via {s.host}:{s.port} ({s.security})")
    ack = config.acknowledgements
    lines.append(f"ricevute:      {'attive' if ack.enabled else 'disattivate'}, "
                 f"trasporto {ack.transport}, max {ack.rate_per_minute}/minuto")
    return lines


def _secrets(boxes: Any, smtp: SmtpSection | None, config: Config | None) -> list[Secret]:
    secrets = [box.secret for box in boxes or ()]
    transport = config.acknowledgements.resolved(config.smtp).transport if config else "smtp"
    if smtp is not None and smtp.configured and transport == "smtp":
        secrets.append(smtp.secret)
    return secrets


def relocated(secret: Secret, credentials: Path | None) -> Secret:
    """The secret read from ``credentials`` instead of the unit's credentials folder."""
    if credentials is None:
        return secret
    if secret.file.startswith(SYSTEMD_CREDENTIALS):
        return dataclasses.replace(secret, file=str(credentials / Path(secret.file).name))
    if not secret.file and not secret.env and secret.credential:
        return dataclasses.replace(secret, file=str(credentials / secret.credential))
    return secret


def _secret_problems(secrets: list[Secret], credentials: Path | None) -> list[str]:
    out = []
    for secret in secrets:
        try:
            relocated(secret, credentials).value()
        except ConfigError as exc:
            out.extend(exc.problems)
    return out


def _problems_of_file(path: str | None, credentials: Path | None) -> list[str]:
    """Password problems of a file that has other problems too (read section by section)."""
    if path is None:
        return []
    try:
        data = tomllib.loads(decode_config(Path(path).read_bytes(), Path(path)))
    except (OSError, ConfigError, tomllib.TOMLDecodeError):
        return []  # already the file's own problem
    ignored: list[str] = []
    boxes = [build_section(MailboxSection, t, "", ignored) for t in data.get("mailboxes", [])
             if isinstance(t, dict)]
    smtp = build_section(SmtpSection, data["smtp"], "", ignored) if "smtp" in data else None
    problems = _secret_problems(_secrets([b for b in boxes if b is not None], smtp, None),
                                credentials)
    templates = data.get("acknowledgements", {})
    if isinstance(templates, dict) and isinstance(templates.get("templates_dir"), str):
        problems += template_problems(templates["templates_dir"])
    return problems


def template_problems(templates_dir: str) -> list[str]:
    """Syntax errors of the acknowledgement templates (the overrides and the defaults)."""
    if templates_dir and not Path(templates_dir).is_dir():
        return []  # reported by the configuration itself
    env = environment(templates_dir)
    out = []
    for name in (SUBJECT, TEXT, HTML):
        try:
            env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            out.append(f"acknowledgements.templates_dir: modello {exc.filename or name}, "
                       f"riga {exc.lineno}: {exc.message}")
        except UnicodeDecodeError:
            out.append(f"acknowledgements.templates_dir: modello {name} non è in UTF-8")
        except jinja2.TemplateError as exc:
            out.append(f"acknowledgements.templates_dir: modello {name}: {exc}")
    return out


def _connect(config: Config, credentials: Path | None) -> int:
    from pec_ingest.ack.transport import SmtpTransport
    from pec_ingest.database import open_database
    from pec_ingest.mailbox import Mailbox

    failures = 0
    try:
        open_database(config).close()
        print("database:      raggiungibile e aggiornato")
    except PecIngestError as exc:
        failures += 1
        print(f"database:      ERRORE {exc}")
    for box in config.mailboxes:
        box = dataclasses.replace(box, password_file=relocated(box.secret, credentials).file)
        try:
            with Mailbox(box) as mailbox:
                mailbox.login()
            print(f"casella {box.name}: login riuscito")
        except PecIngestError as exc:
            failures += 1
            print(f"casella {box.name}: ERRORE {exc}")
    if config.smtp.configured:
        smtp = dataclasses.replace(config.smtp,
                                   password_file=relocated(config.smtp.secret, credentials).file)
        try:
            SmtpTransport(smtp).check_login()
            print(f"smtp {smtp.host}: " + ("login riuscito" if smtp.username else
                                           "connessione riuscita (senza login)"))
        except PecIngestError as exc:
            failures += 1
            print(f"smtp {smtp.host}: ERRORE {exc}")
    return 1 if failures else 0
