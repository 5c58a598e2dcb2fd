"""The poll cycle against a real Dovecot, on SQLite and PostgreSQL: incremental reading, no
second ingestion (restart, lost state, UIDVALIDITY reset, crash mid-fetch), nothing marked on
the server, skipped messages recorded, the ``since`` bound, and ``poll --once``."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.cli import main
from pec_ingest.config import Config
from pec_ingest.errors import MailboxError
from pec_ingest.isolation import ParserPool
from pec_ingest.mailbox import FetchRefused, Mailbox
from pec_ingest.pipeline import Pipeline
from pec_ingest.poller import Poller
from pec_ingest.samples.mailbox import SampleMessage
from pec_ingest.scan import FolderScan
from pec_ingest.settings_imap import MailboxSection
from store import mailbox_state as states
from store.engine import single_writer
from store.model import Message
from store.model_mailbox import MailboxReset, MailboxState, SkippedMessage
from tests.dovecot import DovecotServer, pec_envelope, pec_receipt, plain_mail


def _poller(config: Config, sessions: sessionmaker[Session], pipeline: Pipeline,
            *boxes: MailboxSection) -> Poller:
    return Poller(dataclasses.replace(config, mailboxes=boxes), sessions, pipeline)


def _count(sessions: sessionmaker[Session], model: type = Message) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _state(sessions: sessionmaker[Session], box: MailboxSection,
           folder: str = "INBOX") -> MailboxState | None:
    with sessions() as session:
        return states.get_state(session, box.name, folder)


def test_sample_mailbox_is_ingested_once_and_nothing_is_marked(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline, parser_pool: ParserPool,
        mailbox: list[SampleMessage]) -> None:
    dovecot.append(imap_user, [m.raw for m in mailbox])
    flags_before = dovecot.flags(imap_user)
    box = dovecot.section(imap_user)
    report = _poller(config, sessions, pipeline, box).poll_mailbox(box)

    assert report.ok, report.error
    expected = [m.expect["outcome"] for m in mailbox if m.name != "anomaly"]
    assert report.fetched == len(expected) and report.skipped == 1  # anomaly: no attachment
    assert report.outcomes["submission"] == expected.count("submission") == 8
    assert report.outcomes["receipt"] == 2 and report.outcomes["ignored"] == 2
    assert dovecot.flags(imap_user) == flags_before  # no \Seen, no keyword
    assert all(flags == () for flags in flags_before.values())
    state = _state(sessions, box)
    assert state is not None and state.last_uid == len(mailbox)

    dovecot.append(imap_user, [pec_envelope(1), pec_receipt(1)])
    again = _poller(config, sessions, pipeline, box).poll_mailbox(box)
    assert (again.fetched, again.ingested, again.skipped) == (2, 2, 0)

    restarted = Pipeline(config, sessions, parse=parser_pool.parse_many)
    assert _poller(config, sessions, restarted, box).poll_mailbox(box).fetched == 0
    with sessions.begin() as session:  # state lost: everything is looked at again...
        session.execute(delete(MailboxState))
    rescan = _poller(config, sessions, restarted, box).poll_mailbox(box)
    assert rescan.ok and rescan.ingested == 0 and rescan.fetched == 0
    assert rescan.outcomes["duplicate"] == len(expected) + 2  # ...known by Message-ID
    assert _count(sessions) == len(expected) + 2
    assert dovecot.flags(imap_user) == {**flags_before, **{len(mailbox) + 1: (),
                                                           len(mailbox) + 2: ()}}


def test_uidvalidity_reset_ingests_nothing_twice(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline,
        monkeypatch: pytest.MonkeyPatch) -> None:
    messages = [pec_envelope(n, tag="reset") for n in range(3)] + [pec_receipt(9, "reset")]
    dovecot.append(imap_user, messages, folder="PEC")
    box = dovecot.section(imap_user, folders=("PEC",))
    poller = _poller(config, sessions, pipeline, box)
    assert poller.poll_mailbox(box).ingested == 4
    old = _state(sessions, box, "PEC")

    def recreate() -> None:
        with dovecot.client(imap_user) as client:
            client.delete_folder("PEC")
        dovecot.append(imap_user, messages, folder="PEC")

    recreate()
    report = poller.poll_mailbox(box)
    new = _state(sessions, box, "PEC")
    assert old is not None and new is not None and new.uidvalidity != old.uidvalidity
    assert report.ok and report.ingested == 0 and report.outcomes["duplicate"] == 4
    assert _count(sessions, MailboxReset) == 1 and _count(sessions) == 4

    # Without the Message-ID check, the pipeline's own dedup (sha256, identificativo) holds.
    monkeypatch.setattr(states, "known_message_ids", lambda session, ids: set())
    recreate()
    forced = poller.poll_mailbox(box)
    assert forced.fetched == 4 and forced.ingested == 0 and forced.outcomes["duplicate"] == 4
    assert _count(sessions, MailboxReset) == 2 and _count(sessions) == 4


def test_server_killed_mid_fetch_next_poll_completes(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline) -> None:
    dovecot.append(imap_user, [pec_envelope(n, tag="kill") for n in range(6)])
    box = dovecot.section(imap_user, batch_size=2)
    poller = _poller(config, sessions, pipeline, box)

    def kill_after_first_fetch(scan: FolderScan) -> None:
        scan.on_batch = lambda n: dovecot.kill()

    poller.on_scan = kill_after_first_fetch
    failed = poller.poll_mailbox(box)
    assert not failed.ok and failed.error and imap_user in failed.error
    assert failed.fetched == 2 and _count(sessions) == 2
    state = _state(sessions, box)
    assert state is not None and state.last_uid == 2  # what was recorded is kept

    dovecot.start()
    poller.on_scan = None
    done = poller.poll_mailbox(box)
    assert done.ok and done.fetched == 4 and done.ingested == 4
    assert _count(sessions) == 6


def test_the_next_batch_is_read_ahead_while_the_one_before_is_written(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first batch, each batch's first look, its skipped mail and its download come
    from the look-ahead's thread; the poll applies them in order: every message recorded once,
    the skipped ones with their reason, the last UID at the end."""
    mail: list[bytes] = []
    for n in range(4):
        mail += [pec_receipt(n, "ahead"), plain_mail(n), pec_envelope(n, tag="ahead")]
    dovecot.append(imap_user, mail)
    box = dovecot.section(imap_user, batch_size=3)
    threads: dict[str, list[str]] = {"first_look": [], "fetch_raw": []}

    def spy(name: str) -> Any:
        inner = getattr(Mailbox, name)

        def call(mailbox: Mailbox, uids: Any, *args: Any) -> Any:
            threads[name].append(threading.current_thread().name)
            return inner(mailbox, uids, *args)
        return call

    for name in threads:
        monkeypatch.setattr(Mailbox, name, spy(name))
    recorders: list[str] = []
    record_skipped = states.record_skipped

    def spy_skipped(*args: Any) -> int:
        recorders.append(threading.current_thread().name)
        return record_skipped(*args)

    monkeypatch.setattr(states, "record_skipped", spy_skipped)
    report = _poller(config, sessions, pipeline, box).poll_mailbox(box)
    assert report.ok, report.error
    assert report.fetched == 8 and report.skipped == 4 and report.ingested == 8
    assert report.outcomes == {"receipt": 4, "ignored": 4}
    for calls in threads.values():  # batch 1 on the poll's thread, batches 2-4 read ahead
        assert len(calls) == 4 and not calls[0].startswith("look")
        assert all(name.startswith("look") for name in calls[1:])
    # skipped mail recorded ahead too, but on SQLite (one writer at a time) in the batch's turn
    assert len(recorders) == 4 and not recorders[0].startswith("look")
    assert all(name.startswith("look") != single_writer(sessions) for name in recorders[1:])
    assert _count(sessions) == 8 and _count(sessions, SkippedMessage) == 4
    state = _state(sessions, box)
    assert state is not None and state.last_uid == 12


@pytest.mark.parametrize("error", [MailboxError, FetchRefused])
def test_a_download_failing_while_reading_ahead_fails_the_poll_as_on_its_thread(
        error: type[MailboxError], dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure of the read-ahead's download (a refusal too: the download's, not the first
    look's, which would be split and looked at again) fails the poll as if it had downloaded
    the batch itself; what was written before is kept, and the next poll reads the rest."""
    dovecot.append(imap_user, [pec_receipt(n, "refused") for n in range(6)])
    box = dovecot.section(imap_user, batch_size=2)
    fetch_raw = Mailbox.fetch_raw

    def refused_ahead(mailbox: Mailbox, uids: Any) -> Any:
        if threading.current_thread().name.startswith("look") and 3 in uids:
            raise error("risposta illeggibile (simulata)")
        return fetch_raw(mailbox, uids)

    monkeypatch.setattr(Mailbox, "fetch_raw", refused_ahead)
    failed = _poller(config, sessions, pipeline, box).poll_mailbox(box)
    assert not failed.ok and "simulata" in (failed.error or "")
    assert failed.fetched == 2 and _count(sessions) == 2
    state = _state(sessions, box)
    assert state is not None and state.last_uid == 2
    monkeypatch.setattr(Mailbox, "fetch_raw", fetch_raw)
    done = _poller(config, sessions, pipeline, box).poll_mailbox(box)
    assert done.ok and done.fetched == 4 and _count(sessions) == 6


def test_skipped_messages_are_recorded_with_the_reason(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline) -> None:
    big = pec_envelope(3, attachment=b"x" * (1024 * 1024 + 1), tag="big")
    dovecot.append(imap_user, [plain_mail(1), pec_envelope(2, attachment=None, tag="bare"),
                               big, pec_receipt(4, "skip")])
    box = dovecot.section(imap_user, max_message_mb=1)
    report = _poller(config, sessions, pipeline, box).poll_mailbox(box)
    assert report.ok and report.skipped == 3 and report.fetched == 1
    assert report.outcomes == {"receipt": 1}
    with sessions() as session:
        rows = states.skipped_messages(session, box.name)
    assert [(r.uid, r.reason) for r in rows] == [(1, "not_pec"), (2, "no_attachments"),
                                                 (3, "too_big")]
    assert rows[0].subject == "Ciao 1" and rows[0].sender == "mario.rossi@example.org"
    assert rows[1].message_id_header == "<opec.bare.2@pec.simulato.example>"
    assert rows[2].size > 1024 * 1024 and "max_message_mb" in (rows[2].detail or "")
    # A second poll (state lost) does not record them twice.
    with sessions.begin() as session:
        session.execute(delete(MailboxState))
    assert _poller(config, sessions, pipeline, box).poll_mailbox(box).skipped == 3
    assert _count(sessions, SkippedMessage) == 3


def test_since_bounds_only_the_first_scan(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline) -> None:
    old = datetime(2019, 1, 10, 12, 0, tzinfo=UTC)
    recent = datetime.now(UTC) - timedelta(days=1)
    dovecot.append(imap_user, [pec_envelope(1, tag="old"), pec_envelope(2, tag="old")],
                   when=old)
    dovecot.append(imap_user, [pec_envelope(3, tag="new")], when=recent)
    box = dovecot.section(imap_user, since=date(2020, 1, 1))
    poller = _poller(config, sessions, pipeline, box)
    first = poller.poll_mailbox(box)
    assert first.fetched == 1 and first.ingested == 1
    state = _state(sessions, box)
    assert state is not None and state.last_uid == 3
    dovecot.append(imap_user, [pec_envelope(4, tag="old")], when=old)  # new UID, old date
    assert poller.poll_mailbox(box).ingested == 1
    assert _count(sessions) == 2


def test_poll_once_command(dovecot: DovecotServer, imap_user: str, tmp_path: object,
                           capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))
    box = dovecot.section(imap_user)
    dovecot.append(imap_user, [pec_receipt(1, "cmd"), plain_mail(2)])
    toml = base / "config.toml"
    toml.write_text(
        f'[state]\ndir = "{base / "state"}"\n[acknowledgements]\nenabled = false\n'
        f'[[mailboxes]]\nname = "protocollo"\nhost = "127.0.0.1"\nport = {dovecot.port}\n'
        f'security = "plain"\nusername = "{imap_user}"\npassword_file = "{box.password_file}"'
        '\n')
    assert main(["--config", str(toml), "db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["--config", str(toml), "poll", "--once"]) == 0
    out = capsys.readouterr().out
    assert "protocollo: ok, 1 scaricati, 1 registrati, 1 non scaricati (ricevuta PEC 1)" in out
    Path(box.password_file).write_text("sbagliata")
    assert main(["--config", str(toml), "poll", "--once"]) == 1
    out = capsys.readouterr().out
    assert "protocollo: ERRORE" in out and "accesso rifiutato" in out
    assert "sbagliata" not in out


def test_the_connection_is_used_by_one_thread_at_a_time(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The next batch's first look runs on a thread of its own while the poll writes: no IMAP
    command of the poll's thread may start while it is on the wire (a slowed look widens the
    window a second command would fall in)."""
    dovecot.append(imap_user, [pec_envelope(n, tag="one") for n in range(7)] +
                   [plain_mail(8), pec_receipt(9, "one")])
    box = dovecot.section(imap_user, batch_size=2)
    busy, overlaps, threads = threading.Lock(), [], set()

    def exclusive(name: str) -> None:
        method = getattr(Mailbox, name)

        def guarded(self: Mailbox, *args: Any, **kwargs: Any) -> Any:
            if not busy.acquire(blocking=False):
                overlaps.append(name)
                busy.acquire()
            try:
                threads.add(threading.current_thread().name.split("_")[0])
                if name == "first_look":
                    time.sleep(0.05)
                return method(self, *args, **kwargs)
            finally:
                busy.release()
        monkeypatch.setattr(Mailbox, name, guarded)

    for name in ("examine", "search_after", "first_look", "fetch_raw", "flags",
                 "select_writable", "add_keyword", "move", "reopen", "noop"):
        exclusive(name)
    report = _poller(config, sessions, pipeline, box).poll_mailbox(box)
    assert report.ok, report.error
    assert report.ingested == 8 and _count(sessions) == 8
    assert not overlaps
    assert "look" in threads and len(threads) == 2
