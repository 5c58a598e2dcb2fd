"""``pec-ingest poll --once``: one whole cycle, then exit.

The cycle: ingest what is new in every configured mailbox (receipts settle acknowledgements as
they are recorded), send the acknowledgements that are due, reconcile receipts that arrived
before their acknowledgement was known. Prints one line per mailbox and one for the
acknowledgements; the exit code is 1 when a mailbox failed (0 otherwise). The continuous
service is ``pec-ingest run``.
"""

from __future__ import annotations

import argparse
from typing import Any

from pec_ingest.ack import make_transport, reconcile, send_pending
from pec_ingest.config import load_config
from pec_ingest.database import open_database
from pec_ingest.errors import ConfigError
from pec_ingest.pipeline import Pipeline
from pec_ingest.poller import Poller


def add_parser(sub: Any) -> None:
    p = sub.add_parser("poll", help="legge una volta le caselle IMAP configurate ed esce")
    p.add_argument("--once", action="store_true", required=True,
                   help="un solo giro su tutte le caselle (il servizio continuo è `run`)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if not config.mailboxes:
        raise ConfigError("nessuna casella configurata: aggiungere almeno una sezione "
                          "[[mailboxes]]")
    db = open_database(config)
    try:
        with Pipeline(config, db.sessions) as pipeline:
            reports = Poller(config, db.sessions, pipeline).poll_all()
        for report in reports:
            print(report.summary())
        sent = send_pending(config, db.sessions, make_transport(config))
        settled = reconcile(db.sessions)
        print(f"ricevute: {sent.sent} inviate, {sent.retrying} da ritentare, {sent.failed} "
              f"fallite, {sent.deferred} rinviate; {settled} ricevute non abbinate riesaminate")
    finally:
        db.close()
    return 0 if all(r.ok for r in reports) else 1
