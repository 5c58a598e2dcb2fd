"""Group commit of a poll (issue 15), on SQLite and PostgreSQL with a real Dovecot: a worker
SIGKILLed inside a batch's transaction, after the batch's archive files were made durable, loses
nothing and records nothing twice after a restart; a message that fails inside a batch is
written again alone and does not take the batch with it; the archive's stage/settle; read-only
lookups on SQLite do not wait for the writer."""

from __future__ import annotations

import dataclasses
import logging
import pickle
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest import recording
from pec_ingest.config import Config
from pec_ingest.pipeline import Pipeline, Prepared, Source
from pec_ingest.poller import Poller
from pec_ingest.samples.mailbox import SampleMessage
from pec_ingest.scan import FolderScan
from store import mailbox_state as states
from store.archive import Archive
from store.engine import make_engine, reading, session_factory
from store.errors import ArchiveError
from store.migration import upgrade
from store.model import Message, Submission
from store.submissions import next_registration
from tests.dovecot import DovecotServer, pec_envelope, pec_receipt

KILLER = """
import dataclasses, os, pickle, signal, sys
from pec_ingest.config import Config, StateSection
from pec_ingest.pipeline import Pipeline
from pec_ingest.poller import Poller
from pec_ingest.scan import FolderScan
from store.engine import make_engine, session_factory

def main():
    url, setup = sys.argv[1:3]
    with open(setup, "rb") as handle:
        state, box = pickle.load(handle)
    config = dataclasses.replace(Config(), state=StateSection(dir=state), mailboxes=(box,))
    sessions = session_factory(make_engine(url))
    calls = []

    def die_in_second_batch():  # inside the transaction, after the archive was settled
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGKILL)

    with Pipeline(config, sessions) as pipeline:
        pipeline.before_commit = die_in_second_batch
        Poller(config, sessions, pipeline).poll_mailbox(box)

if __name__ == "__main__":  # the service's children (forkserver) import this module too
    main()
"""


def _uids(sessions: sessionmaker[Session]) -> list[int]:
    with sessions() as session:
        return sorted(u for u in session.scalars(select(Message.uid)) if u is not None)


def test_worker_killed_inside_a_batch_transaction_loses_and_repeats_nothing(
        dovecot: DovecotServer, imap_user: str, config: Config, database_url: str,
        sessions: sessionmaker[Session], pipeline: Pipeline, tmp_path: Path) -> None:
    raws = [pec_receipt(n, "gc") if n % 2 else pec_envelope(n, tag="gc") for n in range(9)]
    dovecot.append(imap_user, raws)
    box = dovecot.section(imap_user, batch_size=3)
    config = dataclasses.replace(config, mailboxes=(box,))
    setup = tmp_path / "setup.pickle"
    setup.write_bytes(pickle.dumps((config.state.dir, box)))
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    proc = subprocess.run([sys.executable, str(script), database_url, str(setup)],
                          capture_output=True, timeout=300, cwd=Path(__file__).parents[2])
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-3000:]

    # Batch 1 committed with its last UID; batch 2 (killed) left only durable archive files.
    assert _uids(sessions) == [1, 2, 3], proc.stderr.decode()[-6000:]
    with sessions() as session:
        state = states.get_state(session, box.name, "INBOX")
        assert state is not None and state.last_uid == 3
    archived = list(config.archive_dir.rglob("*.eml"))
    assert len(archived) == 6  # batches 1 and 2 settled; batch 3 at most staged (*.tmp)

    report = Poller(config, sessions, pipeline).poll_mailbox(box)
    assert report.ok, report.error
    assert report.fetched == 6 and report.ingested == 6 and not report.outcomes["duplicate"]
    assert _uids(sessions) == list(range(1, 10))  # each message exactly once
    with sessions() as session:
        state = states.get_state(session, box.name, "INBOX")
        assert state is not None and state.last_uid == 9
        shas = list(session.scalars(select(Message.sha256)))
    assert len(shas) == len(set(shas)) == 9
    for message_path in _archive_paths(sessions):
        assert Archive(config.archive_dir).exists(message_path)


def _archive_paths(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(Message.archive_path)))


def test_a_message_failing_inside_its_batch_is_written_alone(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline,
        monkeypatch: pytest.MonkeyPatch) -> None:
    dovecot.append(imap_user, [pec_receipt(n, "alone") for n in range(4)])
    box = dovecot.section(imap_user, batch_size=4)
    real = recording.record_receipt
    calls = Counter[str]()

    def fail_in_the_batch(session: Session, base: recording.MessageFacts,
                          *args: object) -> object:
        calls["n"] += 1
        if calls["n"] in (1, 2):  # the batch without savepoints, then with them
            session.execute(text("SELECT 1"))  # the savepoint saw work before the failure
            raise RuntimeError("injected bug in one message")
        return real(session, base, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(recording, "record_receipt", fail_in_the_batch)
    monkeypatch.setattr(recording, "plain_receipt", lambda *_a: None)  # not in bulk: one each
    report = Poller(dataclasses.replace(config, mailboxes=(box,)), sessions,
                    pipeline).poll_mailbox(box)
    assert report.ok, report.error
    assert report.outcomes["receipt"] == 4 and not report.outcomes["failed"]
    # the batch stopped at the first (rolled back), the batch again with a savepoint per
    # message (the first fails in its own), then the failed one alone
    assert calls["n"] == 1 + 4 + 1
    with sessions() as session:
        rows = list(session.execute(select(Message.id, Message.uid).order_by(Message.id)))
        state = states.get_state(session, box.name, "INBOX")
    assert [uid for _id, uid in rows] == [2, 3, 4, 1]  # the batch, then the one alone
    assert state is not None and state.last_uid == 4


def test_a_slow_message_holds_back_only_itself(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A group is written ``batch_wait_ms`` after its first message is ready: a message still
    being read (a scan under OCR) does not keep the others of its batch waiting, undurable.
    The last UID stays below it until it is written too."""
    dovecot.append(imap_user, [pec_receipt(n, "slow-one") for n in range(5)])
    box = dovecot.section(imap_user, batch_size=5, batch_wait_ms=200, ingest_workers=3)
    real = pipeline.prepare
    seen: dict[str, object] = {}

    def prepare(raw: bytes, source: Source, *args: object) -> object:
        if source.uid == 3:  # slow until the others are written (or 20 s, and the test fails)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and _uids(sessions) != [1, 2, 4, 5]:
                time.sleep(0.05)
            with sessions() as session:
                state = states.get_state(session, box.name, "INBOX")
            seen.update(written=_uids(sessions), last_uid=state.last_uid if state else None)
        return real(raw, source, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "prepare", prepare)
    report = Poller(dataclasses.replace(config, mailboxes=(box,)), sessions,
                    pipeline).poll_mailbox(box)
    assert report.ok, report.error
    assert seen == {"written": [1, 2, 4, 5], "last_uid": 2}
    assert report.outcomes["receipt"] == 5 and not report.outcomes["failed"]
    assert _uids(sessions) == [1, 2, 3, 4, 5]
    with sessions() as session:
        state = states.get_state(session, box.name, "INBOX")
    assert state is not None and state.last_uid == 5


def test_a_group_waits_for_its_slower_messages_within_the_time_bound(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A message slower than the others, but within ``batch_wait_ms``, is written in their
    group: ``batch_size`` per transaction, as when all are ready together."""
    dovecot.append(imap_user, [pec_receipt(n, "within") for n in range(6)])
    box = dovecot.section(imap_user, batch_size=3, batch_wait_ms=20_000, ingest_workers=3)
    sizes: list[int] = []
    real_prepare, real_commit = pipeline.prepare, pipeline.commit_many

    def prepare(raw: bytes, source: Source, *args: object) -> object:
        if source.uid in (2, 5):
            time.sleep(0.5)
        return real_prepare(raw, source, *args)  # type: ignore[arg-type]

    def commit_many(items: Sequence[Prepared], *args: object) -> object:
        sizes.append(len(items))
        return real_commit(items, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "prepare", prepare)
    monkeypatch.setattr(pipeline, "commit_many", commit_many)
    report = Poller(dataclasses.replace(config, mailboxes=(box,)), sessions,
                    pipeline).poll_mailbox(box)
    assert report.ok, report.error
    assert sizes == [3, 3]
    assert _uids(sessions) == [1, 2, 3, 4, 5, 6]


def test_a_preparation_that_raises_leaves_the_others_of_its_group_in_flight(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A message whose preparation raises (a bug of ours) ends the poll, but the messages
    waited for with it go back in flight and are written by the poll's last drain, with the
    rest; the last UID stays below the one that raised, which the next poll reads again."""
    dovecot.append(imap_user, [pec_receipt(n, "raises") for n in range(6)])
    box = dovecot.section(imap_user, batch_size=3, ingest_workers=3)
    config = dataclasses.replace(config, mailboxes=(box,))
    real = pipeline.prepare

    def prepare(raw: bytes, source: Source, *args: object) -> object:
        if source.uid == 2:
            raise RuntimeError("un errore nostro")
        return real(raw, source, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "prepare", prepare)
    with pytest.raises(RuntimeError, match="un errore nostro"):  # to the service's guard
        Poller(config, sessions, pipeline).poll_mailbox(box)
    assert _uids(sessions) == [1, 3, 4, 5, 6]
    with sessions() as session:
        state = states.get_state(session, box.name, "INBOX")
    assert state is not None and state.last_uid == 1

    monkeypatch.undo()
    report = Poller(config, sessions, pipeline).poll_mailbox(box)
    assert report.ok, report.error
    assert _uids(sessions) == [1, 2, 3, 4, 5, 6]
    with sessions() as session:
        state = states.get_state(session, box.name, "INBOX")
        shas = list(session.scalars(select(Message.sha256)))
    assert state is not None and state.last_uid == 6
    assert len(shas) == len(set(shas)) == 6


def test_the_commit_waits_for_the_batch_durability_point(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow durability point (a slow disk): the batch's COMMIT comes only once every
    archive file of the batch is durable under its final name, whatever runs meanwhile."""
    dovecot.append(imap_user, [pec_receipt(n, "slow") for n in range(4)])
    box = dovecot.section(imap_user, batch_size=4)
    real = Archive.settle
    settled: list[int] = []

    def slow_settle(self: Archive, staged: object) -> None:
        items = list(staged)  # type: ignore[call-overload]
        time.sleep(0.5)  # a slow disk
        real(self, items)
        settled.append(len(items))

    def at_commit() -> None:
        assert settled == [4], "COMMIT before the batch's archive files were durable"
        on_disk = {p.name for p in config.archive_dir.rglob("*.eml")}
        assert len(on_disk) == 4 and not list(config.archive_dir.rglob("*.tmp"))

    monkeypatch.setattr(Archive, "settle", slow_settle)
    pipeline.before_commit = at_commit
    report = Poller(dataclasses.replace(config, mailboxes=(box,)), sessions,
                    pipeline).poll_mailbox(box)
    assert report.ok, report.error
    assert report.outcomes["receipt"] == 4 and not report.outcomes["failed"]
    assert settled == [4]


def test_a_batch_whose_archive_cannot_be_made_durable_commits_none_of_it(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch's durability point fails (a disk error): nothing of the batch is committed,
    its last UID included; each message is then written alone, through the per-message guard,
    with its own settle."""
    dovecot.append(imap_user, [pec_receipt(n, "nodisk") for n in range(4)])
    box = dovecot.section(imap_user, batch_size=4)
    real = Archive.settle
    calls: list[int] = []
    seen_in_transaction: list[int] = []

    def failing_settle(self: Archive, staged: object) -> None:
        items = list(staged)  # type: ignore[call-overload]
        calls.append(len(items))
        if len(calls) == 1:
            raise ArchiveError("archivio: disco pieno (simulato)")
        real(self, items)

    def commit_of_the_batch() -> None:  # reached only by the messages written alone
        seen_in_transaction.append(1)

    monkeypatch.setattr(Archive, "settle", failing_settle)
    pipeline.before_commit = commit_of_the_batch
    report = Poller(dataclasses.replace(config, mailboxes=(box,)), sessions,
                    pipeline).poll_mailbox(box)
    assert report.ok, report.error
    assert calls == [4, 1, 1, 1, 1]  # the batch's settle, then one per message alone
    assert len(seen_in_transaction) == 4  # the four written alone, never the batch
    assert report.outcomes["receipt"] == 4 and not report.outcomes["failed"]
    with sessions() as session:
        assert sorted(_uids(sessions)) == [1, 2, 3, 4]
        shas = list(session.scalars(select(Message.sha256)))
        state = states.get_state(session, box.name, "INBOX")
    assert len(shas) == len(set(shas)) == 4
    assert state is not None and state.last_uid == 4


def test_archive_stage_is_not_an_archived_message_until_settled(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive")
    staged = archive.stage(b"From: a@b\r\n\r\nciao\r\n")
    assert staged.temporary is not None and staged.temporary.is_file()
    assert not archive.exists(staged.relative)
    archive.settle([staged])
    assert archive.read(staged.relative) == b"From: a@b\r\n\r\nciao\r\n"
    assert not staged.temporary.exists()
    archive.settle([staged])  # idempotent
    again = archive.stage(b"From: a@b\r\n\r\nciao\r\n")
    assert again.temporary is None and again.relative == staged.relative


def test_reading_on_sqlite_does_not_wait_for_the_writer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'state' / 'pec-ingest.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions() as writer, writer.begin():
        states.save_state(writer, "box", "INBOX", 1, 5)  # holds SQLite's write lock
        started = time.monotonic()
        with reading(sessions) as reader:
            count = reader.scalar(select(func.count()).select_from(Message))
        assert count == 0
        assert time.monotonic() - started < 5  # the busy timeout is 30 s


def test_at_most_two_batches_are_in_flight(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline) -> None:
    dovecot.append(imap_user, [pec_receipt(n, "flight") for n in range(12)])
    box = dovecot.section(imap_user, batch_size=3)
    poller = Poller(dataclasses.replace(config, mailboxes=(box,)), sessions, pipeline)
    in_flight: list[int] = []

    def watch(scan: FolderScan) -> None:
        scan.on_batch = lambda n: in_flight.append(len(scan.pending))

    poller.on_scan = watch
    report = poller.poll_mailbox(box)
    assert report.ok and report.outcomes["receipt"] == 12
    assert len(in_flight) == 4 and max(in_flight) == 6  # the batch in hand and the one before


def _rows(sessions: sessionmaker[Session]) -> tuple[list[tuple[object, ...]], ...]:
    """Messages, receipts and files, without what differs by nature (ids, insertion times).
    """
    from store.model import Attachment, Receipt

    skip = {"id", "first_seen_at", "created_at", "message_id"}
    with sessions() as session:
        messages = [tuple(getattr(m, c.key) for c in Message.__table__.columns
                          if c.key not in skip)
                    for m in session.scalars(select(Message).order_by(Message.uid))]
        receipts = [(r.message.uid, *(getattr(r, c.key) for c in Receipt.__table__.columns
                                      if c.key not in skip))
                    for r in session.scalars(select(Receipt))]
        files = [(a.message.uid, *(getattr(a, c.key) for c in Attachment.__table__.columns
                                   if c.key not in skip))
                 for a in session.scalars(select(Attachment).order_by(Attachment.id))]
        forms = [(v.message.uid, v.attachment.message.uid, v.attachment.filename,
                  v.attachment.role) for v in session.scalars(select(Submission))
                 if v.attachment is not None]  # each version's form: its own file
    return messages, sorted(receipts, key=lambda r: str(r[0])), files, sorted(forms)


def test_bulk_rows_are_the_rows_written_one_by_one(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline, tmp_path: Path,
        mailbox: list[SampleMessage], monkeypatch: pytest.MonkeyPatch) -> None:
    """Receipts and unrelated mail are written in bulk (one INSERT each per batch), so are the
    message rows of the batch's versions and their files: the rows are exactly those the
    one-by-one functions write (compared on a second database)."""
    invoice = b"<?xml version='1.0'?><FatturaElettronica versione='FPR12'/>\n"
    forms = {m.name: m.raw for m in mailbox}
    dovecot.append(imap_user, [pec_receipt(n, "bulk") for n in range(3)]
                   + [pec_envelope(n, attachment=invoice, tag="bulk") for n in range(3)]
                   + [forms["b-pdf"], forms["a-docx-p7m"]])
    box = dovecot.section(imap_user, batch_size=10)
    box_config = dataclasses.replace(config, mailboxes=(box,))
    bulk = Counter[str]()
    real = recording.write_plain

    def counted(session: Session, items: Sequence[recording.Plain],
                firsts: Sequence[recording.FirstRow] = (), savepoint: bool = True) -> object:
        written = real(session, items, firsts, savepoint=savepoint)
        bulk["rows"] += len(written)
        bulk["firsts"] += len(firsts)
        return written

    monkeypatch.setattr(recording, "write_plain", counted)
    expected = {"receipt": 3, "ignored": 3, "submission": 2}
    report = Poller(box_config, sessions, pipeline).poll_mailbox(box)
    assert report.ok and report.outcomes == expected, report
    assert bulk == {"rows": 6, "firsts": 2}  # every one of them went through the bulk path
    together = _rows(sessions)

    other = session_factory(make_engine(f"sqlite:///{tmp_path / 'one-by-one.db'}"))
    upgrade(other.kw["bind"])
    monkeypatch.setattr(recording, "plain_receipt", lambda *_a: None)
    monkeypatch.setattr(recording, "plain_ignored", lambda *_a: None)
    monkeypatch.setattr(recording.FirstRow, "of", staticmethod(lambda *_a: None))
    with Pipeline(box_config, other, parse=pipeline.parse) as alone:
        report = Poller(box_config, other, alone).poll_mailbox(box)
    assert report.ok and report.outcomes == expected, report
    assert bulk == {"rows": 6, "firsts": 2}  # nothing more in bulk
    assert _rows(other) == together
    assert len(together[2]) >= 2 and len(together[3]) == 2  # the versions' files among them


def test_a_duplicate_inside_a_bulk_write_sends_the_batch_one_by_one(
        dovecot: DovecotServer, imap_user: str, config: Config,
        sessions: sessionmaker[Session], pipeline: Pipeline) -> None:
    """Two different messages with the same PEC identificativo in one batch: the bulk INSERT
    is refused as a whole, rolled back, and the rows are written one by one: the first is
    recorded, the second is the duplicate; nothing else is lost."""
    first = pec_receipt(1, "twin")
    second = first.replace(b"Subject: ", b"X-Copia: 2\r\nSubject: ", 1)
    assert second != first
    dovecot.append(imap_user, [first, second, pec_receipt(2, "twin")])
    box = dovecot.section(imap_user, batch_size=10)
    report = Poller(dataclasses.replace(config, mailboxes=(box,)), sessions,
                    pipeline).poll_mailbox(box)
    assert report.ok, report.error
    assert report.outcomes == {"receipt": 2, "duplicate": 1}, report.outcomes
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 2
        state = states.get_state(session, box.name, "INBOX")
    assert state is not None and state.last_uid == 3


def test_the_batch_lookup_matches_identificativi_as_stored(
        config: Config, sessions: sessionmaker[Session], pipeline: Pipeline) -> None:
    """A message without identificativo is never the duplicate of a row stored with an empty
    one (rows written before empty Message-IDs were made None); an identificativo longer
    than its column is compared as the column keeps it (cut)."""
    from store.messages import add_message

    long_id = "<" + "x" * 600 + "@pec.example>"
    with sessions() as session, session.begin():
        for n, ident in enumerate(("", long_id)):
            add_message(session, sha256=f"{n:064d}", size=1, archive_path="x", source="file",
                        kind="posta-certificata", outcome="ignored", identificativo=ident)
    found = pipeline._lookup([("a" * 64, None, "not-pec"), ("b" * 64, long_id,
                                                             "posta-certificata")])
    assert 0 not in found.same and 0 not in found.known
    assert found.same[1].duplicate and 1 in found.known
    assert found.fresh == {"a" * 64, "b" * 64}


def _prepared(pipeline: Pipeline, raw: bytes, uid: int) -> Prepared:
    step = pipeline.prepare(raw, Source("imap", "box", "INBOX", 1, uid), durable=False)
    assert isinstance(step, Prepared), step
    return step


def test_versions_and_twins_in_one_batch(
        pipeline: Pipeline, mailbox: list[SampleMessage], sessions: sessionmaker[Session],
        caplog: pytest.LogCaptureFixture) -> None:
    """One batch: an organisation's form, its newer version, the same bytes again, another
    organisation's form. The twin is the duplicate (found in its savepoint, not by a failure
    written again alone); the newer version replaces the first in the same transaction (one
    current version per organisation at every statement)."""
    by = {m.name: m.raw for m in mailbox}
    first, newer, other = by["a-docx-p7m"], by["a-resubmission"], by["b-pdf"]
    items = [_prepared(pipeline, raw, uid)
             for uid, raw in enumerate((first, newer, newer, other), start=1)]
    with caplog.at_level(logging.WARNING, logger="pec_ingest.pipeline"):
        written = pipeline.commit_many(items, lambda _session, _outcomes: None)
    assert written.together
    assert [o.outcome for o in written.outcomes] == [
        "submission", "submission", "duplicate", "submission"]
    assert "written again alone" not in caplog.text
    with sessions() as session:
        rows = session.execute(select(Submission.id, Submission.organisation_id,
                                      Submission.is_current, Submission.superseded_by_id)
                               .order_by(Submission.id)).all()
        assert session.scalar(select(func.count()).select_from(Message)) == 3
    (_a1, org_a, cur1, by1), (a2, org_a2, cur2, by2), (_b, org_b, cur3, by3) = rows
    assert org_a == org_a2 != org_b
    assert (cur1, by1, cur2, by2, cur3, by3) == (False, a2, True, None, True, None)



def test_an_older_version_in_a_later_batch_stays_behind_the_current_one(
        pipeline: Pipeline, mailbox: list[SampleMessage],
        sessions: sessionmaker[Session]) -> None:
    by = {m.name: m.raw for m in mailbox}
    for uid, name in enumerate(("a-resubmission", "a-docx-p7m"), start=1):
        written = pipeline.commit_many([_prepared(pipeline, by[name], uid)],
                                       lambda _session, _outcomes: None)
        assert [o.outcome for o in written.outcomes] == ["submission"]
    with sessions() as session:
        (newer, cur_n, by_n), (_older, cur_o, by_o) = session.execute(select(
            Submission.id, Submission.is_current, Submission.superseded_by_id)
            .order_by(Submission.id)).all()
    assert (cur_n, by_n) == (True, None) and (cur_o, by_o) == (False, newer)


def test_a_version_rolled_back_in_its_batch_leaves_none_of_its_rows(
        pipeline: Pipeline, mailbox: list[SampleMessage], sessions: sessionmaker[Session],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A version's tables, reading, reasons and reply are inserted with its batch, after every
    message of it (one INSERT per table). A message whose savepoint is rolled back after its
    version and rows were recorded leaves none of them (on SQLite the next version may even
    get the rolled-back id): it is written again alone, and every version ends with exactly
    its own rows, as the one-by-one path writes them."""
    from store.model import Acknowledgement, ReviewReason, SubmissionTavolo
    from store.reading import SubmissionReading

    # the first message: its version and rows recorded, then it fails, in both passes
    calls = _record_submission_failing(monkeypatch, on_calls=(1, 2))
    items = _three_versions(pipeline, mailbox)
    written = pipeline.commit_many(items, lambda _session, _outcomes: None)
    assert written.together
    assert [o.outcome for o in written.outcomes] == ["submission"] * 3
    # the batch without savepoints (stopped at the first, all rolled back), again with a
    # savepoint per message (the first rolled back in its own), then the failed one alone
    assert calls["n"] == 1 + 3 + 1

    def rows(session: Session, table: type[object]) -> list[int]:
        return sorted(session.scalars(select(table.submission_id)))  # type: ignore[attr-defined]

    with sessions() as session:
        versions = sorted(session.scalars(select(Submission.id)))
        assert len(versions) == 3
        assert rows(session, SubmissionReading) == versions  # one each, none orphaned
        assert rows(session, Acknowledgement) == versions
        tavoli = Counter(rows(session, SubmissionTavolo))
        assert set(tavoli) <= set(versions)
        expected = {o.submission_id: len(_tables_of(session, o.submission_id))
                    for o in written.outcomes}
        assert tavoli == Counter({k: v for k, v in expected.items() if v})
        reasons = session.scalars(select(ReviewReason.submission_id)
                                  .where(ReviewReason.submission_id.is_not(None))).all()
        assert set(reasons) <= set(versions)


def _three_versions(pipeline: Pipeline, mailbox: list[SampleMessage]) -> list[Prepared]:
    """A batch of three versions: another organisation's form, then one organisation's form
    and its newer version."""
    by = {m.name: m.raw for m in mailbox}
    return [_prepared(pipeline, by[name], uid)
            for uid, name in enumerate(("b-pdf", "a-docx-p7m", "a-resubmission"), start=1)]


def _record_submission_failing(monkeypatch: pytest.MonkeyPatch,
                               on_calls: tuple[int, ...]) -> Counter[str]:
    """Recording a submission raises, after its version and rows were written, on these
    calls (counted from 1); the count of calls is returned."""
    real = recording.record_submission
    calls = Counter[str]()

    def failing(session: Session, *args: object) -> object:
        outcome = real(session, *args)  # type: ignore[arg-type]
        calls["n"] += 1
        if calls["n"] in on_calls:
            raise RuntimeError("injected bug after the version was written")
        return outcome

    monkeypatch.setattr(recording, "record_submission", failing)
    return calls


def _tables_of(session: Session, submission_id: int | None) -> list[str]:
    """The tables the stored parse result of a version names (what its rows must hold)."""
    parsed = session.scalar(select(Submission.parsed).where(Submission.id == submission_id))
    return [t["code"] for t in (parsed or {}).get("tavoli", [])]


def _count_nested(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the messages written in a savepoint of their own (the batch's second pass)."""
    from pec_ingest import pipeline as module

    nested = Counter[str]()
    real = module._write_nested

    def counted(*args: object) -> object:
        nested["n"] += 1
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "_write_nested", counted)
    return nested


def test_a_batch_that_writes_cleanly_takes_no_savepoint_per_message(
        pipeline: Pipeline, mailbox: list[SampleMessage], sessions: sessionmaker[Session],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Nearly every batch writes cleanly: its messages go straight into its transaction (no
    savepoint each); only a batch where one fails is written again with savepoints."""

    nested = _count_nested(monkeypatch)
    items = _three_versions(pipeline, mailbox)
    written = pipeline.commit_many(items, lambda _session, _outcomes: None)
    assert written.together
    assert [o.outcome for o in written.outcomes] == ["submission"] * 3
    assert nested["n"] == 0


@pytest.mark.parametrize("failures", [1, 2], ids=["once", "twice"])
def test_a_batch_written_again_keeps_nothing_of_its_first_pass(
        pipeline: Pipeline, mailbox: list[SampleMessage], sessions: sessionmaker[Session],
        monkeypatch: pytest.MonkeyPatch, failures: int) -> None:
    """The LAST message of a batch fails after the others were written in the pass without
    savepoints: nothing of that pass stays (numbers, organisations, versions, their rows).
    Failing once, the batch is written again and commits whole, its numbers in order, the
    caller's last UID and the commit hook once; failing twice, the other two commit with the
    batch and the third is written alone, with the next number."""
    from store.model import Acknowledgement, Organisation
    from store.reading import SubmissionReading

    # the third of each pass with the batch
    calls = _record_submission_failing(monkeypatch, on_calls=(3, 6)[:failures])
    finished: list[int] = []
    hooks: list[int] = []
    pipeline.before_commit = lambda: hooks.append(1)
    items = _three_versions(pipeline, mailbox)
    written = pipeline.commit_many(items, lambda _session, outcomes: finished.append(
        sum(o is not None for o in outcomes)))
    assert written.together
    assert [o.outcome for o in written.outcomes] == ["submission"] * 3
    assert calls["n"] == (6 if failures == 1 else 7)
    assert finished == [3 if failures == 1 else 2]  # once: the pass that commits
    assert len(hooks) == (1 if failures == 1 else 2)  # (the one written alone commits too)
    code = pipeline.config.procedure.code
    assert [o.registration_number for o in written.outcomes] == [
        f"{code}-{n:04d}" for n in (1, 2, 3)]
    with sessions() as session:
        versions = sorted(session.scalars(select(Submission.id)))
        assert sorted(o.submission_id for o in written.outcomes) == versions  # type: ignore[type-var]
        assert session.scalar(select(func.count()).select_from(Organisation)) == 2
        assert sorted(session.scalars(select(SubmissionReading.submission_id))) == versions
        assert sorted(session.scalars(select(Acknowledgement.submission_id))) == versions
        numbers = sorted(session.scalars(select(Submission.registration_number)))
        # the counter holds the numbers given in memory by the pass that committed
        assert next_registration(session, code) == (4, f"{code}-0004")
    assert numbers == [f"{code}-{n:04d}" for n in (1, 2, 3)]


def test_a_bulk_write_refused_in_the_first_pass_is_settled_in_the_second(
        pipeline: Pipeline, mailbox: list[SampleMessage], sessions: sessionmaker[Session],
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A row the batch's lookup could not see (written meanwhile by another writer) makes the
    bulk INSERT fail inside the first pass, which has no savepoint for it: the transaction is
    rolled back and the batch written again, where the bulk is refused in its savepoint and
    its messages, the versions' rows included, are written one by one (the copy a duplicate,
    the others recorded once)."""
    from pec_ingest import pipeline as module

    twin = pec_receipt(1, "meanwhile")
    by = {m.name: m.raw for m in mailbox}
    items = [_prepared(pipeline, twin, 2), _prepared(pipeline, pec_receipt(2, "meanwhile"), 3),
             _prepared(pipeline, by["b-pdf"], 4)]  # all read before the twin is written
    first = pipeline.commit_many([_prepared(pipeline, twin, 1)], lambda _s, _o: None)
    assert [o.outcome for o in first.outcomes] == ["receipt"]
    nested = _count_nested(monkeypatch)
    monkeypatch.setattr(pipeline, "_lookup", lambda keys: module.Lookup(
        {}, {sha for sha, _ident, _kind in keys}, set()))  # as if looked up before the twin
    with caplog.at_level(logging.INFO, logger="pec_ingest.pipeline"):
        written = pipeline.commit_many(items, lambda _s, _o: None)
    assert written.together
    assert [o.outcome for o in written.outcomes] == ["duplicate", "receipt", "submission"]
    [first_pass] = [r for r in caplog.records if "did not write in its batch" in r.message]
    assert first_pass.levelno == logging.INFO  # refused by the database: expected, not a bug
    assert first_pass.message.startswith("the bulk write of its receipts")  # not a message
    assert nested["n"] == 3  # the second pass: each message in a savepoint of its own
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 3
        assert session.scalar(select(func.count()).select_from(Submission)) == 1


def test_rows_written_ahead_and_left_unused_are_never_committed(
        pipeline: Pipeline, mailbox: list[SampleMessage], sessions: sessionmaker[Session],
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A version's record that (by a bug) never takes the rows its batch wrote for it: the
    batch is refused before its commit, logged as an error, and written one message at a
    time; no message row without its version is kept."""
    from pec_ingest import pipeline as module

    items = _three_versions(pipeline, mailbox)

    def forgetful(_session: Session, *_args: object) -> object:
        return module.Outcome("submission", "finta", "posta-certificata")

    monkeypatch.setattr(recording, "record_submission", forgetful)
    with caplog.at_level(logging.INFO):
        written = pipeline.commit_many(items, lambda _s, _o: None)
    assert not written.together  # one by one, through the per-message guard
    assert any(r.levelno == logging.ERROR and r.exc_info and "non usate" in str(r.exc_info[1])
               for r in caplog.records)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_a_batch_locks_the_organisations_its_forms_declare_together(
        pipeline: Pipeline, mailbox: list[SampleMessage],
        sessions: sessionmaker[Session]) -> None:
    """The organisations a batch's forms declare are locked and their versions read by one
    statement each (store.submissions.lock_organisations), not by two per version."""
    by = {m.name: m.raw for m in mailbox}
    first = pipeline.commit_many([_prepared(pipeline, by["a-docx-p7m"], 1),
                                  _prepared(pipeline, by["b-pdf"], 2)], lambda _s, _o: None)
    assert [o.outcome for o in first.outcomes] == ["submission"] * 2
    items = [_prepared(pipeline, by["a-resubmission"], 3)]
    assert items[0].first_row is not None and items[0].first_row.codice_fiscale
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    engine = sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", record)
    try:
        written = pipeline.commit_many(items, lambda _s, _o: None)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert written.together and [o.outcome for o in written.outcomes] == ["submission"]
    reading = [s for s in seen if "FROM organisations" in s]
    assert len(reading) == 2 and all(" IN (" in s for s in reading), reading
    with sessions() as session:
        rows = session.execute(select(Submission.version, Submission.is_current)
                               .order_by(Submission.id)).all()
    assert [tuple(r) for r in rows] == [(1, False), (1, True), (2, True)]
