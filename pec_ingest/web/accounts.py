"""Staff accounts of the web desk: argon2 password hashes, roles, login with a rate limit,
sessions that expire.

Roles grow: ``lettore`` reads, ``operatore`` also corrects and re-reads, ``responsabile``
also accepts or rejects and sends acknowledgements.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from pec_ingest.desk.errors import DeskError
from pec_ingest.web.errors import LoginRefused
from store.accounts import ROLES, DeskSession, DeskUser, find_session, find_user
from store.base import utcnow

RANK = {role: n for n, role in enumerate(ROLES)}
ROLE_NAMES = {"lettore": "lettura", "operatore": "revisione e correzioni",
              "responsabile": "decisioni e ricevute"}
_HASHER = PasswordHasher()
MIN_PASSWORD = 10


@dataclass(frozen=True)
class Visitor:
    """Who is making the request (a plain value, usable after the database session)."""

    name: str
    role: str
    csrf: str

    def may(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


def add_user(session: Session, name: str, role: str, password: str | None) -> DeskUser:
    """A new account; ``password`` None means single sign-on only."""
    name = name.strip()
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        raise DeskError("nome utente non valido: senza spazi, al massimo 100 caratteri")
    if role not in ROLES:
        raise DeskError(f"ruolo sconosciuto {role!r} (ammessi: {', '.join(ROLES)})")
    if find_user(session, name) is not None:
        raise DeskError(f"l'utente {name} esiste già")
    if password is not None and len(password) < MIN_PASSWORD:
        raise DeskError(f"password troppo corta: almeno {MIN_PASSWORD} caratteri")
    user = DeskUser(name=name, role=role, active=True,
                    password_hash=_HASHER.hash(password) if password is not None else None)
    session.add(user)
    session.flush()
    return user


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(session: Session, user: DeskUser, minutes: int) -> str:
    """A new browser session for ``user``; returns the cookie token (only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(DeskSession(token_sha256=token_digest(token), user_id=user.id,
                            csrf_token=secrets.token_urlsafe(32), created_at=now,
                            expires_at=now + timedelta(minutes=minutes)))
    session.flush()
    return token


def visitor_of(session: Session, token: str | None) -> Visitor | None:
    """The logged-in staff member of this cookie token, if the session is alive."""
    if not token:
        return None
    found = find_session(session, token_digest(token), utcnow())
    if found is None:
        return None
    return Visitor(found.user.name, found.user.role, found.csrf_token)


def close_session(session: Session, token: str | None) -> None:
    if token:
        found = session.get(DeskSession, token_digest(token))
        if found is not None:
            session.delete(found)
            session.flush()


class LoginGuard:
    """Counts failed logins per (address, name) and per address; refuses past the limit."""

    def __init__(self, attempts: int, window_minutes: int) -> None:
        self.attempts, self.window = attempts, window_minutes * 60.0
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def check(self, address: str, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            per_name = len(self._recent((address, name.casefold()), now))
            per_address = len(self._recent((address, "*"), now))
        if per_name >= self.attempts or per_address >= self.attempts * 4:
            raise LoginRefused("troppi tentativi di accesso non riusciti: riprovare fra "
                               f"{int(self.window // 60)} minuti")

    def failed(self, address: str, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._failures[(address, name.casefold())].append(now)
            self._failures[(address, "*")].append(now)


def authenticate(session: Session, guard: LoginGuard, address: str, name: str,
                 password: str) -> DeskUser:
    """The account for a right name and password; :class:`LoginRefused` otherwise."""
    guard.check(address, name)
    user = find_user(session, name.strip())
    ok = False
    if user is not None and user.active and user.password_hash:
        try:
            ok = _HASHER.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        _HASHER.hash(password)  # same time whether the name exists or not
    if not ok or user is None:
        guard.failed(address, name)
        raise LoginRefused("nome utente o password non corretti")
    return user
