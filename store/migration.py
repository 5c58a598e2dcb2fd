"""Alembic, driven from code: ``upgrade`` to head, and the start-up check ``ensure_current``.

The migration scripts live in the installed package (``store/migrations``), found from this
file's location, never from the current directory. ``env.py`` uses the connection handed to it
here; the ``alembic`` command line works too with ``-x url=...`` (see ``migrations/env.py``).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from store.engine import make_engine
from store.errors import DatabaseUnavailable, NotMigrated, StoreError, UnknownRevision

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """An Alembic configuration pointing at the package's migration scripts (no ini file)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(url_or_engine: str | Engine, revision: str = "head") -> str | None:
    """Apply the migrations up to ``revision``, in one transaction; returns the revision reached."""
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        return current_revision(engine)
    except OperationalError as exc:
        raise DatabaseUnavailable(f"database non raggiungibile: {exc.orig}") from exc
    except CommandError as exc:
        raise StoreError(f"migrazione non riuscita: {exc}") from exc
    finally:
        if engine is not url_or_engine:
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        raise DatabaseUnavailable(f"database non raggiungibile: {exc.orig}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"impossibile leggere la revisione del database: {exc}") from exc


def ensure_current(engine: Engine) -> str:
    """Raise :class:`NotMigrated` unless the database is at the code's head revision."""
    current = current_revision(engine)
    head = head_revision()
    if current == head and current is not None:
        return current
    if current is None:
        raise NotMigrated(current=None, head=head)
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current in known:
        raise NotMigrated(current=current, head=head)
    raise UnknownRevision(current, head)
