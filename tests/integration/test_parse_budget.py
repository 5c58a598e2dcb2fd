"""The parse work of one message is bounded (``[parser] message_budget_seconds`` and
``max_candidates``): a message over it is recorded for review, in bounded time, and what was
not read is said; the pipeline's own parser pool (real children) applies it."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.config import Config, ParserSection
from pec_ingest.pipeline import Pipeline, Source
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.mailbox import COMUNE_PEC, DOCX
from pec_ingest.samples.pec import build_envelope, build_original
from pec_ingest.samples.people import make_organisation
from store.model import ReviewReason, Submission
from tests.integration.test_pipeline import slow_pdf

WHEN = datetime(2019, 9, 5, 10, 0, tzinfo=UTC)


def _message(tag: str, attachments: list[tuple[str, bytes, str]], subject: str) -> bytes:
    original = build_original(sender=f"{tag}@pec.example.it", to=[COMUNE_PEC], subject=subject,
                              date=WHEN, message_id=f"<{tag}@x.example>", attachments=attachments)
    return build_envelope(original, mittente=f"{tag}@pec.example.it", destinatari=[COMUNE_PEC],
                          identificativo=f"opec.{tag}@pec.example", data=WHEN)


def _with(config: Config, **parser: float) -> Config:
    return dataclasses.replace(config, parser=dataclasses.replace(ParserSection(), **parser))


def test_a_message_over_its_parse_budget_is_recorded_for_review_in_bounded_time(
        config: Config, sessions: sessionmaker[Session]) -> None:
    slow = slow_pdf()  # about 30 s of layout each
    raw = _message("budget", [(f"allegato{i}.pdf", slow, "application/pdf") for i in range(4)],
                   "Allegato 1 - adesione ai tavoli")
    budget = 3.0
    started = time.monotonic()
    with Pipeline(_with(config, timeout_seconds=budget, message_budget_seconds=budget),
                  sessions) as pipeline:
        out = pipeline.ingest(raw, Source())
    elapsed = time.monotonic() - started
    assert elapsed < budget + 20  # room for starting the children on a busy machine
    assert out.outcome == "submission" and out.submission_id is not None
    with sessions() as s:
        sub = s.get(Submission, out.submission_id)
        assert sub is not None and sub.status == "needs_review"
        statuses = sorted(a.parse_status for a in sub.message.attachments)
        assert set(statuses) <= {"timeout", "skipped"} and "skipped" in statuses
        codes = [r.code for r in sub.review_reasons]
        assert "parser_timeout" in codes
        details = " ".join(r.detail for r in sub.review_reasons)
        assert "limite di lettura" in details


def test_at_most_max_candidates_attachments_are_read_and_the_rest_is_listed(
        config: Config, sessions: sessionmaker[Session]) -> None:
    org = make_organisation(11)
    form = build_docx(org, "table")
    others = [(f"altro{i}.docx", build_docx(make_organisation(20 + i), "table"), DOCX)
              for i in range(2)]
    raw = _message("many", [("Allegato_1.docx", form, DOCX), *others], "Adesione tavoli")
    with Pipeline(_with(config, max_candidates=1), sessions) as pipeline:
        out = pipeline.ingest(raw, Source())
    assert out.outcome == "submission" and out.submission_id is not None
    with sessions() as s:
        sub = s.get(Submission, out.submission_id)
        assert sub is not None
        by_name = {a.filename: a.parse_status for a in sub.message.attachments}
        assert by_name == {"Allegato_1.docx": "parsed", "altro0.docx": "skipped",
                           "altro1.docx": "skipped"}
        unread = [r for r in sub.review_reasons if r.code == "parser_timeout"]
        assert len(unread) == 1 and "altro0.docx, altro1.docx" in unread[0].detail


def test_an_unread_message_without_a_form_is_not_silently_ignored(
        config: Config, sessions: sessionmaker[Session]) -> None:
    raw = _message("quiet", [(f"x{i}.docx", build_docx(make_organisation(30 + i), "table"), DOCX)
                             for i in range(2)], "varie")
    with Pipeline(_with(config, max_candidates=0), sessions) as pipeline:
        # max_candidates=0 is refused by the config check; here it stands for "nothing read"
        out = pipeline.ingest(raw, Source())
    with sessions() as s:
        assert out.outcome == "ignored" and "non letti" in out.reason
        reasons = s.scalars(select(ReviewReason).where(
            ReviewReason.message_id == out.message_id)).all()
        assert [r.code for r in reasons] == ["no_form"]
