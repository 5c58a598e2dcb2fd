"""A codice fiscale is public: a PEC from another certified sender carrying an organisation's
code must not replace that organisation's application by itself. It is recorded, held for
staff with both senders named, and becomes current only when staff accept it (audited); a
reprocess does not promote it. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.ack.compose import build
from pec_ingest.desk import corrections
from pec_ingest.desk.reprocess import reprocess
from pec_ingest.isolation import ParserPool
from pec_ingest.pipeline import Outcome, Pipeline, Source
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.mailbox import COMUNE_PEC, DOCX
from pec_ingest.samples.pec import build_envelope, build_original
from pec_ingest.samples.people import Organisation, make_organisation
from store.audit import audit_trail
from store.model import Acknowledgement, Submission
from store.reports import current_submissions

T0 = datetime(2019, 9, 2, 9, 0, tzinfo=timezone(timedelta(hours=2)))
INTRUDER = "intruso@pec.altroente.it"


def send(pipeline: Pipeline, org: Organisation, sender: str, minutes: int) -> Outcome:
    when = T0 + timedelta(minutes=minutes)
    original = build_original(sender=sender, to=[COMUNE_PEC], subject="Allegato 1", date=when,
                              message_id=f"<t{minutes}@x.example>",
                              attachments=[("Allegato_1.docx", build_docx(org, "table"), DOCX)])
    raw = build_envelope(original, mittente=sender, destinatari=[COMUNE_PEC],
                         identificativo=f"opec.takeover.{minutes}@pec.example", data=when)
    outcome = pipeline.ingest(raw, Source("file", path=f"{minutes}.eml"))
    assert outcome.outcome == "submission", outcome.reason
    return outcome


def test_another_sender_with_the_same_code_is_held_for_staff(
        pipeline: Pipeline, sessions: sessionmaker[Session], parser_pool: ParserPool) -> None:
    org = make_organisation(301)
    fake = dataclasses.replace(org, denominazione="Associazione Intrusi", pec=INTRUDER,
                               telefono="3330000000")
    first = send(pipeline, org, org.pec, 0)
    held = send(pipeline, fake, INTRUDER, 10)
    with sessions() as s:
        [row] = current_submissions(s)
        assert row.id == first.submission_id and row.message.sender == org.pec
        assert row.organisation.denominazione == org.denominazione
        sub = s.get(Submission, held.submission_id)
        assert sub is not None and not sub.is_current and sub.superseded_by_id is None
        assert sub.review_state == "pending"
        [reason] = [r for r in sub.review_reasons if r.code == "organisation_conflict"]
        assert INTRUDER in (reason.detail or "") and org.pec in (reason.detail or "")
        acks = {a.submission_id: a for a in s.scalars(select(Acknowledgement))}
        assert acks[first.submission_id].to_address == org.pec
        intruder = acks[held.submission_id]  # gets only its own reply, which says so
        assert intruder.to_address == INTRUDER
        body = build(pipeline.config, intruder, datetime.now(UTC)).get_body(("plain",))
        assert body is not None and "NON sostituisce" in body.get_content()
        assert "sostituisce quella inviata in precedenza" not in body.get_content()

    with sessions() as s, s.begin():  # reprocess: still held
        sub = s.get(Submission, held.submission_id)
        assert sub is not None
        reprocess(s, sub, pipeline.archive.read(sub.message.archive_path),
                  config=pipeline.config, parse=parser_pool.parse_many, actor="anna")
    with sessions() as s:
        [row] = current_submissions(s)
        assert row.id == first.submission_id

    with sessions() as s, s.begin():  # staff accept: it becomes current, audited
        sub = s.get(Submission, held.submission_id)
        assert sub is not None
        corrections.decide(s, sub, "accept", actor="anna", note="cambio PEC verificato")
    with sessions() as s:
        [row] = current_submissions(s)
        assert row.id == held.submission_id
        old = s.get(Submission, first.submission_id)
        assert old is not None and old.superseded_by_id == held.submission_id
        trail = audit_trail(s, submission_id=held.submission_id)
        assert [(e.action, e.field, e.after) for e in trail if e.field == "is_current"] == [
            ("accept", "is_current", True)]


def test_the_same_sender_or_the_declared_pec_replaces_as_before(
        pipeline: Pipeline, sessions: sessionmaker[Session]) -> None:
    org = make_organisation(302)
    send(pipeline, org, org.pec, 0)
    second = send(pipeline, org, org.pec, 5)
    moved = dataclasses.replace(org, pec="nuova.pec@pec.esempio.it")
    third = send(pipeline, moved, "consulente@pec.esempio.it", 7)  # held: not declared
    declared = send(pipeline, moved, org.pec, 9)  # the declared PEC declares a new one
    fourth = send(pipeline, moved, "nuova.pec@pec.esempio.it", 12)  # now the declared PEC
    with sessions() as s:
        assert s.get(Submission, second.submission_id).superseded_by_id == \
            declared.submission_id  # type: ignore[union-attr]
        assert not s.get(Submission, third.submission_id).is_current  # type: ignore[union-attr]
        [row] = current_submissions(s)
        assert row.id == fourth.submission_id
