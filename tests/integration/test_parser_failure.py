"""A bug in our own reader is an internal error, never a damaged file: a real parser child
hits an exception nobody expected; the message is recorded for review with "errore interno del
lettore", the traceback is in the log, and the next document is read normally."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from parsers.limits import DEFAULT_LIMITS
from parsers.vocabulary import DEFAULT_VOCABULARY
from pec_ingest.config import Config
from pec_ingest.isolation import ParserPool, ParseTask
from pec_ingest.pipeline import Pipeline, Source
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.mailbox import COMUNE_PEC, DOCX
from pec_ingest.samples.pec import build_envelope, build_original
from pec_ingest.samples.people import make_organisation
from store.model import Submission


def test_an_internal_error_of_the_reader_is_parser_failed_with_its_traceback(
        config: Config, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture) -> None:
    # a vocabulary of the wrong type makes the field extractor fail inside the child: a
    # stand-in for any bug of ours (AttributeError deep in parsers/)
    broken = dataclasses.replace(DEFAULT_VOCABULARY, stop_labels=(3,))  # type: ignore[arg-type]
    org = make_organisation(5)
    when = datetime(2019, 9, 5, 10, 0, tzinfo=UTC)
    original = build_original(sender=org.pec, to=[COMUNE_PEC], subject="Allegato 1 adesione",
                              date=when, message_id="<bug@x.example>",
                              attachments=[("Allegato_1.docx", build_docx(org, "table"), DOCX)])
    raw = build_envelope(original, mittente=org.pec, destinatari=[COMUNE_PEC],
                         identificativo="opec.bug@pec.example", data=when)
    with ParserPool(broken, DEFAULT_LIMITS, timeout=30, memory_mb=768, size=1) as pool:
        pipeline = Pipeline(config, sessions, parse=pool.parse_many)
        with caplog.at_level(logging.ERROR, logger="pec_ingest.pipeline"):
            out = pipeline.ingest(raw, Source())
    assert out.outcome == "submission" and out.submission_id is not None
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "parser_failed" in logged and "Traceback" in logged and "AttributeError" in logged
    with sessions() as s:
        sub = s.get(Submission, out.submission_id)
        assert sub is not None and sub.status == "needs_review"
        reasons = [r for r in sub.review_reasons if r.code == "parser_failed"]
        assert len(reasons) == 1
        assert "errore interno del lettore" in reasons[0].detail
        assert "danneggiat" not in reasons[0].detail and "Error" not in reasons[0].detail
        assert sub.message.attachments[0].parse_status == "failed"


def test_the_pool_keeps_reading_after_an_internal_error() -> None:
    broken = dataclasses.replace(DEFAULT_VOCABULARY, stop_labels=(3,))  # type: ignore[arg-type]
    data = build_docx(make_organisation(6), "table")
    with ParserPool(broken, DEFAULT_LIMITS, timeout=30, memory_mb=768, size=1) as bad, \
            ParserPool(DEFAULT_VOCABULARY, DEFAULT_LIMITS, timeout=30, memory_mb=768,
                       size=1) as good:
        first = bad.parse(ParseTask(data, "a.docx"))
        again = bad.parse(ParseTask(data, "a.docx"))
        fine = good.parse(ParseTask(data, "a.docx"))
    assert first.outcome == again.outcome == "parser_failed"
    assert first.trace is not None and "vocabulary.py" in first.trace
    assert fine.ok
