"""The IMAP mailbox against a real Dovecot: TLS and STARTTLS with a test CA (and the failure
without it), login errors, read-only access, post-actions, IDLE, and the first-look triage."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imapclient.response_parser import parse_fetch_response

from pec_ingest import idle
from pec_ingest.config import Config
from pec_ingest.errors import MailboxError
from pec_ingest.isolation import ParserPool
from pec_ingest.mailbox import FirstLook, LoginRefused, Mailbox
from pec_ingest.pipeline import Pipeline
from pec_ingest.poller import Poller
from pec_ingest.settings_imap import MailboxSection
from pec_ingest.triage import judge, needs_structure
from store.engine import make_engine, session_factory
from store.migration import upgrade
from tests.dovecot import DovecotServer, pec_envelope, pec_receipt, plain_mail


@pytest.fixture
def sqlite_pipeline(config: Config, parser_pool: ParserPool) -> Iterator[Pipeline]:
    """A pipeline on SQLite only: for tests where the database does not matter."""
    engine = make_engine(config.database_url)
    upgrade(engine)
    yield Pipeline(config, session_factory(engine), parse=parser_pool.parse_many)
    engine.dispose()


def _poller(config: Config, box: MailboxSection, pipeline: Pipeline,
            **kwargs: Any) -> Poller:
    return Poller(dataclasses.replace(config, mailboxes=(box,)), pipeline.sessions, pipeline,
                  **kwargs)


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_with_the_test_ca_and_refused_without(dovecot: DovecotServer, imap_user: str,
                                                  security: str) -> None:
    port = dovecot.tls_port if security == "tls" else dovecot.port
    dovecot.append(imap_user, [pec_receipt(1)])
    box = dovecot.section(imap_user, security=security, port=port, ca_file=dovecot.ca_file)
    with Mailbox.open(box) as mailbox:
        assert mailbox.examine("INBOX").exists == 1
        assert mailbox.search_after(0) == [1]
    with pytest.raises(MailboxError, match="certificato del server non valido"):
        Mailbox.open(dataclasses.replace(box, ca_file=""))


def test_wrong_password_is_clear_and_secret(dovecot: DovecotServer, imap_user: str) -> None:
    box = dovecot.section(imap_user)
    with open(box.password_file, "w") as fh:
        fh.write("password-sbagliata-123")
    with pytest.raises(LoginRefused) as caught:
        Mailbox.open(box)
    message = str(caught.value)
    assert "accesso rifiutato" in message and imap_user in message
    assert "password-sbagliata-123" not in message


def test_connection_refused_and_timeouts_are_mailbox_errors(dovecot: DovecotServer,
                                                            imap_user: str) -> None:
    from tests.dovecot import free_port

    box = dovecot.section(imap_user, port=free_port())
    with pytest.raises(MailboxError, match="connessione non riuscita: Connection refused"):
        Mailbox.open(box)
    with pytest.raises(MailboxError, match=r"connessione non riuscita: .*(not known|resolution)"):
        Mailbox.open(dataclasses.replace(box, host="host-inesistente.invalid"))


def test_reading_changes_no_flag_and_search_skips_the_star_edge(dovecot: DovecotServer,
                                                                imap_user: str) -> None:
    messages = [pec_envelope(1), pec_receipt(2), plain_mail(3)]
    dovecot.append(imap_user, messages)
    before = dovecot.flags(imap_user)
    with Mailbox.open(dovecot.section(imap_user)) as mailbox:
        status = mailbox.examine("INBOX")
        assert status.uidnext == 4
        assert mailbox.search_after(3) == []  # "UID 4:*" answers 3: filtered out
        assert mailbox.search_after(1) == [2, 3]
        looks = mailbox.first_look([1, 2, 3])
        raw = mailbox.fetch_raw([1, 2, 3])
    assert [raw[1], raw[2], raw[3]] == messages  # byte-exact
    assert b"X-Trasporto: posta-certificata" in looks[1].header
    assert dovecot.flags(imap_user) == before and all(f == () for f in before.values())


def test_first_look_triage_on_real_structures(dovecot: DovecotServer, imap_user: str) -> None:
    messages = [pec_envelope(1), pec_envelope(2, attachment=None), pec_receipt(3),
                plain_mail(4)]
    dovecot.append(imap_user, messages)
    box = dovecot.section(imap_user)
    with Mailbox.open(box) as mailbox:
        mailbox.examine("INBOX")
        looks = mailbox.first_look([1, 2, 3, 4])
    verdicts = {uid: judge(look, box) for uid, look in looks.items()}
    assert [(v.download, v.kind, v.reason) for v in verdicts.values()] == [
        (True, "envelope", ""), (False, "envelope", "no_attachments"), (True, "receipt", ""),
        (False, "not-pec", "not_pec")]
    assert verdicts[1].subject == "POSTA CERTIFICATA: Pratica t 1"
    lenient = judge(looks[4], dataclasses.replace(box, skip_non_pec=False))
    assert (lenient.download, lenient.reason) == (False, "no_attachments")
    small = judge(looks[1], dataclasses.replace(box, max_message_mb=1))
    assert small.download
    huge = FirstLook(9, 2 * 1024 * 1024, looks[1].header, looks[1].structure)
    assert judge(huge, dataclasses.replace(box, max_message_mb=1)).reason == "too_big"


@pytest.mark.parametrize("skip_non_pec", [True, False])
def test_two_step_first_look_fetches_structure_only_where_it_counts(
        dovecot: DovecotServer, imap_user: str, skip_non_pec: bool) -> None:
    messages = [pec_envelope(1), pec_envelope(2, attachment=None), pec_receipt(3),
                plain_mail(4), b"X-Trasporto: avvenuta-consegna\r\nSubject: x\r\n\r\nx\r\n"]
    dovecot.append(imap_user, messages)
    box = dovecot.section(imap_user, skip_non_pec=skip_non_pec)
    with Mailbox.open(box) as mailbox:
        mailbox.examine("INBOX")
        one_trip = mailbox.first_look([1, 2, 3, 4, 5])
        two_step = mailbox.first_look([1, 2, 3, 4, 5, 6],  # 6 does not exist
                                      lambda look: needs_structure(look, box))
        assert mailbox.first_look([], lambda look: needs_structure(look, box)) == {}
    assert sorted(two_step) == [1, 2, 3, 4, 5]
    with_structure = {uid for uid, look in two_step.items() if look.structure is not None}
    assert with_structure == ({1, 2} if skip_non_pec else {1, 2, 4})
    for uid, look in two_step.items():
        assert look.header == one_trip[uid].header and look.size == one_trip[uid].size
        assert look.internal_date == one_trip[uid].internal_date is not None
        if uid in with_structure:
            assert look.structure == one_trip[uid].structure
        assert judge(look, box) == judge(one_trip[uid], box)


def test_triage_of_an_envelope_whose_structure_hides_the_original() -> None:
    # An envelope with no message/rfc822 part seen: we cannot tell, so it is downloaded.
    raw = (b'1 (UID 7 RFC822.SIZE 10 BODYSTRUCTURE ("text" "plain" ("charset" '
           b'"utf-8") NIL NIL "7bit" 2 1 NIL NIL NIL NIL))')
    data = parse_fetch_response([raw])[7]
    look = FirstLook(7, 10, b"X-Trasporto: posta-certificata\r\n\r\n", data[b"BODYSTRUCTURE"])
    assert judge(look, MailboxSection(name="x")).download


def test_post_actions_keyword_and_move(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sqlite_pipeline: Pipeline) -> None:
    dovecot.append(imap_user, [pec_receipt(1, "post"), pec_envelope(2, tag="post"),
                               plain_mail(3)])
    box = dovecot.section(imap_user, set_keyword="PecIngest", move_to="Elaborati",
                          post_action_outcomes=("receipt",))
    with dovecot.client(imap_user) as client:
        client.create_folder("Elaborati")
    poller = _poller(config, box, sqlite_pipeline)
    assert poller.poll_mailbox(box).ok
    assert dovecot.flags(imap_user) == {2: (), 3: ()}  # ignored and skipped: untouched
    assert list(dovecot.flags(imap_user, "Elaborati").values()) == [(b"PecIngest",)]


def test_move_without_the_move_capability(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sqlite_pipeline: Pipeline) -> None:
    def no_move(box: MailboxSection) -> Mailbox:
        mailbox = Mailbox.open(box)
        mailbox.capabilities = mailbox.capabilities - {"MOVE"}
        return mailbox

    with dovecot.client(imap_user) as client:
        client.create_folder("Elaborati")
    for n, expunge in enumerate((False, True)):
        dovecot.append(imap_user, [pec_receipt(n, "nomove")])
        box = dovecot.section(imap_user, move_to="Elaborati", expunge_after_copy=expunge,
                              post_action_outcomes=("receipt",))
        poller = _poller(config, box, sqlite_pipeline,
                        open_mailbox=no_move)
        assert poller.poll_mailbox(box).ok
    assert list(dovecot.flags(imap_user)) == [1]  # left in place when expunge is not allowed
    assert len(dovecot.flags(imap_user, "Elaborati")) == 1


def test_login_failure_is_logged_once_until_it_changes(
        dovecot: DovecotServer, imap_user: str, config: Config, sqlite_pipeline: Pipeline,
        caplog: pytest.LogCaptureFixture) -> None:
    box = dovecot.section(imap_user)
    good = Path(box.password_file).read_text()
    with open(box.password_file, "w") as fh:
        fh.write("sbagliata")
    now = [1000.0]
    poller = _poller(config, box, sqlite_pipeline,
                    clock=lambda: now[0])
    caplog.set_level(logging.DEBUG, logger="pec_ingest.poller")
    reports = [poller.poll_mailbox(box) for _ in range(3)]
    assert all(not r.ok and "accesso rifiutato" in (r.error or "") for r in reports)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "sbagliata" not in caplog.text
    waiting = poller.poll_all()  # inside the backoff: the server is not contacted
    assert not waiting[0].ok and "nuovo tentativo" in (waiting[0].error or "")
    now[0] += 3600
    with open(box.password_file, "w") as fh:
        fh.write(good)
    assert poller.poll_all()[0].ok and poller.failing(box.name) is None
    assert "working again after 3 failed polls" in caplog.text


def test_idle_watch_announces_new_mail_and_survives_a_restart(
        dovecot: DovecotServer, imap_user: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idle, "backoff_delay", lambda failures: 0.2)
    box = dovecot.section(imap_user)
    stop, news = threading.Event(), threading.Event()
    thread = threading.Thread(target=idle.watch, args=(box, "INBOX", stop, news.set))
    thread.start()
    try:
        time.sleep(0.5)
        assert not news.is_set()
        dovecot.append(imap_user, [pec_receipt(1, "idle")])
        assert news.wait(10), "no IDLE notification"
        news.clear()
        dovecot.kill()
        dovecot.start()
        assert news.wait(10), "no news after the reconnection"
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_idle_off_returns_at_once(dovecot: DovecotServer, imap_user: str) -> None:
    stop = threading.Event()
    started = time.monotonic()
    idle.watch(dovecot.section(imap_user, idle=False), "INBOX", stop, lambda: None)
    assert time.monotonic() - started < 5  # returns at once, without connecting


def test_mailbox_keys_are_read_and_checked() -> None:
    from pec_ingest.config import parse_config
    from pec_ingest.errors import ConfigError

    base = {"name": "p", "host": "127.0.0.1", "security": "plain", "username": "u",
            "password_env": "X"}
    config = parse_config({"mailboxes": [{**base, "set_keyword": "$PecIngest",
                                          "move_to": "Elaborati", "expunge_after_copy": True,
                                          "post_action_outcomes": ["submission", "receipt"],
                                          "skip_non_pec": False, "ingest_workers": 3,
                                          "idle_renew_minutes": 20}]})
    box = config.mailboxes[0]
    assert (box.post_action_outcomes, box.ingest_workers) == (("submission", "receipt"), 3)
    with pytest.raises(ConfigError) as caught:
        parse_config({"mailboxes": [{**base, "set_keyword": "due parole", "move_to": "INBOX",
                                     "post_action_outcomes": ["letto"],
                                     "idle_renew_minutes": 30}]})
    text = str(caught.value)
    for key in ("set_keyword", "move_to", "post_action_outcomes", "idle_renew_minutes"):
        assert f"mailboxes[p].{key}" in text
