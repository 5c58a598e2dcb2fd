"""Shared set-up of the staff-desk tests: a database filled by the real pipeline with the
sample mailbox, and a configuration file for running the commands in-process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.config import Config
from pec_ingest.pipeline import Outcome, Pipeline, Source
from pec_ingest.samples.mailbox import SampleMessage
from store.archive import Archive


@dataclass
class Desk:
    config: Config
    config_file: Path
    sessions: sessionmaker[Session]
    engine: Engine
    archive: Archive
    outcomes: dict[str, Outcome]

    def number(self, sample: str) -> str:
        found = self.outcomes[sample].registration_number
        assert found is not None, sample
        return found


def write_config(path: Path, config: Config, database_url: str) -> Path:
    path.write_text(f'[state]\ndir = "{config.state.dir}"\n\n[database]\nurl = "{database_url}"\n',
                    encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def keep_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run in-process here: keep pytest's log handlers (no stream swapped in)."""
    monkeypatch.setattr("pec_ingest.cli.setup_logging", lambda verbose: None)


@pytest.fixture(name="desk")
def desk_fixture(pipeline: Pipeline, mailbox: list[SampleMessage], migrated_engine: Engine,
         sessions: sessionmaker[Session], config: Config, database_url: str,
         tmp_path: Path) -> Iterator[Desk]:
    """The sample mailbox ingested by the real pipeline, on SQLite and PostgreSQL."""
    outcomes = {m.name: pipeline.ingest(m.raw, Source(kind="file", path=m.name))
                for m in mailbox}
    config_file = write_config(tmp_path / "pec-ingest.toml", config, database_url)
    yield Desk(config, config_file, sessions, migrated_engine, pipeline.archive, outcomes)
