"""Registration numbers follow the legal receipt time within a poll (and within an ``ingest``
run), whatever order the mailbox or the thread pool hands the messages over; and ``ingest``
says what it could not read."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.cli import main
from pec_ingest.config import Config
from pec_ingest.pipeline import Pipeline
from pec_ingest.poller import Poller
from pec_ingest.samples.mailbox import SampleMessage
from store.model import Submission
from tests.dovecot import DovecotServer
from tests.integration.desk_support import keep_logging, write_config  # noqa: F401


def _numbers_by_time(sessions: sessionmaker[Session]) -> list[tuple[int, object]]:
    with sessions() as session:
        subs = session.scalars(select(Submission).order_by(Submission.registration_seq)).all()
        return [(s.registration_seq, s.received_at) for s in subs]


def test_poll_numbers_follow_legal_time(dovecot: DovecotServer, imap_user: str, config: Config,
                                        sessions: sessionmaker[Session], pipeline: Pipeline,
                                        mailbox: list[SampleMessage]) -> None:
    # newest first in the mailbox: UID order (and thread completion) is the reverse of time
    dovecot.append(imap_user, [m.raw for m in reversed(mailbox)])
    box = dovecot.section(imap_user)
    poller = Poller(dataclasses.replace(config, mailboxes=(box,)), sessions, pipeline)
    report = poller.poll_mailbox(box)
    assert report.ok, report.error
    numbered = _numbers_by_time(sessions)
    assert len(numbered) == 8
    times = [when for _, when in numbered]
    assert times == sorted(times), numbered  # number 1 is the earliest receipt


def test_ingest_numbers_follow_legal_time_and_reports_non_mail(
        config: Config, database_url: str, mailbox: list[SampleMessage], tmp_path: Path,
        sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "posta"
    folder.mkdir()
    for i, m in enumerate(reversed(mailbox)):  # file names sort newest first
        (folder / f"{i:02d}-{m.name}.eml").write_bytes(m.raw)
    (folder / "vuoto.eml").write_bytes(b"")
    (folder / "foto.eml").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    empty = tmp_path / "niente"
    empty.mkdir()
    config_file = write_config(tmp_path / "c.toml", config, database_url)
    assert main(["--config", str(config_file), "ingest", str(empty)]) == 2
    out = capsys.readouterr()
    assert "nessun messaggio" in out.err and "totale: nessun messaggio" in out.out
    assert main(["--config", str(config_file), "ingest", str(folder)]) == 2
    out = capsys.readouterr()
    assert "vuoto.eml: non letto - file vuoto" in out.out
    assert "foto.eml: non letto - non è un messaggio di posta" in out.out
    assert "domanda registrata" in out.out and ": submission" not in out.out
    times = [when for _, when in _numbers_by_time(sessions)]
    assert len(times) == 8 and times == sorted(times)
