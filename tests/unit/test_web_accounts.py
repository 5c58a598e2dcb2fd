"""The web desk's login limiter and roles: pure logic, no server."""

from __future__ import annotations

import pytest

from pec_ingest.web import accounts
from pec_ingest.web.accounts import LoginGuard, Visitor
from pec_ingest.web.errors import LoginRefused


def test_the_limit_counts_per_name_and_address_and_forgets_after_the_window(
        monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(accounts.time, "monotonic", lambda: now[0])
    guard = LoginGuard(attempts=3, window_minutes=10)
    for _ in range(3):
        guard.check("10.0.0.5", "Anna")
        guard.failed("10.0.0.5", "Anna")
    with pytest.raises(LoginRefused, match="troppi tentativi"):
        guard.check("10.0.0.5", "anna")  # the name's case does not matter
    guard.check("10.0.0.6", "anna")  # another address
    guard.check("10.0.0.5", "bruno")  # another name
    now[0] += 601
    guard.check("10.0.0.5", "anna")


def test_one_address_trying_many_names_is_stopped_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts.time, "monotonic", lambda: 5.0)
    guard = LoginGuard(attempts=2, window_minutes=1)
    for n in range(8):
        guard.failed("10.0.0.9", f"utente{n}")
    with pytest.raises(LoginRefused):
        guard.check("10.0.0.9", "nuovo")


def test_roles_grow() -> None:
    reader, operator, manager = (Visitor("x", r, "t") for r in
                                 ("lettore", "operatore", "responsabile"))
    assert reader.may("lettore") and not reader.may("operatore")
    assert operator.may("operatore") and not operator.may("responsabile")
    assert manager.may("lettore") and manager.may("responsabile")
