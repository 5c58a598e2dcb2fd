"""The real PEC messages of ../shared/corpus/pec through the whole pipeline, both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.pipeline import Pipeline, Source
from store.model import Message, Receipt, Submission

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "pec"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")

# Nothing in the corpus is an Allegato 1: receipts are receipts, the rest is unrelated mail.
EXPECTED = {
    "biagioT_accettazione.eml": "receipt",
    "biagioT_consegna.eml": "receipt",
    "gopec_email_2.eml": "receipt",
    "gopec_email_3.eml": "ignored",
    "lucasaba_postacert_standard_plain_and_html.eml": "ignored",
    "oca7_pec_messages_message1.eml": "ignored",
    "oca7_pec_messages_message2.eml": "ignored",
    "oca7_pec_messages_message2_accettazione.eml": "receipt",
    "oca7_pec_messages_message2_consegna.eml": "receipt",
    "oca_ACCETTAZIONE_IT03339130126_00009.xml.eml": "receipt",
    "oca_CONSEGNA_IT03339130126_00009.xml.eml": "receipt",
    "oca_POSTA_CERTIFICATA_Invio_File_7339338.eml": "ignored",
    "oca_POSTA_CERTIFICATA_Ricevuta_di_consegna_6782414.eml": "ignored",
    "oca_POSTA_CERTIFICATA_mancata_consegna.eml": "ignored",
}


def test_every_corpus_message_gets_its_outcome(pipeline: Pipeline,
                                               sessions: sessionmaker[Session]) -> None:
    files = sorted(CORPUS.glob("*.eml"))
    assert {f.name for f in files} == set(EXPECTED)
    got = {f.name: pipeline.ingest(f.read_bytes(), Source("file", path=str(f))).outcome
           for f in files}
    assert got == EXPECTED
    again = {f.name: pipeline.ingest(f.read_bytes(), Source()).outcome for f in files}
    assert set(again.values()) == {"duplicate"}
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == len(files)
        assert s.scalar(select(func.count()).select_from(Submission)) == 0
        receipts = s.scalars(select(Receipt)).all()
        assert len(receipts) == 7
        errore = next(r for r in receipts if r.kind == "errore-consegna")
        assert errore.errore == "no-dest"
        assert all(r.referenced_message_id and r.referenced_message_id.startswith("<")
                   for r in receipts)
