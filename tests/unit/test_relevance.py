"""Relevance: an Allegato 1, or an unreadable document named by a keyword; nothing else."""

from __future__ import annotations

import hashlib
from typing import Any

from parsers.envelope import Attachment
from pec_ingest.config import RelevanceSection
from pec_ingest.isolation import IsolatedResult
from pec_ingest.relevance import decide

SETTINGS = RelevanceSection()


def att(name: str) -> Attachment:
    data = name.encode()
    return Attachment(filename=name, content_type="application/pdf", size=len(data),
                      sha256=hashlib.sha256(data).hexdigest(), data=data, path=name)


def parsed(status: str, relevance: int) -> IsolatedResult:
    result: dict[str, Any] = {"status": status, "fields": {}, "tavoli": []}
    return IsolatedResult("parsed", result, relevance)


def test_a_form_that_reads_as_allegato_is_relevant_whatever_the_subject() -> None:
    a = att("documento.pdf")
    decision = decide("Invio", [a], [(a, parsed("complete", 9))], SETTINGS)
    assert decision.relevant and decision.form is not None and decision.form[0] is a


def test_scan_with_a_keyword_in_the_subject_is_relevant() -> None:
    a = att("scansione.pdf")
    decision = decide("Adesione ai tavoli del Piano di Zona", [a],
                      [(a, parsed("needs_review", 1))], SETTINGS)
    assert decision.relevant and decision.hint == "piano di zona"


def test_timeout_with_a_keyword_in_the_file_name_is_relevant() -> None:
    a = att("Allegato_1_firmato.pdf")
    decision = decide("Invio documentazione", [a],
                      [(a, IsolatedResult("timeout", error="lettura interrotta"))], SETTINGS)
    assert decision.relevant


def test_a_readable_document_that_is_no_allegato_is_not_made_relevant_by_keywords() -> None:
    a = att("determina_45.pdf")
    decision = decide("Piano di Zona: determina di approvazione", [a],
                      [(a, parsed("incomplete", 1))], SETTINGS)
    assert not decision.relevant
    assert decision.hint == "piano di zona"  # listed for review, not recorded as adherent


def test_scan_without_any_keyword_is_ignored() -> None:
    a = att("scan001.pdf")
    decision = decide("Trasmissione atti", [a], [(a, parsed("needs_review", 1))], SETTINGS)
    assert not decision.relevant and decision.hint is None


def test_generic_words_in_names_do_not_count() -> None:
    a = att("allegato_determina.txt")
    decision = decide("Trasmissione determina n. 45", [a], [], SETTINGS)
    assert not decision.relevant and decision.hint is None
