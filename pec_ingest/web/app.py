"""The Starlette application of the web desk: routes, login and logout.

Paths are Italian (staff read them in the address bar); every page but the login needs a
logged-in staff member (:mod:`pec_ingest.web.guard`).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pec_ingest.config import Config
from pec_ingest.web import actions, documents, pages
from pec_ingest.web.accounts import LoginGuard, authenticate, close_session, open_session
from pec_ingest.web.errors import LoginRefused
from pec_ingest.web.guard import (
    COOKIE,
    SECURITY_HEADERS,
    Ctx,
    Desk,
    client_address,
    endpoint,
    render,
    set_cookie,
)
from pec_ingest.web.present import filters
from store.accounts import drop_expired_sessions
from store.base import utcnow

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).with_name("templates")
LOGIN_COOKIE = "pec_desk_login"


def create_app(config: Config, sessions: sessionmaker[Session]) -> Starlette:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(
        ["html", "j2"], default_for_string=True, default=True))
    env.filters.update(filters(config.zone))
    desk = Desk(config, sessions, env,
                LoginGuard(config.desk.login_attempts, config.desk.login_window_minutes))
    routes = [
        Route("/accesso", login_page, methods=["GET"]),
        Route("/accesso", login, methods=["POST"]),
        Route("/uscita", endpoint("lettore", logout), methods=["POST"]),
        Route("/stile.css", stylesheet, methods=["GET"]),
        Route("/", endpoint("lettore", pages.dashboard)),
        Route("/grafico.svg", endpoint("lettore", pages.chart)),
        Route("/coda", endpoint("lettore", pages.queue)),
        Route("/domande/{sub_id:int}", endpoint("lettore", pages.submission)),
        Route("/domande/{sub_id:int}/documento", endpoint("lettore", documents.form_document)),
        Route("/domande/{sub_id:int}/campo", endpoint("operatore", actions.set_field),
              methods=["POST"]),
        Route("/domande/{sub_id:int}/tavoli", endpoint("operatore", actions.set_tavoli),
              methods=["POST"]),
        Route("/domande/{sub_id:int}/rilettura", endpoint("operatore", actions.reprocess),
              methods=["POST"]),
        Route("/domande/{sub_id:int}/decisione", endpoint("responsabile", actions.decide),
              methods=["POST"]),
        Route("/domande/{sub_id:int}/ricevuta", endpoint("responsabile", actions.send_ack),
              methods=["POST"]),
        Route("/messaggi", endpoint("lettore", pages.messages)),
        Route("/messaggi/{msg_id:int}", endpoint("lettore", pages.message)),
        Route("/messaggi/{msg_id:int}/allegati/{index:int}",
              endpoint("lettore", documents.message_attachment)),
        Route("/messaggi/{msg_id:int}/decisione",
              endpoint("responsabile", actions.decide_message), methods=["POST"]),
        Route("/messaggi/{msg_id:int}/domanda",
              endpoint("responsabile", actions.promote_message), methods=["POST"]),
        Route("/aderenti", endpoint("lettore", pages.adherents)),
        Route("/aderenti.xlsx", endpoint("lettore", pages.adherents_xlsx)),
        Route("/aderenti.csv", endpoint("lettore", pages.adherents_csv)),
        Route("/ricevute", endpoint("lettore", pages.acknowledgements)),
        Route("/ricevute/{ack_id:int}/reinvio", endpoint("responsabile", actions.resend_ack),
              methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.desk = desk
    return app


async def stylesheet(request: Request) -> Response:
    css = (TEMPLATES / "desk.css").read_text(encoding="utf-8")
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


async def login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    desk: Desk = request.app.state.desk
    nonce = secrets.token_urlsafe(24)
    response = render(desk, "login.html.j2", status, visitor=None, error=error, csrf=nonce)
    response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict", path="/accesso",
                        secure=desk.config.desk.secure_cookie)
    return response


async def login(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    form = await request.form()
    name, password = str(form.get("nome", "")), str(form.get("password", ""))
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(str(form.get("csrf", "")), expected):
        return await login_page(request, "Modulo scaduto: riprovare.", 403)
    address = client_address(desk, request)
    try:
        token = await run_in_threadpool(_login, desk, address, name, password)
    except LoginRefused as exc:
        log.warning("desk: login refused for %r from %s: %s", name[:100], address, exc)
        return await login_page(request, str(exc), 401)
    log.info("desk: %s logged in from %s", name, address)
    response = RedirectResponse("/", status_code=303, headers=SECURITY_HEADERS)
    set_cookie(desk, response, token)
    return response


def _login(desk: Desk, address: str, name: str, password: str) -> str:
    with desk.sessions() as session, session.begin():
        user = authenticate(session, desk.logins, address, name, password)
        drop_expired_sessions(session, utcnow())
        return open_session(session, user, desk.config.desk.session_minutes)


def logout(ctx: Ctx) -> Response:
    close_session(ctx.session, ctx.request.cookies.get(COOKIE))
    log.info("desk: %s logged out", ctx.visitor.name)
    response = RedirectResponse("/accesso", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(COOKIE, path="/")
    return response
