"""Scanned forms read with the real Tesseract (Italian model) and proved, end to end.

The scans are made here from generated forms of known content (``pec_ingest.samples.scans``:
pdftoppm, skew, noise, blur, JPEG, a sideways page, an identity-document page carrying the
representative's personal codice fiscale). Few and slow on purpose: each page is a real OCR.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytesseract
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parsers.limits import DEFAULT_LIMITS
from parsers.vocabulary import DEFAULT_VOCABULARY
from pec_ingest.desk.purge import PERSONAL_FIELDS
from pec_ingest.desk.render import target_lines
from pec_ingest.desk.reprocess import reprocess
from pec_ingest.isolation import ParseTask, parse_one
from pec_ingest.pipeline import Pipeline, Source
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.mailbox import COMUNE_PEC, DOCX
from pec_ingest.samples.pec import build_envelope, build_original
from pec_ingest.samples.people import Organisation, make_organisation
from pec_ingest.samples.scans import LEVELS, REALISTIC, judge_scan, make_scan
from store.model import Submission
from store.reading import reading_of, scrub_readings, search_ocr_text

pytestmark = pytest.mark.slow
MIME = {"pdf": "application/pdf", "tiff": "image/tiff", "jpeg": "image/jpeg",
        "png": "image/png"}


@pytest.fixture(scope="module", autouse=True)
def tesseract() -> None:
    """Tesseract with the Italian model and pdftoppm; under CI=true their absence fails."""
    missing = [tool for tool in ("tesseract", "pdftoppm") if shutil.which(tool) is None]
    if not missing and "ita" not in pytesseract.get_languages():
        missing.append("tesseract-ocr-ita")
    if missing:
        reason = f"mancano {', '.join(missing)} (scripts/ensure-servers.sh li installa)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"OCR richiesto in CI: {reason}")
        pytest.skip(reason)


def _read(org: Organisation, layout: str, level_index: int, fmt: str, seed: int) -> dict:
    data = make_scan(org, layout, LEVELS[level_index], fmt, seed=seed)
    result = parse_one(ParseTask(data, f"scansione.{fmt}"), DEFAULT_VOCABULARY, DEFAULT_LIMITS)
    assert result.ok and result.result is not None
    assert all(v is None for v in result.result["fields"].values())  # the child proves nothing
    return result.result


@pytest.mark.parametrize("level", [0, 2, 3, 4], ids=[LEVELS[i].name for i in (0, 2, 3, 4)])
def test_no_wrong_value_is_accepted_at_any_noise_level(level: int) -> None:
    org = make_organisation(2000 + level)
    layout, fmt = (("text", "pdf"), ("narrative", "tiff"), ("table", "jpeg"),
                   ("drawn_checkboxes", "png"))[level % 4]
    plain = _read(org, layout, level, fmt, seed=level)
    for sender in (org.pec, "studio.consulente@pec.example.it"):
        fates = judge_scan(org, plain, sender)
        assert "wrong" not in fates.values(), fates
    if LEVELS[level].sideways:
        assert plain["ocr"]["rotations"][0] in (90, 270)


def test_realistic_scans_prove_codice_fiscale_pec_and_comune_on_most() -> None:
    proved: Counter[str] = Counter()
    cases = (("text", "pdf"), ("drawn_checkboxes", "tiff"), ("narrative", "jpeg"),
             ("table", "png"))
    for i, (layout, fmt) in enumerate(cases):
        org = make_organisation(3000 + i)
        fates = judge_scan(org, _read(org, layout, 1, fmt, seed=i), org.pec)
        assert "wrong" not in fates.values(), (layout, fates)
        assert fates["denominazione"] != "proved"  # names are never accepted from OCR
        proved.update(k for k, v in fates.items() if v == "proved")
    for name in ("codice_fiscale", "pec", "comune"):
        assert proved[name] >= 3, proved
    assert proved["tavoli"] >= 1, proved  # the two forms with plain boxes (3000, 3001)


def test_without_tesseract_the_scan_goes_to_staff_with_the_reason(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    data = make_scan(make_organisation(4000), "text", REALISTIC, "png", id_page=False)
    result = parse_one(ParseTask(data, "foto.png"), DEFAULT_VOCABULARY, DEFAULT_LIMITS)
    assert result.ok and result.result is not None
    assert result.result["status"] == "needs_review"
    assert "tesseract" in result.result["ocr"]["error"]
    assert not any(result.result["fields"].values())


def _pec(org: Organisation, sender: str, name: str, data: bytes, ctype: str,
         when: datetime) -> bytes:
    original = build_original(sender=sender, to=[COMUNE_PEC], subject="Adesione Piano di Zona",
                              date=when, message_id=f"<{name}.{when:%H%M}@x.example>",
                              attachments=[(name, data, ctype)])
    return build_envelope(original, mittente=sender, destinatari=[COMUNE_PEC],
                          identificativo=f"opec.{name}.{when:%H%M}@pec.example", data=when)


def test_a_scan_through_the_pipeline_keeps_proof_suggestions_and_text(
        pipeline: Pipeline, sessions: sessionmaker[Session]) -> None:
    org = make_organisation(4100)
    first = _pec(org, org.pec, "Allegato_1.docx", build_docx(org, "table"), DOCX,
                 datetime(2019, 9, 2, 9, tzinfo=UTC))
    scan = _pec(org, org.pec, "scansione.tiff", make_scan(org, "text", REALISTIC, "tiff"),
                MIME["tiff"], datetime(2019, 9, 3, 9, tzinfo=UTC))
    assert pipeline.ingest(first, Source("file", path="first")).outcome == "submission"
    outcome = pipeline.ingest(scan, Source("file", path="scan"))
    assert outcome.outcome == "submission", outcome.reason
    with sessions() as session:
        sub = session.scalars(select(Submission).where(
            Submission.id == outcome.submission_id)).one()
        assert sub.version == 2 and sub.status == "needs_review"
        assert sub.codice_fiscale == org.codice_fiscale and sub.comune == org.comune
        assert sub.pec == org.pec and sub.email == org.email  # sender; earlier version
        assert sub.denominazione is None and sub.legale_rappresentante is None
        reading = reading_of(session, sub.id)
        assert reading is not None and reading.ocr_pages == 2
        sources = {k: v["source"] for k, v in reading.provenance.items()}
        assert sources["pec"] == "certified_sender" and sources["email"] == "earlier_version"
        assert sources["denominazione"] == "ocr_suggestion"
        assert not sub.tavoli and sources.get("tavoli") in (None, "ocr_suggestion")  # ranked
        assert reading.provenance["denominazione"]["crop_png_base64"]
        word = org.denominazione.split()[-1]
        assert sub.id in search_ocr_text(session, word)
        shown = "\n".join(target_lines(session, sub, ZoneInfo("Europe/Rome")))
        assert "PROPOSTA OCR da confermare" in shown and "Testo letto con OCR" in shown
        first_id = session.scalars(select(Submission.id).where(
            Submission.organisation_id == sub.organisation_id, Submission.version == 1)).one()
        earlier = reading_of(session, first_id)
        assert earlier is not None
        assert earlier.provenance["codice_fiscale"]["source"] == "text_layer"
    with sessions() as session, session.begin():  # read again: the same proof, not a blank
        sub = session.get_one(Submission, outcome.submission_id)
        raw = pipeline.archive.read(sub.message.archive_path)
        reprocess(session, sub, raw, config=pipeline.config, parse=pipeline.parse, actor="t")
        assert sub.codice_fiscale == org.codice_fiscale and sub.status == "needs_review"
        again = reading_of(session, sub.id)
        assert again is not None and again.provenance["email"]["source"] == "earlier_version"
    with sessions() as session, session.begin():  # retention: names and OCR text go
        scrub_readings(session, [sub.id], PERSONAL_FIELDS)
    with sessions() as session:
        kept = reading_of(session, sub.id)
        assert kept is not None and kept.ocr_text is None
        assert kept.provenance["legale_rappresentante"] == {"source": "ocr_suggestion"}
        assert kept.provenance["codice_fiscale"]["value"] == org.codice_fiscale
