"""Every endpoint of the desk goes through :func:`endpoint`: who is asking (session cookie,
or the reverse proxy's single sign-on header), whether the role allows it, the CSRF token of
a form, and one database session per request (committed when the handler returns).

An anonymous visitor is sent to the login page; a role that does not allow the action, or a
form without the right CSRF token, gets 403 and nothing changes.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pec_ingest.config import Config
from pec_ingest.errors import NotFound
from pec_ingest.web.accounts import LoginGuard, Visitor, open_session, visitor_of
from pec_ingest.web.errors import Forbidden
from store.accounts import find_user

log = logging.getLogger(__name__)
COOKIE = "pec_desk"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors "
                               "'self'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass
class Desk:
    """What the application holds for its whole life."""

    config: Config
    sessions: sessionmaker[Session]
    templates: Environment
    logins: LoginGuard


@dataclass
class Ctx:
    """One request as the handlers see it."""

    desk: Desk
    request: Request
    session: Session
    visitor: Visitor
    form: dict[str, str] = field(default_factory=dict)
    new_token: str | None = None

    @property
    def config(self) -> Config:
        return self.desk.config

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return render(self.desk, template, status, visitor=self.visitor, **values)

    def require(self, role: str) -> None:
        if not self.visitor.may(role):
            raise Forbidden(f"azione riservata al ruolo «{role}» (il tuo ruolo: "
                            f"{self.visitor.role})")


Handler = Callable[[Ctx], Response]


def render(desk: Desk, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = desk.templates.get_template(template).render(config=desk.config, **values)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def endpoint(role: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint running ``handler`` for a visitor of at least ``role``."""
    async def run(request: Request) -> Response:
        form = await request.form() if request.method == "POST" else None
        desk: Desk = request.app.state.desk
        return await run_in_threadpool(_guarded, desk, request, form, role, handler)
    return run


def _guarded(desk: Desk, request: Request, form: FormData | None, role: str,
             handler: Handler) -> Response:
    with desk.sessions() as session:
        visitor, token = _visitor(desk, session, request)
        if visitor is None:
            session.rollback()
            if request.method == "GET":
                return RedirectResponse("/accesso", status_code=303, headers=SECURITY_HEADERS)
            return render(desk, "error.html.j2", 401, visitor=None,
                          message="Accesso richiesto: la sessione è scaduta o non è valida.")
        fields = {k: v for k, v in (form or {}).items() if isinstance(v, str)}
        ctx = Ctx(desk, request, session, visitor, fields, token)
        try:
            if form is not None and not hmac.compare_digest(
                    fields.get("csrf", ""), visitor.csrf):
                raise Forbidden("modulo non valido o scaduto (token di sicurezza mancante): "
                                "ricaricare la pagina e riprovare")
            ctx.require(role)
            response = handler(ctx)
            session.commit()
        except NotFound as exc:
            session.rollback()
            response = ctx.render("error.html.j2", 404, message=str(exc))
        except Forbidden as exc:
            session.rollback()
            log.warning("desk: refused %s %s for %s: %s", request.method, request.url.path,
                        visitor.name, exc)
            response = ctx.render("error.html.j2", 403, message=str(exc))
    if token is not None:
        set_cookie(desk, response, token)
    return response


def _visitor(desk: Desk, session: Session, request: Request
             ) -> tuple[Visitor | None, str | None]:
    """The visitor and, when single sign-on just opened a session, its new cookie token."""
    found = visitor_of(session, request.cookies.get(COOKIE))
    if found is not None:
        return found, None
    header = desk.config.desk.trusted_header
    if not header or not from_proxy(desk, request):
        return None, None
    name = request.headers.get(header, "").strip()
    user = find_user(session, name) if name else None
    if user is None or not user.active:
        return None, None
    token = open_session(session, user, desk.config.desk.session_minutes)
    session.commit()
    log.info("desk: %s logged in through the reverse proxy", user.name)
    return visitor_of(session, token), token


def from_proxy(desk: Desk, request: Request) -> bool:
    """Whether the peer is the trusted reverse proxy (the immediate peer, not a header)."""
    return (request.client.host if request.client else "") in desk.config.desk.trusted_proxies


def client_address(desk: Desk, request: Request) -> str:
    """The browser's address: the last X-Forwarded-For hop when the peer is the proxy."""
    peer = request.client.host if request.client else "?"
    forwarded = request.headers.get("x-forwarded-for", "")
    if forwarded and from_proxy(desk, request):
        return forwarded.split(",")[-1].strip()[:64] or peer
    return peer


def set_cookie(desk: Desk, response: Response, token: str) -> None:
    response.set_cookie(COOKIE, token, max_age=desk.config.desk.session_minutes * 60,
                        httponly=True, samesite="strict", path="/",
                        secure=desk.config.desk.secure_cookie)
