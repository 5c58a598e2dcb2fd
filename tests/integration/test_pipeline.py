"""The pipeline end to end on generated PEC messages, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.isolation import ParseTask
from pec_ingest.pipeline import Pipeline, Prepared, Source
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.mailbox import COMUNE_PEC, DOCX, SampleMessage
from pec_ingest.samples.pec import build_envelope, build_original
from pec_ingest.samples.people import make_organisation
from store.model import Attachment, Message, Receipt, ReviewReason, Submission
from store.reports import current_submissions, submission_history


def counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as s:
        return {t.__name__: s.scalar(select(func.count()).select_from(t)) or 0
                for t in (Message, Attachment, Submission, Receipt, ReviewReason)}


def pec_with_form(seed: int, when: datetime, *, name: str = "Allegato_1.docx",
                  sender: str | None = None, layout: str = "table") -> bytes:
    org = make_organisation(seed)
    mittente = sender or org.pec
    original = build_original(sender=mittente, to=[COMUNE_PEC], subject="Adesione tavoli",
                              date=when, message_id=f"<m{seed}.{when.timestamp():.0f}@x.example>",
                              attachments=[(name, build_docx(org, layout), DOCX)])
    return build_envelope(original, mittente=mittente, destinatari=[COMUNE_PEC],
                          identificativo=f"opec.{seed}.{when.timestamp():.0f}@pec.example",
                          data=when)


def ingest_all(pipeline: Pipeline, messages: list[SampleMessage]) -> dict[str, object]:
    return {m.name: pipeline.ingest(m.raw, Source("file", path=m.name)) for m in messages}


def test_sample_mailbox_end_to_end(pipeline: Pipeline, mailbox: list[SampleMessage],
                                   sessions: sessionmaker[Session]) -> None:
    outcomes = ingest_all(pipeline, mailbox)
    for m in mailbox:
        got = outcomes[m.name]
        assert got.outcome == m.expect["outcome"], (m.name, got)  # type: ignore[attr-defined]
        if "late" in m.expect:
            assert got.late is m.expect["late"], m.name  # type: ignore[attr-defined]
    with sessions() as s:
        current = current_submissions(s)
        names = {sub.denominazione for sub in current}
        assert names == {m.expect["organisation"] for m in mailbox
                         if m.expect.get("outcome") == "submission"
                         and m.name != "d-scan"} | {None}  # the scan has no readable name
        assert len(current) == 7  # 8 submissions, one of them superseded
        ignored = s.scalars(select(Message).where(Message.outcome == "ignored")).all()
        assert len(ignored) == 2 and all(not m.attachments for m in ignored)
        receipts = s.scalars(select(Receipt)).all()
        assert sorted(r.kind for r in receipts) == ["accettazione", "avvenuta-consegna"]
        assert all(r.referenced_message_id == "<ack.PDZ2019-0001@comune.example>"
                   for r in receipts)


def test_resubmission_supersedes_and_keeps_history(pipeline: Pipeline,
                                                   mailbox: list[SampleMessage],
                                                   sessions: sessionmaker[Session]) -> None:
    by_name = {m.name: m for m in mailbox}
    first = pipeline.ingest(by_name["a-docx-p7m"].raw, Source())
    second = pipeline.ingest(by_name["a-resubmission"].raw, Source())
    with sessions() as s:
        sub2 = s.get(Submission, second.submission_id)
        assert sub2 is not None and sub2.is_current and sub2.version == 2
        history = submission_history(s, sub2.organisation_id)
        assert [h.registration_number for h in history] == [first.registration_number,
                                                            second.registration_number]
        assert history[0].superseded_by_id == sub2.id and not history[0].is_current
        # signed with a valid CAdES signature by the representative
        assert sub2.attachment is not None and sub2.attachment.signed
        assert sub2.attachment.signature_valid is True


def test_versions_take_their_place_by_legal_time_whatever_the_arrival_order(
        pipeline: Pipeline, sessions: sessionmaker[Session]) -> None:
    """Three versions of one organisation, written in one batch out of legal order: the middle
    one arrives last and is superseded straight away; numbers and versions follow arrival."""
    times = [datetime(2019, 9, d, 10, 0, tzinfo=UTC) for d in (2, 9, 5)]
    items = [pipeline.prepare(pec_with_form(31, when), Source("file", path=f"v{n}"),
                              durable=False) for n, when in enumerate(times)]
    written = pipeline.commit_many([i for i in items if isinstance(i, Prepared)],
                                   lambda session, outcomes: None)
    assert written.together and [o.outcome for o in written.outcomes] == ["submission"] * 3
    with sessions() as s:
        subs = {o.submission_id: s.get(Submission, o.submission_id) for o in written.outcomes}
        first, latest, late = (subs[o.submission_id] for o in written.outcomes)
        assert first is not None and latest is not None and late is not None
        assert [x.version for x in (first, latest, late)] == [1, 2, 3]
        assert latest.is_current and not first.is_current and not late.is_current
        assert first.superseded_by_id == latest.id and late.superseded_by_id == latest.id
        assert latest.superseded_by_id is None
        current = s.scalars(select(Submission).where(
            Submission.organisation_id == latest.organisation_id,
            Submission.is_current.is_(True))).all()
        assert current == [latest]


def test_duplicate_ingestion_changes_nothing(pipeline: Pipeline, mailbox: list[SampleMessage],
                                             sessions: sessionmaker[Session]) -> None:
    ingest_all(pipeline, mailbox)
    before = counts(sessions)
    again = ingest_all(pipeline, mailbox)
    assert all(o.duplicate for o in again.values())  # type: ignore[attr-defined]
    assert counts(sessions) == before


def test_same_identificativo_different_bytes_is_a_duplicate(
        pipeline: Pipeline, sessions: sessionmaker[Session]) -> None:
    raw = pec_with_form(21, datetime(2019, 9, 2, 10, 0, tzinfo=UTC))
    assert pipeline.ingest(raw, Source()).outcome == "submission"
    before = counts(sessions)
    refetched = b"X-Copied-By: archiver\r\n" + raw  # same PEC, one more header line
    out = pipeline.ingest(refetched, Source())
    assert out.duplicate and out.outcome == "duplicate"
    assert counts(sessions) == before


def test_a_message_id_the_poll_looked_up_is_not_looked_up_again_before_parsing(
        config: object, sessions: sessionmaker[Session], parser_pool: object) -> None:
    """A poll looks up the Message-IDs of a batch before downloading it; a certified envelope's
    identificativo is its Message-ID, so the pipeline does not look it up again before reading
    the forms. A copy recorded meanwhile is then found when the batch is written: still a
    duplicate, nothing recorded twice, one parse spent. Without the poll's lookup (a file, a
    command), it is looked up before parsing, as before."""
    parsed: list[str | None] = []

    def parse(tasks: list[ParseTask]) -> object:
        parsed.extend(t.filename for t in tasks)
        return parser_pool.parse_many(tasks)  # type: ignore[attr-defined]

    pipeline = Pipeline(config, sessions, parse=parse)  # type: ignore[arg-type]
    raw = pec_with_form(22, datetime(2019, 9, 2, 10, 0, tzinfo=UTC))
    ident = "opec.22.1567418400@pec.example"
    assert pipeline.ingest(raw, Source()).outcome == "submission"
    before, parsed[:] = counts(sessions), []
    copy = b"X-Copied-By: archiver\r\n" + raw
    polled = Source("imap", "box", "INBOX", 1, 7, checked_message_id=f"<{ident}>")
    step = pipeline.prepare(copy, polled, False)
    assert isinstance(step, Prepared) and len(parsed) == 1  # read: not looked up again
    [out] = pipeline.commit_many([step], lambda _session, _outcomes: None).outcomes
    assert out.duplicate and out.outcome == "duplicate"
    assert counts(sessions) == before
    parsed[:] = []
    other = b"X-Copied-By: another\r\n" + raw
    out = pipeline.ingest(other, Source())  # not looked up by a poll: found before parsing
    assert out.duplicate and parsed == []
    pipeline.close()


ROME = timezone(timedelta(hours=2))  # CEST, in force on 9 September 2019


@pytest.mark.parametrize(("when", "late"), [
    (datetime(2019, 9, 9, 23, 59, 59, tzinfo=ROME), False),
    (datetime(2019, 9, 10, 0, 0, 1, tzinfo=ROME), True),
    (datetime(2019, 9, 9, 21, 59, 0, tzinfo=UTC), False),   # 23:59 in Rome
    (datetime(2019, 9, 9, 22, 30, 0, tzinfo=UTC), True),    # 00:30 on the 10th in Rome
    (datetime(2019, 9, 9, 23, 30, 0, tzinfo=timezone(timedelta(hours=-4))), True),
])
def test_late_flag_uses_the_legal_time_in_rome(pipeline: Pipeline, when: datetime, late: bool,
                                               sessions: sessionmaker[Session]) -> None:
    out = pipeline.ingest(pec_with_form(31, when), Source())
    assert out.outcome == "submission" and out.late is late
    with sessions() as s:
        sub = s.get(Submission, out.submission_id)
        assert sub is not None and sub.late is late
        assert sub.received_at == when  # the same instant, whatever the backend


def test_pec_mismatch_and_unsigned_are_listed_for_review(
        pipeline: Pipeline, sessions: sessionmaker[Session]) -> None:
    out = pipeline.ingest(pec_with_form(41, datetime(2019, 9, 3, 9, 0, tzinfo=ROME),
                                        sender="altro@pec.example.it"), Source())
    with sessions() as s:
        sub = s.get(Submission, out.submission_id)
        assert sub is not None
        codes = {r.code for r in sub.review_reasons}
        assert codes == {"pec_mismatch", "unsigned_no_id"}
        assert sub.review_state == "pending"
        mismatch = next(r for r in sub.review_reasons if r.code == "pec_mismatch")
        assert "altro@pec.example.it" in mismatch.detail


def test_identity_document_satisfies_the_unsigned_rule(
        pipeline: Pipeline, mailbox: list[SampleMessage],
        sessions: sessionmaker[Session]) -> None:
    sample = next(m for m in mailbox if m.name == "c-acroform-late")
    out = pipeline.ingest(sample.raw, Source())
    with sessions() as s:
        sub = s.get(Submission, out.submission_id)
        assert sub is not None
        assert "unsigned_no_id" not in {r.code for r in sub.review_reasons}
        roles = {a.filename: a.role for a in sub.message.attachments}
        assert roles == {"modulo_adesione.pdf": "form", "carta_identita.pdf": "id_document"}


def test_closing_date_marks_out_of_procedure(pipeline: Pipeline,
                                             sessions: sessionmaker[Session]) -> None:
    import dataclasses

    from pec_ingest.config import ProcedureSection

    pipeline.config = dataclasses.replace(pipeline.config, procedure=ProcedureSection(
        closing=datetime(2019, 12, 31, 23, 59, tzinfo=ROME)))
    out = pipeline.ingest(pec_with_form(51, datetime(2020, 1, 7, 10, 0, tzinfo=UTC)), Source())
    with sessions() as s:
        sub = s.get(Submission, out.submission_id)
        assert sub is not None and sub.late and sub.out_of_procedure
        assert "out_of_procedure" in {r.code for r in sub.review_reasons}


def test_crash_between_archive_and_commit_loses_nothing(
        pipeline: Pipeline, sessions: sessionmaker[Session]) -> None:
    raw = pec_with_form(61, datetime(2019, 9, 4, 9, 0, tzinfo=UTC))

    def crash() -> None:
        raise RuntimeError("injected crash before commit")

    pipeline.before_commit = crash
    first = pipeline.ingest(raw, Source())
    assert first.outcome == "failed" and "injected crash" in first.reason
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 0
        msg = s.scalars(select(Message)).one()
        assert msg.outcome == "failed" and msg.failure_count == 1
        assert pipeline.archive.read(msg.archive_path) == raw  # the evidence was kept
    pipeline.before_commit = None
    second = pipeline.ingest(raw, Source())
    assert second.outcome == "submission"
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 1
        assert s.scalar(select(func.count()).select_from(Submission)) == 1


def test_repeated_crashes_quarantine_the_message(pipeline: Pipeline,
                                                 sessions: sessionmaker[Session]) -> None:
    raw = pec_with_form(71, datetime(2019, 9, 4, 9, 0, tzinfo=UTC))

    def crash() -> None:
        raise RuntimeError("boom")

    pipeline.before_commit = crash
    outcomes = [pipeline.ingest(raw, Source()).outcome for _ in range(4)]
    assert outcomes == ["failed", "failed", "quarantined", "duplicate"]
    with sessions() as s:
        msg = s.scalars(select(Message)).one()
        assert msg.outcome == "quarantined"
        reasons = s.scalars(select(ReviewReason).where(ReviewReason.message_id == msg.id)).all()
        assert [r.code for r in reasons] == ["quarantined"]


def slow_pdf(objects: int = 60000) -> bytes:
    """A PDF that takes pdfplumber many seconds: tens of thousands of tiny shapes and chars."""
    import io

    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    canvas = Canvas(buf)
    canvas.drawString(70, 800, "Allegato 1 - Denominazione: Ente lento")
    for i in range(objects):
        canvas.rect((i * 7) % 500 + 20, (i * 3) % 700 + 20, 2, 2)
        canvas.drawString((i * 11) % 500 + 20, (i * 13) % 700 + 20, "x")
    canvas.save()
    return buf.getvalue()


def test_parser_overrun_is_killed_and_leaves_a_reviewable_record(
        config: object, sessions: sessionmaker[Session]) -> None:
    from parsers.limits import DEFAULT_LIMITS
    from parsers.vocabulary import DEFAULT_VOCABULARY
    from pec_ingest.isolation import ParserPool

    when = datetime(2019, 9, 5, 10, 0, tzinfo=UTC)
    original = build_original(sender="lento@pec.example.it", to=[COMUNE_PEC],
                              subject="Allegato 1 - adesione ai tavoli", date=when,
                              message_id="<slow@x.example>",
                              attachments=[("allegato1.pdf", slow_pdf(), "application/pdf")])
    raw = build_envelope(original, mittente="lento@pec.example.it", destinatari=[COMUNE_PEC],
                         identificativo="opec.slow@pec.example", data=when)
    with ParserPool(DEFAULT_VOCABULARY, DEFAULT_LIMITS, timeout=1.5, memory_mb=768) as pool:
        pipeline = Pipeline(config, sessions, parse=pool.parse_many)  # type: ignore[arg-type]
        out = pipeline.ingest(raw, Source())
        # the pool replaced the killed child and still works
        fast = pool.parse_many([ParseTask(build_docx(make_organisation(3), "table"), "a.docx")])
    assert fast[0].ok
    assert out.outcome == "submission" and out.submission_id is not None
    with sessions() as s:
        sub = s.get(Submission, out.submission_id)
        assert sub is not None and sub.status == "needs_review"
        assert sub.review_state == "pending"
        timeout = [r for r in sub.review_reasons if r.code == "parser_timeout"]
        assert len(timeout) == 1 and "allegato1.pdf" in timeout[0].detail
        att = sub.message.attachments[0]
        assert att.parse_status == "timeout"


CRASHER = """
import sys, dataclasses, os
from pathlib import Path
from pec_ingest.config import Config, StateSection
from pec_ingest.isolation import ParseTask
from pec_ingest.pipeline import Pipeline, Source
from store.engine import make_engine, session_factory

def main():
    url, state, path = sys.argv[1:4]
    config = dataclasses.replace(Config(), state=StateSection(dir=Path(state)))
    engine = make_engine(url)
    with Pipeline(config, session_factory(engine)) as pipeline:
        pipeline.before_commit = lambda: os._exit(9)   # the process dies before COMMIT
        pipeline.ingest(Path(path).read_bytes(), Source())

if __name__ == "__main__":
    main()
"""


def test_process_killed_before_commit_loses_nothing(
        pipeline: Pipeline, database_url: str, tmp_path: object,
        sessions: sessionmaker[Session]) -> None:
    import subprocess
    import sys
    from pathlib import Path

    raw = pec_with_form(81, datetime(2019, 9, 4, 9, 0, tzinfo=UTC))
    msg_file = Path(str(tmp_path)) / "m.eml"
    msg_file.write_bytes(raw)
    script = Path(str(tmp_path)) / "crasher.py"
    script.write_text(CRASHER)
    proc = subprocess.run([sys.executable, str(script), database_url,
                           str(pipeline.config.state.dir), str(msg_file)],
                          capture_output=True, timeout=120)
    assert proc.returncode == 9, proc.stderr.decode()[-2000:]
    assert counts(sessions)["Message"] == 0  # nothing half-written
    archived = list((pipeline.config.state.dir / "archive").rglob("*.eml"))
    assert len(archived) == 1 and archived[0].read_bytes() == raw  # the evidence is there
    out = pipeline.ingest(raw, Source())
    assert out.outcome == "submission"
    assert counts(sessions)["Submission"] == 1


def test_keywords_without_an_allegato_list_the_message_but_make_no_adherent(
        pipeline: Pipeline, sessions: sessionmaker[Session]) -> None:
    when = datetime(2019, 9, 5, 10, 0, tzinfo=UTC)
    # a readable PDF that is not an Allegato 1, in a message about the Piano di Zona
    import io

    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    canvas = Canvas(buf)
    for i, line in enumerate(["Determina n. 45 del 2 settembre 2019",
                              "Oggetto: approvazione del Piano di Zona 2018/2020",
                              "Il responsabile del servizio, visti gli atti, determina "
                              "di approvare il documento allegato."] * 3):
        canvas.drawString(60, 780 - 16 * i, line)
    canvas.save()
    not_a_form = buf.getvalue()
    original = build_original(sender="ragioneria@pec.altrocomune.example", to=[COMUNE_PEC],
                              subject="Piano di Zona: determina di approvazione", date=when,
                              message_id="<det45@x.example>",
                              attachments=[("determina_45.pdf", not_a_form, "application/pdf")])
    raw = build_envelope(original, mittente="ragioneria@pec.altrocomune.example",
                         destinatari=[COMUNE_PEC], identificativo="opec.det45@pec.example",
                         data=when)
    out = pipeline.ingest(raw, Source())
    assert out.outcome == "ignored" and out.submission_id is None
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 0
        from store.model import Acknowledgement

        assert s.scalar(select(func.count()).select_from(Acknowledgement)) == 0
        reasons = s.scalars(select(ReviewReason)).all()
        assert [r.code for r in reasons] == ["no_form"]
        assert "piano di zona" in reasons[0].detail


def test_over_long_header_values_are_stored_on_both_databases(
        pipeline: Pipeline, sessions: sessionmaker[Session]) -> None:
    org = make_organisation(95)
    when = datetime(2019, 9, 4, 9, 0, tzinfo=UTC)
    long_id = "<" + "x" * 430 + "@esempio.it>"
    original = build_original(sender=org.pec, to=[COMUNE_PEC], subject="Allegato 1", date=when,
                              message_id=long_id,
                              attachments=[("Allegato_1.docx", build_docx(org, "table"), DOCX)])
    raw = build_envelope(original, mittente=org.pec, destinatari=[COMUNE_PEC],
                         identificativo="opec.long@pec.example", data=when)
    out = pipeline.ingest(raw, Source())
    assert out.outcome == "submission", out.reason
    with sessions() as s:
        msg = s.scalars(select(Message)).one()
        assert msg.riferimento_message_id is not None
        assert len(msg.riferimento_message_id) == 400  # cut to the column, not refused


def test_stats_leave_rejected_submissions_out_like_the_adherent_lists(
        pipeline: Pipeline, sessions: sessionmaker[Session]) -> None:
    from store.reports import stats

    first = pipeline.ingest(pec_with_form(97, datetime(2019, 9, 2, 9, 0, tzinfo=UTC)), Source())
    pipeline.ingest(pec_with_form(98, datetime(2019, 9, 2, 9, 5, tzinfo=UTC)), Source())
    with sessions() as s, s.begin():
        sub = s.get(Submission, first.submission_id)
        assert sub is not None
        sub.review_state = "rejected"
    with sessions() as s:
        figures = stats(s)
    assert figures["adherents"] == 1 and figures["rejected"] == 1
    assert sum(figures["per_tavolo"].values()) == len(make_organisation(98).tavoli)
