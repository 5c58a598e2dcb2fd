"""The SQL views for people who query the database directly, and on PostgreSQL the read-only
role that reads the views and nothing else."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.exc import DBAPIError

from pec_ingest.desk import corrections
from pec_ingest.desk.queue import find_submission
from store.migration import alembic_config, head_revision, upgrade
from store.model import Acknowledgement, ReviewReason, Submission, SubmissionTavolo
from tests.integration.desk_support import Desk, desk_fixture  # noqa: F401

READER = "pec_ingest_reader"
VIEWS = ("v_aderenti", "v_aderenti_per_tavolo", "v_da_verificare", "v_ricevute")
PRIVATE = ("messages", "attachments", "audit_log", "submission_corrections", "submissions")


def _rows(desk: Desk, sql: str) -> list[dict[str, object]]:
    with desk.engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(text(sql))]


def test_current_adherents_one_row_per_organisation_without_rejected(desk: Desk) -> None:
    rejected = desk.number("g-other-sender")
    with desk.sessions() as s, s.begin():
        corrections.decide(s, find_submission(s, rejected), "reject", actor="anna",
                           note="prova")
    rows = {r["registration_number"]: r for r in _rows(desk, "SELECT * FROM v_aderenti")}
    with desk.sessions() as s:
        current = s.scalars(select(Submission).where(Submission.is_current.is_(True))).all()
        expected = {c.registration_number: c for c in current if c.review_state != "rejected"}
        assert set(rows) == set(expected) and rejected not in rows
        for number, sub in expected.items():
            row = rows[number]
            assert row["denominazione"] == sub.denominazione
            assert row["tavoli"] == (";".join(sub.tavolo_codes) or None)
            for code in ("famiglia", "poverta", "autonomie"):
                assert bool(row[f"tavolo_{code}"]) == (code in sub.tavolo_codes)
            assert row["sender"] == sub.message.sender


def test_adherents_per_table_and_review_queue_views(desk: Desk) -> None:
    per_table = _rows(desk, "SELECT tavolo, tavolo_nome, registration_number "
                            "FROM v_aderenti_per_tavolo")
    queue = _rows(desk, "SELECT reason_id, code, motivo, registration_number "
                        "FROM v_da_verificare")
    with desk.sessions() as s:
        links = s.execute(select(SubmissionTavolo.code, Submission.registration_number).join(
            Submission).where(Submission.is_current.is_(True))).all()
        open_ids = set(s.scalars(select(ReviewReason.id).where(
            ReviewReason.resolved_at.is_(None))))
        acks = s.scalar(select(func.count()).select_from(Acknowledgement))
    assert sorted((r["tavolo"], r["registration_number"]) for r in per_table) == sorted(
        (c, n) for c, n in links)
    assert {r["tavolo_nome"] for r in per_table if r["tavolo"] == "poverta"} == {
        "Area Contrasto alla povertà"}
    assert {r["reason_id"] for r in queue} == open_ids and open_ids
    mismatch = next(r for r in queue if r["code"] == "pec_mismatch")
    assert mismatch["motivo"] == "PEC dichiarata diversa dal mittente certificato"
    assert mismatch["registration_number"] == desk.number("g-other-sender")
    assert len(_rows(desk, "SELECT * FROM v_ricevute")) == acks


def test_the_reader_role_reads_the_views_and_nothing_else(desk: Desk, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("i ruoli esistono solo su PostgreSQL")
    with desk.engine.connect() as connection:
        connection.execute(text(f"SET ROLE {READER}"))
        for view in VIEWS:
            connection.execute(text(f"SELECT count(*) FROM {view}")).scalar_one()
        assert connection.execute(text("SELECT count(*) FROM v_aderenti")).scalar_one() > 0
        connection.rollback()
        for table in PRIVATE:
            connection.execute(text(f"SET ROLE {READER}"))
            with pytest.raises(DBAPIError, match="permission denied"):
                connection.execute(text(f"SELECT * FROM {table}"))
            connection.rollback()


def test_the_role_is_a_group_role_without_login(desk: Desk, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("i ruoli esistono solo su PostgreSQL")
    rows = _rows(desk, f"SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = '{READER}'")
    assert rows == [{"rolcanlogin": False, "rolsuper": False}]
    grants = _rows(desk, "SELECT table_name, privilege_type FROM "
                         "information_schema.role_table_grants WHERE grantee = "
                         f"'{READER}' ORDER BY table_name")
    assert {(g["table_name"], g["privilege_type"]) for g in grants} == {
        (v, "SELECT") for v in VIEWS}


def test_the_desk_migration_goes_down_and_up_again(migrated_engine: Engine,
                                                    backend: str) -> None:
    from alembic import command

    config = alembic_config()
    with migrated_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    names = inspect(migrated_engine)
    assert not {"audit_log", "submission_corrections"} & set(names.get_table_names())
    assert not set(VIEWS) & set(names.get_view_names())
    assert upgrade(migrated_engine) == head_revision()
    assert set(VIEWS) <= set(inspect(migrated_engine).get_view_names())
    if backend == "postgresql":  # the role outlives the downgrade; grants are made again
        with migrated_engine.connect() as connection:
            connection.execute(text(f"SET ROLE {READER}"))
            assert connection.execute(text("SELECT count(*) FROM v_aderenti")).scalar() == 0
