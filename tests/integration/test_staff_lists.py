"""What staff could not see or could do wrongly: the mail left on the server (``skipped``),
an acknowledgement for a rejected submission (refused), exit codes for bad dates."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.cli import main
from pec_ingest.config import Config
from pec_ingest.pipeline import Pipeline
from pec_ingest.poller import Poller
from store.model import Acknowledgement
from tests.dovecot import DovecotServer, plain_mail
from tests.integration.desk_support import Desk, desk_fixture, keep_logging, write_config  # noqa: F401


def test_skipped_mail_is_listed(dovecot: DovecotServer, imap_user: str, config: Config,
                                sessions: sessionmaker[Session], pipeline: Pipeline,
                                database_url: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    dovecot.append(imap_user, [plain_mail(1), plain_mail(2)])
    box = dovecot.section(imap_user)
    report = Poller(dataclasses.replace(config, mailboxes=(box,)), sessions,
                    pipeline).poll_mailbox(box)
    assert report.ok and report.skipped == 2
    config_file = write_config(tmp_path / "c.toml", config, database_url)
    assert main(["--config", str(config_file), "skipped"]) == 0
    out = capsys.readouterr().out
    assert "2 messaggi non scaricati" in out and "mario.rossi@example.org" in out
    assert "Ciao 1" in out and "Ciao 2" in out
    assert main(["--config", str(config_file), "skipped", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["uid"] for r in rows} == {1, 2} and {r["mailbox"] for r in rows} == {box.name}
    assert main(["--config", str(config_file), "skipped", "--since", "31/02/2019"]) == 2


def test_no_acknowledgement_for_a_rejected_submission(desk: Desk,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    number = desk.number("b-pdf")
    config = ["--config", str(desk.config_file)]
    assert main([*config, "review", "reject", number, "--reason", "doppione"]) == 0
    with desk.sessions() as session:
        before = session.scalar(select(func.count()).select_from(Acknowledgement))
    capsys.readouterr()
    assert main([*config, "acks", "send", number]) == 2
    assert "respinta" in capsys.readouterr().err
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Acknowledgement)) == before
    assert main([*config, "adherents", "--since", "ieri"]) == 2
