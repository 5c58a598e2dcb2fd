"""The web desk over HTTP (Starlette's test client on the real app, SQLite and PostgreSQL):
who may see and do what, CSRF, the archive behind ids only, values shown as text."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from pec_ingest.desk.queue import find_submission
from store.audit import AuditEntry
from store.model import Message
from tests.integration.desk_support import Desk, desk_fixture, keep_logging  # noqa: F401
from tests.integration.web_support import csrf_of, login, web_fixture  # noqa: F401

VALID_CF = "80015010152"


def _pages(desk: Desk) -> list[str]:
    with desk.sessions() as s:
        sub = find_submission(s, desk.number("b-pdf"))
        msg_id = s.scalars(select(Message.id).where(Message.outcome == "ignored")).first()
        return ["/", "/grafico.svg", "/coda", f"/domande/{sub.id}",
                f"/domande/{sub.id}/documento", "/messaggi", f"/messaggi/{msg_id}",
                f"/messaggi/{msg_id}/allegati/1", "/aderenti", "/aderenti.xlsx",
                "/aderenti.csv", "/ricevute"]


def _posts(desk: Desk) -> list[tuple[str, dict[str, str]]]:
    with desk.sessions() as s:
        sub_id = find_submission(s, desk.number("d-scan")).id
    return [(f"/domande/{sub_id}/campo", {"campo": "codice_fiscale", "valore": VALID_CF}),
            (f"/domande/{sub_id}/tavoli", {"tavolo_famiglia": "1"}),
            (f"/domande/{sub_id}/decisione", {"decisione": "accept"}),
            (f"/domande/{sub_id}/ricevuta", {}),
            ("/ricevute/1/reinvio", {})]


def _audit_count(desk: Desk) -> int:
    with desk.sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_every_page_refuses_an_anonymous_visitor(web: tuple[Desk, TestClient]) -> None:
    desk, client = web
    for path in _pages(desk):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/accesso"
    for path, data in _posts(desk):
        answer = client.post(path, data={**data, "csrf": "x"}, follow_redirects=False)
        assert answer.status_code == 401, path
    assert _audit_count(desk) == 0


def test_a_logged_in_reader_sees_every_page(web: tuple[Desk, TestClient]) -> None:
    desk, client = web
    assert login(client, "lia") == 303
    for path in _pages(desk):
        assert client.get(path).status_code == 200, path


def test_wrong_password_is_refused_and_logins_are_rate_limited(
        web: tuple[Desk, TestClient]) -> None:
    _desk, client = web
    assert login(client, "lia", "sbagliata-sbagliata") == 401
    for _ in range(4):
        login(client, "lia", "sbagliata-sbagliata")
    assert login(client, "lia") == 401  # the right password too, inside the window
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_reader_cannot_change_anything(web: tuple[Desk, TestClient]) -> None:
    desk, client = web
    assert login(client, "lia") == 303
    csrf = csrf_of(client.get("/").text)
    for path, data in _posts(desk):
        answer = client.post(path, data={**data, "csrf": csrf}, follow_redirects=False)
        assert answer.status_code == 403, path
    assert _audit_count(desk) == 0
    with desk.sessions() as s:
        assert find_submission(s, desk.number("d-scan")).codice_fiscale is None


def test_a_form_without_the_csrf_token_is_refused(web: tuple[Desk, TestClient]) -> None:
    desk, client = web
    assert login(client, "rita") == 303
    for path, data in _posts(desk):
        assert client.post(path, data=data, follow_redirects=False).status_code == 403, path
        assert client.post(path, data={**data, "csrf": "indovinato"},
                           follow_redirects=False).status_code == 403, path
    assert _audit_count(desk) == 0


def test_a_login_form_without_its_token_is_refused(web: tuple[Desk, TestClient]) -> None:
    _, client = web
    answer = client.post("/accesso", data={"nome": "lia", "password": "una-password-lunga"},
                         follow_redirects=False)
    assert answer.status_code == 403


@pytest.mark.parametrize("path", [
    "/domande/1/documento/../../../../etc/passwd", "/messaggi/1/allegati/..%2F..%2Fetc",
    "/archive/aa/bb.eml", "/domande/%2e%2e/documento", "/messaggi/1/allegati/999",
    "/stato/archive", "/domande/999999/documento"])
def test_an_archived_file_cannot_be_reached_by_guessing_a_path(
        web: tuple[Desk, TestClient], path: str) -> None:
    _desk, client = web
    assert login(client, "lia") == 303
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 404
    assert b"Received:" not in answer.content and b"root:" not in answer.content


def test_the_original_pdf_is_served_by_id_to_staff(web: tuple[Desk, TestClient]) -> None:
    desk, client = web
    assert login(client, "lia") == 303
    with desk.sessions() as s:
        sub_id = find_submission(s, desk.number("b-pdf")).id
    answer = client.get(f"/domande/{sub_id}/documento")
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_docx_is_shown_as_html(web: tuple[Desk, TestClient]) -> None:
    desk, client = web
    assert login(client, "lia") == 303
    with desk.sessions() as s:
        sub_id = find_submission(s, desk.number("e-last-minute")).id
    answer = client.get(f"/domande/{sub_id}/documento")
    assert answer.headers["content-type"].startswith("text/html")
    assert "<table" in answer.text or "<p>" in answer.text
    assert "sandbox" in answer.headers["content-security-policy"]


def test_html_in_a_field_is_shown_as_text(web: tuple[Desk, TestClient]) -> None:
    desk, client = web
    evil = '<script>alert("x")</script><b>Ente</b>'
    with desk.sessions() as s, s.begin():
        sub = find_submission(s, desk.number("b-pdf"))
        sub.denominazione = evil
        sub.sede_legale = '"><img src=x onerror=alert(1)>'
        sub_id = sub.id
    assert login(client, "otto") == 303
    for path in (f"/domande/{sub_id}", "/aderenti", "/coda", "/"):
        page = client.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page, path
    page = client.get(f"/domande/{sub_id}").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_an_operator_corrects_with_the_same_rules_as_the_command(
        web: tuple[Desk, TestClient]) -> None:
    desk, client = web
    assert login(client, "otto") == 303
    with desk.sessions() as s:
        sub_id = find_submission(s, desk.number("d-scan")).id
    csrf = csrf_of(client.get(f"/domande/{sub_id}").text)
    refused = client.post(f"/domande/{sub_id}/campo", data={
        "csrf": csrf, "campo": "codice_fiscale", "valore": "80015010154"})
    assert refused.status_code == 422
    assert "Correzione rifiutata" in refused.text
    done = client.post(f"/domande/{sub_id}/campo", data={
        "csrf": csrf, "campo": "codice_fiscale", "valore": VALID_CF})
    assert done.status_code == 200 and "Campo corretto" in done.text
    with desk.sessions() as s:
        entry = s.scalars(select(AuditEntry)).one()
        assert (entry.actor, entry.action, entry.after) == ("otto", "set_field", VALID_CF)
    assert client.post(f"/domande/{sub_id}/decisione", data={
        "csrf": csrf, "decisione": "accept"}).status_code == 403  # an operator does not decide


def test_logout_ends_the_session(web: tuple[Desk, TestClient]) -> None:
    _, client = web
    assert login(client, "lia") == 303
    csrf = csrf_of(client.get("/").text)
    assert client.post("/uscita", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303
