"""Retention on the web desk: only a responsabile; a preview first; the purge removes exactly
what the preview listed, after a ticked confirmation; a changed list is refused."""

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from pec_ingest.web.app import create_app
from store.audit import AuditEntry, MessagePurge
from store.model import Message
from tests.integration.desk_support import Desk, desk_fixture, keep_logging  # noqa: F401
from tests.integration.test_desk_purge import closed
from tests.integration.web_support import add_users, csrf_of, desk_config, login

DAY = "07/09/2019"  # between a-resubmission (6/9) and g (8/9)


def _client(desk: Desk) -> TestClient:
    add_users(desk)
    return TestClient(create_app(desk_config(closed(desk.config)), desk.sessions),
                      base_url="http://testserver")


def _archived(desk: Desk) -> dict[int, bool]:
    with desk.sessions() as s:
        return {m.id: desk.archive.exists(m.archive_path) for m in s.scalars(select(Message))}


def test_only_a_responsabile_may_purge(desk: Desk) -> None:
    with _client(desk) as client:
        assert login(client, "otto") == 303
        assert client.get("/conservazione").status_code == 403
        csrf = csrf_of(client.get("/").text)
        answer = client.post("/conservazione", data={"csrf": csrf, "data": DAY,
                                                     "conferma": "si", "elenco": ""})
        assert answer.status_code == 403
    assert all(_archived(desk).values())


def test_preview_then_purge_exactly_what_was_listed(desk: Desk) -> None:
    with _client(desk) as client:
        assert login(client, "rita") == 303
        page = client.get("/conservazione")
        assert page.status_code == 200 and "Conservazione" in page.text
        csrf = csrf_of(page.text)
        bad = client.post("/conservazione/anteprima", data={"csrf": csrf, "data": "31/02/2019"})
        assert bad.status_code == 422 and "data non valida" in bad.text
        preview = client.post("/conservazione/anteprima", data={"csrf": csrf, "data": DAY})
        assert preview.status_code == 200 and "da cancellare" in preview.text
        assert all(_archived(desk).values())  # a preview changes nothing
        listed = preview.text.split('name="elenco" value="')[1].split('"')[0]
        ids = {int(i) for i in listed.split(",")}
        unconfirmed = client.post("/conservazione", data={"csrf": csrf, "data": DAY,
                                                          "elenco": listed})
        assert unconfirmed.status_code == 422 and "Nulla è stato cancellato" in unconfirmed.text
        stale = client.post("/conservazione", data={"csrf": csrf, "data": DAY,
                                                    "elenco": "1", "conferma": "si"})
        assert stale.status_code == 422 and "elenco è cambiato" in stale.text
        assert all(_archived(desk).values())
        done = client.post("/conservazione", data={"csrf": csrf, "data": DAY,
                                                   "elenco": listed, "conferma": "si"})
        assert done.status_code == 200 and "Cancellazione eseguita" in done.text
    gone = {m for m, present in _archived(desk).items() if not present}
    assert gone == ids
    with desk.sessions() as s:
        assert set(s.scalars(select(MessagePurge.message_id))) == ids
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "purge")).one()
        assert entry.actor == "rita"
