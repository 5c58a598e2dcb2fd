"""Engines and sessions for the two supported databases.

* SQLite (the embedded default): the parent directory is created; every connection gets WAL
  journalling, ``foreign_keys=ON``, a busy timeout and ``synchronous=NORMAL`` (with WAL: every
  commit is atomic and survives a crash of the process; a power cut may lose the last commits
  but never corrupts the database, and the archive, fsync'd on its own, lets the next poll redo
  them). SQLAlchemy, not the
  ``sqlite3`` module, opens transactions, with ``BEGIN IMMEDIATE``: SAVEPOINTs then work, DDL is
  transactional, and a transaction that reads and then writes cannot fail half-way with "database
  is locked" because another writer slipped in between (writers queue on the busy timeout instead).
  Read-only lookups (:func:`reading`) open a plain deferred ``BEGIN`` instead: with WAL they
  read a snapshot without waiting for, or holding up, the writer.
* PostgreSQL (production) through psycopg2 (a bare ``postgresql://`` URL means psycopg2, as in
  SQLAlchemy 2.0; an explicit ``postgresql+DRIVER://`` is respected). A connection taken from
  the pool after resting there more than :data:`PING_AFTER_IDLE_S` is pinged first (a dead one
  is replaced: a server restarted between two polls costs a reconnection, not an error); one
  back within that time is used as it is, as a poll takes and returns connections many times a
  second (``pool_pre_ping`` would add a round trip to each). A server that dies inside that
  second makes the statement fail as a disconnection: SQLAlchemy drops the pool's connections,
  the poll stops with a logged error and the next one starts over on new connections.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from store.cleaning import replace_nul
from store.errors import DatabaseUnavailable

SQLITE_BUSY_TIMEOUT_MS = 30_000
PING_AFTER_IDLE_S = 1.0
_RETURNED = "pec_ingest_returned"  # in a pooled connection's info: when it was last given back
READ_ONLY = "pec_ingest_read_only"  # execution option of the engine behind :func:`reading`


def make_engine(url: str | URL, *, echo: bool = False,
                ping_after_idle: float = PING_AFTER_IDLE_S) -> Engine:
    """An engine for ``url`` (``sqlite:///PATH`` or ``postgresql://...``), set up as above
    (``ping_after_idle``: seconds, on PostgreSQL)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUnavailable(f"URL del database non valido: {exc}") from exc
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            return _sqlite_engine(parsed, echo)
        if backend == "postgresql":
            if parsed.drivername == "postgresql":  # SQLAlchemy 2.1 would pick psycopg 3
                parsed = parsed.set(drivername="postgresql+psycopg2")
            return _postgresql_engine(parsed, echo, ping_after_idle)
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseUnavailable(f"driver del database non installato: {exc}") from exc
    raise DatabaseUnavailable(f"database non supportato: {backend} (ammessi: sqlite, postgresql)")


def _sqlite_engine(url: URL, echo: bool) -> Engine:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        try:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"impossibile creare la cartella del database {database}: {exc}") from exc
    engine = create_engine(url, echo=echo)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _postgresql_engine(url: URL, echo: bool, ping_after_idle: float) -> Engine:
    engine = create_engine(url, echo=echo)
    dialect = engine.dialect

    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_RETURNED, 0.0) <= ping_after_idle:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            # whatever the ping met, this connection is not to be trusted: the pool closes it
            # and takes a new one (whose connect fails loudly if the server is really gone)
            raise DisconnectionError(f"connessione al database persa: {exc}") from exc

    event.listen(engine, "connect", returned)  # a new connection needs no ping
    event.listen(engine, "checkin", returned)
    event.listen(engine, "checkout", checkout)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see the module docstring).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _begin_immediate(connection: Connection) -> None:
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def single_writer(sessions: sessionmaker[Session]) -> bool:
    """Whether the database takes one write transaction at a time (SQLite): a second writer
    waits for the first (up to the busy timeout) rather than running beside it."""
    return bool(sessions.kw["bind"].dialect.name == "sqlite")


@contextmanager
def reading(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session for lookups only (never to be committed): on SQLite a deferred transaction
    that takes no write lock; on PostgreSQL no transaction block (autocommit: each statement
    sees what was committed when it began, as it would in a READ COMMITTED transaction, and the
    BEGIN and ROLLBACK round trips are saved)."""
    engine = sessions.kw["bind"]
    read_only = engine.__dict__.get(_READ_ONLY_BIND)  # made once per engine: a poll asks often
    if read_only is None:
        options: dict[str, Any] = {READ_ONLY: True}
        if engine.dialect.name == "postgresql":
            options["isolation_level"] = "AUTOCOMMIT"
        read_only = engine.__dict__[_READ_ONLY_BIND] = engine.execution_options(**options)
    with sessions(bind=read_only) as session:
        yield session


_READ_ONLY_BIND = "_pec_ingest_read_only"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``. Objects stay readable after commit (no expiry on commit);
    no NUL reaches either database (:mod:`store.cleaning`)."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    event.listen(factory, "before_flush", replace_nul)
    return factory
