"""The schema itself, on SQLite and PostgreSQL: migrations, agreement with the models, and the
constraints the database enforces on its own (proved with raw SQL, bypassing the store's code)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from setuptools import find_packages
from sqlalchemy import Column, Engine, Integer, MetaData, inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError

import parsers.envelope
import store
import store.engine
from store.base import MESSAGE_KINDS, Base
from store.errors import DatabaseUnavailable, NotMigrated, UnknownRevision
from store.migration import (
    MIGRATIONS_DIR,
    current_revision,
    ensure_current,
    head_revision,
    upgrade,
)
from tests.conftest import PgServer

TABLES = {"messages", "attachments", "organisations", "submissions", "submission_tavoli",
          "review_reasons", "acknowledgements", "receipts", "procedure_counters"}


def _diff(engine: Engine, metadata: MetaData) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_migrations_apply_from_empty(engine: Engine) -> None:
    assert current_revision(engine) is None
    assert upgrade(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert upgrade(engine) == head_revision()  # a second run is a no-op


def test_models_and_migrations_agree(migrated_engine: Engine) -> None:
    assert _diff(migrated_engine, Base.metadata) == []


def test_the_comparison_would_see_a_difference(migrated_engine: Engine) -> None:
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        copy = table.to_metadata(changed)
        if table.name == "messages":
            copy.append_column(Column("extra", Integer))
    diff = _diff(migrated_engine, changed)
    assert [d[0] for d in diff if isinstance(d, tuple)] == ["add_column"]


def test_ensure_current_refuses_an_empty_database(engine: Engine) -> None:
    with pytest.raises(NotMigrated, match="pec-ingest db upgrade"):
        ensure_current(engine)


def test_ensure_current_accepts_a_migrated_database(migrated_engine: Engine) -> None:
    assert ensure_current(migrated_engine) == head_revision()


def test_ensure_current_refuses_an_unknown_revision(migrated_engine: Engine) -> None:
    with migrated_engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffffffff'"))
    with pytest.raises(UnknownRevision, match="ffffffff"):
        ensure_current(migrated_engine)


def test_upgrade_by_url_creates_the_sqlite_folder(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "pec.db"
    assert upgrade(f"sqlite:///{path}") == head_revision()
    assert path.is_file()


def test_unreachable_database_is_reported_in_italian(tmp_path: Path) -> None:
    with pytest.raises(DatabaseUnavailable, match="non raggiungibile"):
        upgrade("postgresql://nobody@127.0.0.1:9/none?connect_timeout=2")
    with pytest.raises(DatabaseUnavailable, match="non supportato"):
        store.make_engine("mysql://x@localhost/db")


def test_migration_scripts_ship_with_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert any((MIGRATIONS_DIR / "versions").glob("0001_*.py"))
    found = find_packages(str(Path(store.__file__).parent.parent), include=["store*"])
    assert {"store.migrations", "store.migrations.versions"} <= set(found)


def test_message_kinds_match_the_envelope_parser() -> None:
    assert tuple(parsers.envelope.KINDS) == MESSAGE_KINDS


def test_sqlite_connections_are_configured(tmp_path: Path) -> None:
    engine = store.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert (connection.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 1000
    engine.dispose()


def test_bare_postgresql_url_means_psycopg2() -> None:
    engine = store.make_engine("postgresql://postgres@127.0.0.1/x")
    assert engine.dialect.driver == "psycopg2"


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pg_server: PgServer, pid: int) -> None:
    assert pg_server.admin is not None
    with pg_server.admin.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()


def test_postgresql_connection_killed_while_resting_in_the_pool_is_replaced(
        postgresql_url: str, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server (or an administrator) ends a connection that waits in the pool: after a
    rest longer than ``ping_after_idle`` the ping finds it dead and a new one is used, no
    error; a connection back sooner is used without a ping (one round trip saved per
    transaction), so a kill inside that window surfaces once as a disconnection, and the next
    transaction works on a new connection. The engine's clock is ours: no sleeping, and a
    slow machine cannot turn "sooner" into "later"."""
    now = [1000.0]
    monkeypatch.setattr(store.engine, "time", SimpleNamespace(monotonic=lambda: now[0]))
    engine = store.make_engine(postgresql_url, ping_after_idle=1.0)
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    try:
        first = _backend_pid(engine)
        assert _backend_pid(engine) == first and not pings  # back at once: no ping
        _terminate(pg_server, first)
        now[0] += 1.5
        second = _backend_pid(engine)
        assert second != first and len(pings) == 1
        _terminate(pg_server, second)  # no rest: not pinged, the statement finds it dead
        with pytest.raises(DBAPIError) as failed:
            _backend_pid(engine)
        assert failed.value.connection_invalidated and len(pings) == 1
        assert _backend_pid(engine) not in (first, second)
    finally:
        engine.dispose()


# --- constraints, with raw SQL -------------------------------------------------------------

def _insert_message(connection: object, n: int, **overrides: object) -> None:
    values: dict[str, object] = {
        "sha256": hashlib.sha256(str(n).encode()).hexdigest(), "size": 10,
        "archive_path": f"p/{n}", "source": "file", "kind": "posta-certificata",
        "outcome": "ignored", "identificativo": None, "mailbox": None, "folder": None,
        "uidvalidity": None, "uid": None}
    values.update(overrides)
    columns = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    connection.execute(  # type: ignore[attr-defined]
        text(f"INSERT INTO messages ({columns}) VALUES ({params})"), values)


def _refused(engine: Engine, *statements: tuple[str, dict[str, object]]) -> None:
    with pytest.raises(IntegrityError), engine.begin() as connection:
        for sql, params in statements:
            connection.execute(text(sql), params)


def test_schema_refuses_the_same_bytes_twice(migrated_engine: Engine) -> None:
    with migrated_engine.begin() as connection:
        _insert_message(connection, 1)
    with pytest.raises(IntegrityError), migrated_engine.begin() as connection:
        _insert_message(connection, 1, archive_path="other")


def test_schema_refuses_the_same_identificativo_twice(migrated_engine: Engine) -> None:
    with migrated_engine.begin() as connection:
        _insert_message(connection, 1, identificativo="opec.1@pec.it")
        _insert_message(connection, 2)  # any number of messages without one
        _insert_message(connection, 3)
    with pytest.raises(IntegrityError), migrated_engine.begin() as connection:
        _insert_message(connection, 4, identificativo="opec.1@pec.it")


def test_schema_refuses_the_same_imap_uid_twice(migrated_engine: Engine) -> None:
    where = {"mailbox": "protocollo", "folder": "INBOX", "uidvalidity": 7}
    with migrated_engine.begin() as connection:
        _insert_message(connection, 1, uid=1, **where)
        _insert_message(connection, 2, uid=2, **where)
        _insert_message(connection, 3, uid=1, **{**where, "uidvalidity": 8})
    with pytest.raises(IntegrityError), migrated_engine.begin() as connection:
        _insert_message(connection, 4, uid=1, **where)


def test_schema_refuses_unknown_vocabulary(migrated_engine: Engine) -> None:
    with pytest.raises(IntegrityError), migrated_engine.begin() as connection:
        _insert_message(connection, 1, kind="posta-normale")
    with pytest.raises(IntegrityError), migrated_engine.begin() as connection:
        _insert_message(connection, 2, outcome="lost")


def test_schema_refuses_an_organisation_without_identity(migrated_engine: Engine) -> None:
    _refused(migrated_engine, ("INSERT INTO organisations (denominazione) VALUES ('x')", {}))


def test_schema_enforces_foreign_keys(migrated_engine: Engine) -> None:
    _refused(migrated_engine, (
        "INSERT INTO attachments (message_id, path, size, sha256) VALUES (999, 'a', 1, 'x')", {}))


SUBMISSION_SQL = (
    "INSERT INTO submissions (organisation_id, message_id, version, procedure, "
    "registration_seq, registration_number, received_at, status, is_current) VALUES "
    "(1, :m, :v, 'P', :v, :n, :t, 'complete', :cur)")


def _org_and_messages(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO organisations (id, codice_fiscale) VALUES (1, 'C')"))
        for n in (1, 2, 3):
            _insert_message(connection, n)
            connection.execute(text("UPDATE messages SET id = :n WHERE archive_path = :p"),
                               {"n": n, "p": f"p/{n}"})


def _submission(version: int, current: bool) -> tuple[str, dict[str, object]]:
    return SUBMISSION_SQL, {"m": version, "v": version, "n": f"P-{version}",
                            "t": "2019-09-01 10:00:00", "cur": current}


def test_schema_allows_one_current_submission_per_organisation(migrated_engine: Engine) -> None:
    _org_and_messages(migrated_engine)
    with migrated_engine.begin() as connection:
        connection.execute(text(SUBMISSION_SQL), _submission(1, True)[1])
        connection.execute(text(SUBMISSION_SQL), _submission(2, False)[1])
    _refused(migrated_engine, _submission(3, True))


def test_schema_refuses_a_repeated_version_or_registration_number(
        migrated_engine: Engine) -> None:
    _org_and_messages(migrated_engine)
    with migrated_engine.begin() as connection:
        connection.execute(text(SUBMISSION_SQL), _submission(1, True)[1])
    sql, params = _submission(2, False)
    _refused(migrated_engine, (sql, {**params, "v": 1}))
    _refused(migrated_engine, (sql, {**params, "n": "P-1"}))
    _refused(migrated_engine, (sql, {**params, "m": 1}))  # one submission per message


def test_schema_refuses_unknown_tavolo(migrated_engine: Engine) -> None:
    _org_and_messages(migrated_engine)
    with migrated_engine.begin() as connection:
        connection.execute(text(SUBMISSION_SQL), _submission(1, True)[1])
        connection.execute(text(
            "INSERT INTO submission_tavoli (submission_id, code, rank) VALUES (1, 'famiglia', 1)"))
    _refused(migrated_engine, (
        "INSERT INTO submission_tavoli (submission_id, code) VALUES (1, 'sport')", {}))
    _refused(migrated_engine, (
        "INSERT INTO submission_tavoli (submission_id, code, rank) VALUES (1, 'poverta', 0)", {}))


def test_schema_wants_exactly_one_target_per_review_reason(migrated_engine: Engine) -> None:
    _org_and_messages(migrated_engine)
    sql = ("INSERT INTO review_reasons (submission_id, message_id, code, detail) "
           "VALUES (:s, :m, 'other', 'x')")
    with migrated_engine.begin() as connection:
        connection.execute(text(sql), {"s": None, "m": 1})
    _refused(migrated_engine, (sql, {"s": None, "m": None}))
