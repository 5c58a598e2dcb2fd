"""Open the configured database for a command or the daemon, translating store errors."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.config import Config
from pec_ingest.errors import ConfigError, DatabaseError, NotMigrated
from store import errors as store_errors
from store.engine import make_engine, session_factory
from store.migration import ensure_current, upgrade


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]

    def close(self) -> None:
        self.engine.dispose()


def open_database(config: Config, *, migrate: bool = False) -> Database:
    """The configured database, checked to be at the code's schema revision.

    ``migrate=True`` applies pending migrations first (``db upgrade`` and the demo); otherwise an
    unmigrated database is refused with the command that fixes it.
    """
    check_url(config.database_url)
    try:
        engine = make_engine(config.database_url)
        if migrate:
            upgrade(engine)
        ensure_current(engine)
    except store_errors.NotMigrated as exc:
        raise NotMigrated(f"{exc} (database: {safe_url(config.database_url)})") from exc
    except store_errors.StoreError as exc:
        raise DatabaseError(f"database {safe_url(config.database_url)}: {exc}") from exc
    except Exception as exc:  # driver errors: unreachable server, bad credentials
        if type(exc).__module__.startswith(("sqlalchemy", "psycopg2", "sqlite3")):
            raise DatabaseError(f"database {safe_url(config.database_url)} non raggiungibile: "
                                f"{str(exc).splitlines()[0]}") from exc
        raise
    return Database(engine, session_factory(engine))


def check_url(url: str) -> None:
    """A database URL that cannot work is a configuration error (exit 78), not a failure."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    hint = ("esempi: sqlite:////var/lib/pec-ingest/pec-ingest.db, "
            "postgresql+psycopg2://utente@host/database")
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise ConfigError(f"database.url (o $PEC_INGEST_DATABASE_URL): URL non valido; {hint}") \
            from None
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"database.url (o $PEC_INGEST_DATABASE_URL): database {backend!r} non "
                          f"supportato (sqlite o postgresql); {hint}")


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<URL non valido>"
