"""Alembic environment for the store.

Called by :func:`store.migration.upgrade` with a connection in ``config.attributes["connection"]``
(used as is, inside the caller's transaction). From the command line, give the database with
``-x url=...``::

    alembic -c /dev/null -x url=sqlite:///state/pec-ingest.db \\
        --name alembic upgrade head      # or use `pec-ingest db upgrade`

New revisions are written with autogenerate against a database at head, then reviewed by hand:
CHECK constraints and partial indexes must be checked, and ``render_as_batch`` keeps SQLite's
ALTER limitations in mind.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from store.base import Base
from store.engine import make_engine
from store.model import Message  # noqa: F401  (registers every table on Base.metadata)

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url")
    if not url:
        raise RuntimeError("indicare il database: alembic -x url=...")
    return url


def _configure(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True)


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as own:
            _configure(own)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
