"""Shared set-up of the staff-desk tests: a database filled by the real pipeline with the
sample mailbox, and a configuration file for running the commands in-process."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.config import Config
from pec_ingest.pipeline import Outcome, Pipeline, Source
from pec_ingest.samples.mailbox import SampleMessage
from store.archive import Archive
from store.migration import MIGRATIONS_DIR

DRAFT = Path("/tmp/desk_draft/staff_desk.py")


def ensure_desk_schema(engine: Engine) -> None:
    """Until the desk migration is in place, apply its draft (development only)."""
    if any("staff_desk" in p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py")):
        return
    spec = importlib.util.spec_from_file_location("desk_draft", DRAFT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
        module.upgrade()


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
    ensure_desk_schema(migrated_engine)
    outcomes = {m.name: pipeline.ingest(m.raw, Source(kind="file", path=m.name))
                for m in mailbox}
    config_file = write_config(tmp_path / "pec-ingest.toml", config, database_url)
    yield Desk(config, config_file, sessions, migrated_engine, pipeline.archive, outcomes)
