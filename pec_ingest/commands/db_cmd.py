"""``pec-ingest db upgrade`` / ``db status``: apply or show the schema migrations."""

from __future__ import annotations

import argparse
from typing import Any

from pec_ingest.config import load_config
from pec_ingest.database import open_database, safe_url
from pec_ingest.errors import DatabaseError
from store.engine import make_engine
from store.migration import current_revision, head_revision


def add_parser(sub: Any) -> None:
    p = sub.add_parser("db", help="schema del database (migrazioni)")
    dsub = p.add_subparsers(dest="db_command", metavar="AZIONE", required=True)
    up = dsub.add_parser("upgrade", help="applica le migrazioni mancanti")
    up.set_defaults(func=upgrade)
    st = dsub.add_parser("status", help="mostra la revisione attuale e quella attesa")
    st.set_defaults(func=status)


def upgrade(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    db = open_database(config, migrate=True)
    try:
        print(f"database aggiornato: {safe_url(config.database_url)} "
              f"(revisione {current_revision(db.engine)})")
    finally:
        db.close()
    return 0


def status(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    try:
        engine = make_engine(config.database_url)
        current = current_revision(engine)
    except Exception as exc:
        raise DatabaseError(f"database {safe_url(config.database_url)}: {exc}") from exc
    head = head_revision()
    print(f"database: {safe_url(config.database_url)}")
    print(f"revisione attuale: {current or '(vuoto)'}; attesa: {head}")
    if current != head:
        print("da aggiornare: eseguire `pec-ingest db upgrade`")
        return 1
    return 0
