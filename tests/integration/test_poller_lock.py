"""Two workers on one mailbox: only one polls at a time (PostgreSQL advisory lock, a file lock
on SQLite), and between them every message is recorded exactly once."""

from __future__ import annotations

import dataclasses
import threading

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.config import Config
from pec_ingest.isolation import ParserPool
from pec_ingest.pipeline import Pipeline
from pec_ingest.poller import MailboxReport, Poller
from pec_ingest.scan import FolderScan
from store.mailbox_state import lock_key, mailbox_lock
from store.model import Message
from tests.dovecot import DovecotServer, pec_envelope


def test_lock_key_is_stable() -> None:
    # Pinned: every host and Python run must agree on it (no hash() randomisation).
    assert lock_key("protocollo") == -2891424163428260484
    assert lock_key("protocollo") != lock_key("protocollo2")


def test_mailbox_lock_is_exclusive(migrated_engine: Engine) -> None:
    with (mailbox_lock(migrated_engine, "a") as first,
          mailbox_lock(migrated_engine, "a") as second,
          mailbox_lock(migrated_engine, "b") as other):
        assert first and not second and other
    with mailbox_lock(migrated_engine, "a") as again:
        assert again  # released


def test_two_workers_never_poll_the_same_mailbox_together(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], parser_pool: ParserPool) -> None:
    dovecot.append(imap_user, [pec_envelope(n, tag="two") for n in range(6)])
    box = dovecot.section(imap_user, batch_size=2)
    cfg = dataclasses.replace(config, mailboxes=(box,))
    first = Poller(cfg, sessions, Pipeline(cfg, sessions, parse=parser_pool.parse_many))
    second = Poller(cfg, sessions, Pipeline(cfg, sessions, parse=parser_pool.parse_many))
    inside, release = threading.Event(), threading.Event()

    def hold(scan: FolderScan) -> None:
        def pause(_n: int) -> None:
            inside.set()
            release.wait(20)
        scan.on_batch = pause

    first.on_scan = hold
    results: list[MailboxReport] = []
    worker = threading.Thread(target=lambda: results.append(first.poll_mailbox(box)))
    worker.start()
    try:
        assert inside.wait(20), "the first worker never fetched"
        blocked = second.poll_mailbox(box)
        assert blocked.ok and blocked.busy and blocked.fetched == 0
    finally:
        release.set()
        worker.join(30)
    assert results and results[0].ok and results[0].ingested == 6
    after = second.poll_mailbox(box)
    assert not after.busy and after.fetched == 0 and after.ingested == 0
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 6
