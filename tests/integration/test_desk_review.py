"""The review queue, corrections, decisions and reprocess, on a database filled by the
pipeline (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, update

from pec_ingest.desk import corrections
from pec_ingest.desk.errors import CorrectionRefused, DeskError
from pec_ingest.desk.queue import build_queue, find_submission, label
from pec_ingest.desk.reprocess import reprocess
from pec_ingest.isolation import ParserPool
from store.audit import AuditEntry, Correction, corrections_of
from store.model import Message, ReviewReason, Submission
from store.review import add_review_reason
from store.submissions import end_direct, lock_organisations, write_directly
from tests.integration.desk_support import Desk, desk_fixture  # noqa: F401

VALID_CF = "80015010152"  # an 11-digit code with a right check digit


def _counts(desk: Desk) -> tuple[int, int]:
    with desk.sessions() as s:
        return (s.scalar(select(func.count()).select_from(AuditEntry)) or 0,
                s.scalar(select(func.count()).select_from(Correction)) or 0)


def test_queue_lists_every_open_item_oldest_first_in_italian(desk: Desk) -> None:
    with desk.sessions() as s, s.begin():
        anomaly = s.scalars(select(Message).where(Message.outcome == "anomaly")).one()
        add_review_reason(s, code="quarantined", message=anomaly, detail="tre tentativi falliti")
    with desk.sessions() as s:
        items = build_queue(s)
        by_ident = {i.ident: i for i in items}
        scan, other = desk.number("d-scan"), desk.number("g-other-sender")
        assert {scan, other, f"M{anomaly.id}"} <= set(by_ident)
        assert {r.code for r in by_ident[scan].reasons} >= {"unreadable"}
        assert {r.code for r in by_ident[other].reasons} >= {"pec_mismatch"}
        assert [i.since for i in items] == sorted(i.since for i in items)
        assert items[-1].ident == f"M{anomaly.id}"  # added last, so listed last
        open_subs = s.scalars(select(ReviewReason.submission_id).where(
            ReviewReason.resolved_at.is_(None), ReviewReason.submission_id.is_not(None)))
        assert {i.submission.id for i in items if i.submission} == set(open_subs)
    assert label("pec_mismatch") == "PEC dichiarata diversa dal mittente certificato"


def test_a_bad_codice_fiscale_is_refused_and_nothing_changes(desk: Desk) -> None:
    number = desk.number("b-pdf")
    with desk.sessions() as s:
        before = find_submission(s, number).codice_fiscale
    with pytest.raises(CorrectionRefused, match="codice fiscale non valido"), \
            desk.sessions() as s, s.begin():
        corrections.set_field(s, find_submission(s, number), "codice_fiscale", "80015010154",
                              actor="anna", vocabulary=desk.config.vocabulary)
    with desk.sessions() as s:
        assert find_submission(s, number).codice_fiscale == before
    assert _counts(desk) == (0, 0)


def test_a_correction_is_normalised_audited_and_remembered(desk: Desk) -> None:
    number = desk.number("b-pdf")
    with desk.sessions() as s, s.begin():
        sub = find_submission(s, number)
        old = sub.telefono
        change = corrections.set_field(s, sub, "telefono", "  02 9278 434 ", actor="anna",
                                       vocabulary=desk.config.vocabulary)
        assert change.after == "02 9278 434" and change.before == old
    with desk.sessions() as s:
        sub = find_submission(s, number)
        assert sub.telefono == "02 9278 434"
        entry = s.scalars(select(AuditEntry)).one()
        assert (entry.actor, entry.action, entry.field) == ("anna", "set_field", "telefono")
        assert (entry.before, entry.after, entry.submission_id) == (old, "02 9278 434", sub.id)
        assert entry.at is not None and entry.at.tzinfo is not None
        assert corrections_of(s, sub.id) == {"telefono": "02 9278 434"}


def test_a_scan_typed_in_by_staff_becomes_complete_and_is_accepted(desk: Desk) -> None:
    number = desk.number("d-scan")
    with desk.sessions() as s, s.begin():
        sub = find_submission(s, number)
        assert sub.status == "needs_review" and sub.review_state == "pending"
        boxes_read = bool(sub.tavoli)  # the ticked boxes of the scan, read by OCR (issue 14)
        for field, value in (("denominazione", "Associazione Prova APS"),
                             ("codice_fiscale", VALID_CF),
                             ("legale_rappresentante", "MARIO ROSSI"),
                             ("email", "Info@Prova.IT")):
            corrections.set_field(s, sub, field, value, actor="anna",
                                  vocabulary=desk.config.vocabulary)
        before = "complete" if boxes_read else "needs_review"  # else no table yet
        assert sub.status == before
        change = corrections.set_tavoli(s, sub, "Autonomie:1, povertà:2", actor="anna")
        assert change.after == [{"code": "autonomie", "rank": 1}, {"code": "poverta", "rank": 2}]
        assert (change.status_before, change.status_after) == (before, "complete")
        corrections.decide(s, sub, "accept", actor="bruno")
    with desk.sessions() as s:
        sub = find_submission(s, number)
        assert (sub.legale_rappresentante, sub.email) == ("Mario Rossi", "info@prova.it")
        assert sub.organisation.codice_fiscale == VALID_CF
        assert sub.review_state == "accepted"
        assert all(r.resolved_at is not None for r in sub.review_reasons)
        assert number not in {i.ident for i in build_queue(s)}
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == ["set_field"] * 4 + ["set_tavoli", "accept"]


def test_another_bodys_codice_fiscale_is_refused(desk: Desk) -> None:
    with desk.sessions() as s:
        taken = find_submission(s, desk.number("b-pdf")).codice_fiscale
    assert taken
    with pytest.raises(CorrectionRefused, match="appartiene già a un altro ente"), \
            desk.sessions() as s, s.begin():
        sub = find_submission(s, desk.number("d-scan"))
        corrections.set_field(s, sub, "codice_fiscale", taken, actor="anna",
                              vocabulary=desk.config.vocabulary)
    assert _counts(desk) == (0, 0)


@pytest.mark.parametrize("spec", ["", "famiglia,famiglia", "famiglia:1,poverta",
                                  "famiglia:2", "cultura"])
def test_bad_table_choices_are_refused(desk: Desk, spec: str) -> None:
    with pytest.raises(CorrectionRefused), desk.sessions() as s, s.begin():
        corrections.set_tavoli(s, find_submission(s, desk.number("b-pdf")), spec, actor="a")
    assert _counts(desk) == (0, 0)


def test_reject_needs_a_reason_and_is_audited(desk: Desk) -> None:
    number = desk.number("g-other-sender")
    with pytest.raises(DeskError, match="motivo"), desk.sessions() as s, s.begin():
        corrections.decide(s, find_submission(s, number), "reject", actor="anna", note=" ")
    with desk.sessions() as s, s.begin():
        _, resolved = corrections.decide(s, find_submission(s, number), "reject",
                                         actor="anna", note="ente non del terzo settore")
        assert resolved >= 1
    with desk.sessions() as s:
        entry = s.scalars(select(AuditEntry)).one()
        assert (entry.action, entry.before, entry.after) == ("reject", "pending", "rejected")
        assert entry.note == "ente non del terzo settore"


def test_reprocess_keeps_staff_corrections_and_rereads_the_rest(
        desk: Desk, parser_pool: ParserPool) -> None:
    number = desk.number("b-pdf")
    with desk.sessions() as s, s.begin():
        sub = find_submission(s, number)
        parsed_comune, parsed_tavoli = sub.comune, sub.tavolo_codes
        corrections.set_field(s, sub, "telefono", "+39 02 1234567", actor="anna",
                              vocabulary=desk.config.vocabulary)
        corrections.set_tavoli(s, sub, "poverta:1,autonomie:2", actor="anna")
        # what an older, worse parser might have left behind
        s.execute(update(Submission).where(Submission.id == sub.id).values(
            comune=None, parser_warnings=["vecchio avviso"]))
    assert parsed_comune and parsed_tavoli != ["poverta", "autonomie"]
    with desk.sessions() as s, s.begin():
        sub = find_submission(s, number)
        raw = desk.archive.read(sub.message.archive_path)
        done = reprocess(s, sub, raw, config=desk.config, parse=parser_pool.parse_many,
                         actor="bruno")
        assert done.kept == ("tavoli", "telefono")
        assert done.before["comune"] is None and done.after["comune"] == parsed_comune
    with desk.sessions() as s:
        sub = find_submission(s, number)
        assert sub.comune == parsed_comune
        assert sub.parser_warnings != ["vecchio avviso"]
        assert sub.telefono == "+39 02 1234567"
        assert sub.tavolo_codes == ["poverta", "autonomie"]
        assert sub.status == "complete"
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert last is not None and (last.action, last.actor) == ("reprocess", "bruno")


@pytest.mark.parametrize("action", ["set_field", "reprocess"])
def test_a_change_to_a_current_version_waits_for_a_batch_that_holds_its_organisation(
        desk: Desk, parser_pool: ParserPool, action: str) -> None:
    """A poll's batch locks the organisations of its forms and reads their current versions
    (the PEC, for the sender-change check) until it commits: a correction or a reprocess of
    such a version waits for that commit (PostgreSQL: the organisation's row lock; SQLite:
    the batch holds the only writer's lock), so the batch never compares with a PEC changed
    under it."""
    number = desk.number("b-pdf")
    with desk.sessions() as s:
        sub = find_submission(s, number)
        code, pec = sub.organisation.codice_fiscale, sub.pec
        raw = desk.archive.read(sub.message.archive_path)
    done = threading.Event()
    errors: list[BaseException] = []

    def change() -> None:
        try:
            with desk.sessions() as s, s.begin():
                sub = find_submission(s, number)
                if action == "set_field":
                    corrections.set_field(s, sub, "pec", "altra@pec.example.it", actor="anna",
                                          vocabulary=desk.config.vocabulary)
                else:
                    reprocess(s, sub, raw, config=desk.config, parse=parser_pool.parse_many,
                              actor="bruno")
            done.set()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    with desk.sessions() as batch, batch.begin():
        write_directly(batch)
        lock_organisations(batch, [code])
        worker = threading.Thread(target=change)
        worker.start()
        assert not done.wait(1.5), "changed while a batch held the organisation"
        end_direct(batch)
    worker.join(timeout=60)
    assert not errors, errors
    assert done.is_set()
    if action == "set_field":
        with desk.sessions() as s:  # written once the batch let go of the organisation
            assert find_submission(s, number).pec == "altra@pec.example.it" != pec
