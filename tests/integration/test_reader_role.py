"""The read-only role ``pec_ingest_reader`` on the real PostgreSQL cannot read the rows its
views hide: no function of its own in ``pg_temp`` (TEMPORARY revoked from PUBLIC), and the
views are ``security_barrier`` so such a function, were one allowed, sees only what the view
shows."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from pec_ingest.desk import corrections
from pec_ingest.desk.queue import find_submission
from store.model import Submission
from tests.integration.desk_support import Desk, desk_fixture  # noqa: F401

READER = "pec_ingest_reader"
VIEWS = ("v_aderenti", "v_aderenti_per_tavolo", "v_da_verificare", "v_ricevute")
LEAK = """CREATE FUNCTION pg_temp.leak(value text) RETURNS boolean LANGUAGE plpgsql
COST 0.0000001 AS $$ BEGIN INSERT INTO pg_temp.seen VALUES (value); RETURN true; END $$"""


@pytest.fixture
def hidden(desk: Desk, backend: str) -> str:
    """The name of an organisation whose only submission staff rejected (v_aderenti hides it)."""
    if backend != "postgresql":
        pytest.skip("i ruoli esistono solo su PostgreSQL")
    with desk.sessions() as s, s.begin():
        sub = find_submission(s, desk.number("g-other-sender"))
        corrections.decide(s, sub, "reject", actor="anna", note="prova")
        name = s.get(Submission, sub.id).denominazione  # type: ignore[union-attr]
    assert name
    return name


def test_the_reader_cannot_create_functions_in_pg_temp(desk: Desk, hidden: str) -> None:
    with desk.engine.connect() as connection:
        connection.execute(text(f"SET ROLE {READER}"))
        with pytest.raises(DBAPIError, match="permission denied"):
            connection.execute(text(LEAK))


def test_the_views_are_security_barriers(desk: Desk, hidden: str) -> None:
    with desk.engine.connect() as connection:
        options = dict(connection.execute(text(
            "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(:v)"),
            {"v": list(VIEWS)}).all())
    assert {name: "security_barrier=true" in (opts or []) for name, opts in options.items()} \
        == dict.fromkeys(VIEWS, True)


def test_a_leaky_function_sees_only_what_the_view_shows(desk: Desk, hidden: str) -> None:
    """Even if an administrator gives TEMPORARY back, the barrier holds."""
    with desk.engine.connect() as connection:
        database = connection.execute(text("SELECT current_database()")).scalar_one()
        connection.execute(text(f'GRANT TEMPORARY ON DATABASE "{database}" TO {READER}'))
        connection.execute(text(f"SET ROLE {READER}"))
        connection.execute(text("CREATE TEMPORARY TABLE seen (value text)"))
        connection.execute(text(LEAK))
        shown = connection.execute(text(
            "SELECT denominazione FROM v_aderenti WHERE pg_temp.leak(denominazione)")).all()
        leaked = set(connection.execute(text("SELECT value FROM pg_temp.seen")).scalars())
        connection.rollback()
    assert shown and hidden not in {r[0] for r in shown}
    assert hidden not in leaked and leaked == {r[0] for r in shown}
