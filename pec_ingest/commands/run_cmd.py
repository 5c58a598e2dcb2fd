"""``pec-ingest run``: the service (systemd Type=notify; see deploy/pec-ingest.service)."""

from __future__ import annotations

import argparse
from typing import Any

from pec_ingest.errors import NotMigrated


def add_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="avvia il servizio (controllo periodico delle caselle PEC)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pec_ingest.cli import EX_CONFIG
    from pec_ingest.service import run_service

    try:
        return run_service(args.config)
    except NotMigrated as exc:
        # the administrator must act: not a condition a restart can fix
        print(f"pec-ingest: {exc}")
        return EX_CONFIG
