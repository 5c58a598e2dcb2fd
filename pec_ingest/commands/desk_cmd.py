"""``pec-ingest desk``: the staff's web desk, and its accounts.

::

    pec-ingest desk [--host H] [--port P] [--insecure-cookie]  serve the desk ([desk])
    pec-ingest desk user add NAME --role ROLE [--sso-only]  new account; the password is read
                                                            from standard input when it is not
                                                            a terminal (scripts), else asked
    pec-ingest desk user list
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import sys
from typing import Any

from pec_ingest.config import load_config
from pec_ingest.database import open_database
from pec_ingest.desk.errors import DeskError
from store.accounts import ROLES, list_users


def add_parser(sub: Any) -> None:
    p = sub.add_parser("desk", help="scrivania web del personale (e suoi utenti)")
    p.add_argument("--host", help="indirizzo di ascolto (default: [desk] host)")
    p.add_argument("--port", type=int, help="porta (default: [desk] port)")
    p.add_argument("--insecure-cookie", action="store_true",
                   help="cookie di sessione anche su HTTP semplice (solo per provare in "
                        "locale, mai dietro il proxy)")
    p.set_defaults(func=run_serve)
    actions = p.add_subparsers(dest="desk_action", metavar="AZIONE")
    user = actions.add_parser("user", help="utenti della scrivania")
    user_actions = user.add_subparsers(dest="user_action", metavar="AZIONE", required=True)
    add = user_actions.add_parser("add", help="nuovo utente (password da stdin se non è un "
                                              "terminale)")
    add.add_argument("name", metavar="NOME")
    add.add_argument("--role", choices=ROLES, required=True,
                     help="lettore (legge), operatore (corregge), responsabile (decide, "
                          "invia ricevute)")
    add.add_argument("--sso-only", action="store_true",
                     help="senza password: accede solo tramite l'intestazione del proxy")
    add.set_defaults(func=run_user_add)
    listing = user_actions.add_parser("list", help="elenco degli utenti")
    listing.set_defaults(func=run_user_list)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from pec_ingest.web.app import create_app

    config = load_config(args.config)
    if args.insecure_cookie:
        config = dataclasses.replace(config, desk=dataclasses.replace(config.desk,
                                                                      secure_cookie=False))
    db = open_database(config)
    app = create_app(config, db.sessions)
    host, port = args.host or config.desk.host, args.port or config.desk.port
    print(f"Scrivania: http://{host}:{port}/ (Ctrl+C per fermare)", file=sys.stderr)
    try:
        # The app reads X-Forwarded-For itself, only from trusted_proxies (web.guard).
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
    finally:
        db.close()
    return 0


def read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Ripetere la password: ") != first:
            raise DeskError("le due password non coincidono")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def run_user_add(args: argparse.Namespace) -> int:
    from pec_ingest.web.accounts import add_user

    config = load_config(args.config)
    password = None if args.sso_only else read_password()
    db = open_database(config)
    try:
        with db.sessions() as session, session.begin():
            add_user(session, args.name, args.role, password)
    finally:
        db.close()
    print(f"utente {args.name} creato, ruolo {args.role}")
    return 0


def run_user_list(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    db = open_database(config)
    try:
        with db.sessions() as session:
            for u in list_users(session):
                state = "attivo" if u.active else "disattivato"
                login = "password" if u.password_hash else "solo SSO"
                print(f"{u.name:<24} {u.role:<13} {login:<9} {state}")
    finally:
        db.close()
    return 0
