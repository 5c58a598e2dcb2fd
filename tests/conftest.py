"""Fixtures for the whole suite: databases (SQLite and a real PostgreSQL), migrated engines,
sessions, and the raw-message archive.

``database_url`` is parametrized over ``sqlite`` (a file in ``tmp_path``) and ``postgresql``
(a database created for the test on the server at ``$PEC_INGEST_TEST_PG_ADMIN_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``, and dropped afterwards). When PostgreSQL
cannot be reached the ``postgresql`` tests are skipped with the reason, except under
``CI=true``, where they fail: CI must prove both backends.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from parsers.limits import DEFAULT_LIMITS
from parsers.vocabulary import DEFAULT_VOCABULARY
from pec_ingest.config import Config, StateSection
from pec_ingest.isolation import ParserPool
from pec_ingest.pipeline import Pipeline
from pec_ingest.samples.mailbox import SampleMessage, sample_mailbox
from store.archive import Archive
from store.engine import make_engine, session_factory
from store.migration import upgrade
from tests.smtp_server import SmtpServer

PG_ADMIN_URL = os.environ.get(
    "PEC_INGEST_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql")]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL richiesto in CI: {reason}")
    pytest.skip(f"PostgreSQL non disponibile: {reason}")


@dataclass
class PgServer:
    """The PostgreSQL server of the tests: an AUTOCOMMIT admin engine, or why there is none."""

    admin: Engine | None
    reason: str = ""


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """Checked once per run; CREATE/DROP DATABASE go through its admin engine."""
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT",
                           connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (OperationalError, ImportError) as exc:
        engine.dispose()
        yield PgServer(None, f"{PG_ADMIN_URL}: {str(exc).splitlines()[0]}")
        return
    yield PgServer(engine)
    engine.dispose()


@pytest.fixture
def postgresql_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped (forcibly) afterwards."""
    if pg_server.admin is None:
        _unavailable(pg_server.reason)
        raise AssertionError("unreachable")
    name = f"pec_ingest_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    with pg_server.admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with pg_server.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each backend: ``sqlite`` (file in tmp_path) and ``postgresql``."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'pec-ingest.db'}"
    url: str = request.getfixturevalue("postgresql_url")
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the (unmigrated) test database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def migrated_engine(engine: Engine) -> Engine:
    """The test database, migrated to head."""
    upgrade(engine)
    return engine


@pytest.fixture
def sessions(migrated_engine: Engine) -> sessionmaker[Session]:
    """The session factory of the migrated test database."""
    return session_factory(migrated_engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session on the migrated test database; rolled back and closed at the end."""
    with sessions() as session:
        yield session
        session.rollback()


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    """An empty raw-message archive in tmp_path."""
    return Archive(tmp_path / "archive")


@pytest.fixture
def backend(database_url: str) -> str:
    """``sqlite`` or ``postgresql``, for the few tests whose assertions depend on it."""
    return make_url(database_url).get_backend_name()


# Pipeline fixtures: a configuration in tmp_path, a shared parser pool, a pipeline.


@pytest.fixture(scope="session")
def parser_pool() -> Iterator[ParserPool]:
    """Real parser children, shared by the session (their start-up is the slow part)."""
    with ParserPool(DEFAULT_VOCABULARY, DEFAULT_LIMITS, timeout=60, memory_mb=768) as pool:
        yield pool


@pytest.fixture(scope="session")
def mailbox() -> list[SampleMessage]:
    return sample_mailbox()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return dataclasses.replace(Config(), state=StateSection(dir=tmp_path / "state"))


@pytest.fixture
def pipeline(config: Config, sessions: sessionmaker[Session],
             parser_pool: ParserPool) -> Pipeline:
    return Pipeline(config, sessions, parse=parser_pool.parse_many)


# Acknowledgement fixtures: a real SMTP server with TLS from a test CA (tests/smtp_server.py).


@pytest.fixture(scope="session")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1: implicit TLS (``.tls``) and STARTTLS (``.starttls``) ports."""
    server = SmtpServer(tmp_path_factory.mktemp("smtp"))
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> SmtpServer:
    """The shared SMTP server, emptied, answering normally."""
    handler = smtp_server.handler
    handler.received.clear()
    handler.answers.clear()
    handler.refused.clear()
    handler.logins.clear()
    return smtp_server


# IMAP fixtures: a private Dovecot on 127.0.0.1 (tests/dovecot.py), one user per test.

import shutil  # noqa: E402
import tempfile  # noqa: E402

from tests.dovecot import DovecotServer, dovecot_binary  # noqa: E402


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[DovecotServer]:
    """Started once per run; skipped without Dovecot (failed under CI=true). Its folder is
    outside pytest's (0700, re-tightened by concurrent runs): Dovecot's auth must traverse it."""
    if dovecot_binary() is None:
        reason = "Dovecot non installato (apt-get install dovecot-imapd)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Dovecot richiesto in CI: {reason}")
        pytest.skip(reason)
    directory = Path(tempfile.mkdtemp(prefix="pec-ingest-dovecot-"))
    server = DovecotServer.create(directory / "server")
    server.start()
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def dovecot(dovecot_server: DovecotServer) -> DovecotServer:
    """The shared Dovecot, running (a test may have killed it)."""
    if dovecot_server.master_pid() is None:
        dovecot_server.start()
    return dovecot_server


@pytest.fixture
def imap_user(dovecot: DovecotServer) -> str:
    """A fresh mail user with an empty mailbox, for one test."""
    name = f"u{uuid.uuid4().hex[:10]}"
    dovecot.add_user(name)
    return name
