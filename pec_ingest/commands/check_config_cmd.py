"""``pec-ingest check-config``: is the configuration right? Optionally, can we connect?"""

from __future__ import annotations

import argparse
from typing import Any

from pec_ingest.config import Config, load_config
from pec_ingest.database import safe_url
from pec_ingest.errors import ConfigError, PecIngestError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("check-config", help="verifica la configurazione (e le connessioni)")
    p.add_argument("--connect", action="store_true",
                   help="prova anche database, login IMAP e SMTP")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    problems = _secret_problems(config)
    if problems:
        raise ConfigError(problems)
    print("\n".join(summary(config)))
    if args.connect:
        return _connect(config)
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


def _secret_problems(config: Config) -> list[str]:
    out = []
    secrets = [box.secret for box in config.mailboxes]
    if config.smtp.configured and config.acknowledgements.transport == "smtp":
        secrets.append(config.smtp.secret)
    for secret in secrets:
        try:
            secret.value()
        except ConfigError as exc:
            out.extend(exc.problems)
    return out


def _connect(config: Config) -> int:
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
        try:
            with Mailbox(box) as mailbox:
                mailbox.login()
            print(f"casella {box.name}: login riuscito")
        except PecIngestError as exc:
            failures += 1
            print(f"casella {box.name}: ERRORE {exc}")
    return 1 if failures else 0
