"""The web desk's accounts and sessions.

* ``desk_users``: one row per staff member who may log in to the web desk, with a role
  (``lettore`` reads, ``operatore`` corrects, ``responsabile`` decides and sends) and the
  argon2 hash of the password (``NULL`` for an account that only logs in through the reverse
  proxy's single sign-on header).
* ``desk_sessions``: a logged-in browser. The cookie carries a random token; only its SHA-256 is
  stored, with the CSRF token of the session and when it expires.

Query functions take a Session, flush, and never commit. Hashing belongs to the caller.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, delete, select, true
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from store.base import Base, UTCDateTime, in_list, utcnow

ROLES = ("lettore", "operatore", "responsabile")


class DeskUser(Base):
    """A staff account of the web desk."""

    __tablename__ = "desk_users"
    __table_args__ = (CheckConstraint(in_list("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeskSession(Base):
    """A logged-in browser: the token's SHA-256, the CSRF token, the expiry."""

    __tablename__ = "desk_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("desk_users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[DeskUser] = relationship()


def find_user(session: Session, name: str) -> DeskUser | None:
    return session.scalars(select(DeskUser).where(DeskUser.name == name)).one_or_none()


def list_users(session: Session) -> list[DeskUser]:
    return list(session.scalars(select(DeskUser).order_by(DeskUser.name)).all())


def find_session(session: Session, token_sha256: str, now: datetime) -> DeskSession | None:
    """The live session of this token (active user, not expired), or None."""
    return session.scalars(select(DeskSession).join(DeskSession.user).where(
        DeskSession.token_sha256 == token_sha256, DeskSession.expires_at > now,
        DeskUser.active.is_(True))).one_or_none()


def drop_expired_sessions(session: Session, now: datetime) -> int:
    result = session.execute(delete(DeskSession).where(DeskSession.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
