"""Shared set-up of the web desk tests: the sample mailbox ingested by the real pipeline (the
staff-desk fixture), three accounts, and a logged-in HTTP client of the Starlette app."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from pec_ingest.config import Config, DeskSection
from pec_ingest.web.accounts import add_user
from pec_ingest.web.app import create_app
from tests.integration.desk_support import Desk

PASSWORD = "una-password-lunga"
USERS = {"lia": "lettore", "otto": "operatore", "rita": "responsabile"}


def desk_config(config: Config, **desk: object) -> Config:
    return dataclasses.replace(config, desk=dataclasses.replace(
        DeskSection(secure_cookie=False), **desk))


def add_users(desk: Desk) -> None:
    with desk.sessions() as s, s.begin():
        for name, role in USERS.items():
            add_user(s, name, role, PASSWORD)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html[:500]
    return found.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> int:
    page = client.get("/accesso")
    answer = client.post("/accesso", data={"nome": name, "password": password,
                                           "csrf": csrf_of(page.text)}, follow_redirects=False)
    return answer.status_code


@pytest.fixture(name="web")
def web_fixture(desk: Desk) -> Iterator[tuple[Desk, TestClient]]:
    add_users(desk)
    app = create_app(desk_config(desk.config), desk.sessions)
    with TestClient(app, base_url="http://testserver") as client:
        yield desk, client
