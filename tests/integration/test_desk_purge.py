"""Retention: a dry run changes nothing; a real purge removes exactly what it listed, blanks
the personal data and keeps the figures."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from pec_ingest.config import Config
from pec_ingest.desk.errors import DeskError
from pec_ingest.desk.purge import PERSONAL_FIELDS, execute_purge, plan_purge, remove_files
from pec_ingest.desk.queue import find_submission
from store.audit import AuditEntry, MessagePurge
from store.model import Message, Submission
from store.reports import stats
from tests.integration.desk_support import Desk, desk_fixture  # noqa: F401

ROME = ZoneInfo("Europe/Rome")
BEFORE = datetime(2019, 9, 7, tzinfo=ROME)  # between a-resubmission (6/9) and g (8/9)


def closed(config: Config) -> Config:
    return dataclasses.replace(config, procedure=dataclasses.replace(
        config.procedure, closing=date(2019, 12, 31)))


def _state(desk: Desk) -> tuple[dict[int, bool], list[tuple[object, ...]]]:
    with desk.sessions() as s:
        messages = s.scalars(select(Message).order_by(Message.id)).all()
        files = {m.id: desk.archive.exists(m.archive_path) for m in messages}
        rows = [tuple(getattr(sub, f) for f in ("id", "denominazione", *PERSONAL_FIELDS))
                for sub in s.scalars(select(Submission).order_by(Submission.id))]
    return files, rows


def test_while_the_procedure_is_open_its_submissions_are_kept(desk: Desk) -> None:
    with desk.sessions() as s:
        plan = plan_purge(s, desk.archive, BEFORE, open_procedure=desk.config.procedure.code)
    assert plan.items and {i.outcome for i in plan.items} <= {"ignored", "anomaly", "receipt"}
    assert plan.kept_open == 4  # a (two versions), b, d: before 7/9
    with pytest.raises(DeskError, match="futuro"), desk.sessions() as s:
        plan_purge(s, desk.archive, datetime(2999, 1, 1, tzinfo=ROME), open_procedure=None)


def test_dry_run_changes_nothing_and_the_purge_removes_exactly_what_it_listed(
        desk: Desk) -> None:
    files_before, rows_before = _state(desk)
    assert all(files_before.values())
    with desk.sessions() as s:
        dry = plan_purge(s, desk.archive, BEFORE, open_procedure=None)
        figures_before = stats(s)
    assert _state(desk) == (files_before, rows_before)
    listed = {i.message_id for i in dry.items}
    expected = {m.message_id for name, m in desk.outcomes.items()
                if name in {"a-docx-p7m", "b-pdf", "d-scan", "a-resubmission", "sdi-invoice",
                            "other-office", "receipt-accettazione", "receipt-consegna"}}
    # (the anomaly has no legal time: it counts from when it was first seen, today)
    assert listed == expected
    with desk.sessions() as s:
        plan = plan_purge(s, desk.archive, BEFORE, open_procedure=None)
        assert plan == dry
        entry_id = execute_purge(s, desk.archive, plan, actor="anna", figures=stats(s)).id
        assert all(desk.archive.exists(f) for f in plan.files)  # nothing deleted before commit
        s.commit()
    assert remove_files(desk.archive, plan) == len(plan.files)
    files_after, _ = _state(desk)
    assert {m for m, present in files_after.items() if not present} == listed
    with desk.sessions() as s:
        assert set(s.scalars(select(MessagePurge.message_id))) == listed
        entry = s.get(AuditEntry, entry_id)
        assert entry is not None and entry.action == "purge" and entry.actor == "anna"
        assert set(entry.after["messages"]) == listed
        assert sorted(entry.after["archive_files"]) == sorted(plan.files)
        purged = find_submission(s, desk.number("b-pdf"))
        assert all(getattr(purged, f) is None for f in PERSONAL_FIELDS)
        assert purged.denominazione and purged.tavolo_codes and purged.parsed == {}
        kept = find_submission(s, desk.number("g-other-sender"))
        assert kept.legale_rappresentante is not None
        figures_after = stats(s)
        for key in ("adherents", "per_tavolo", "per_comune", "per_natura_giuridica", "late"):
            assert figures_after[key] == figures_before[key], key
        assert plan_purge(s, desk.archive, BEFORE, open_procedure=None).items == ()
