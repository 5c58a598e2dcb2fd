"""The real PEC messages of ../shared/corpus/pec: classification, signature verdicts, fields.

Expected values were written down after reading each file; signature verdicts are those of
``openssl smime -verify -noverify`` as listed in the corpus README.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from parsers.envelope import PecMessage, parse_envelope

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "pec"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"PEC corpus not found at {CORPUS}")

KIND = {
    "biagioT_accettazione.eml": "accettazione",
    "biagioT_consegna.eml": "errore-consegna",
    "gopec_email_2.eml": "avvenuta-consegna",
    "gopec_email_3.eml": "posta-certificata",
    "lucasaba_postacert_standard_plain_and_html.eml": "not-pec",
    "oca7_pec_messages_message1.eml": "posta-certificata",
    "oca7_pec_messages_message2.eml": "posta-certificata",
    "oca7_pec_messages_message2_accettazione.eml": "accettazione",
    "oca7_pec_messages_message2_consegna.eml": "avvenuta-consegna",
    "oca_ACCETTAZIONE_IT03339130126_00009.xml.eml": "accettazione",
    "oca_CONSEGNA_IT03339130126_00009.xml.eml": "avvenuta-consegna",
    "oca_POSTA_CERTIFICATA_Invio_File_7339338.eml": "posta-certificata",
    "oca_POSTA_CERTIFICATA_Ricevuta_di_consegna_6782414.eml": "posta-certificata",
    "oca_POSTA_CERTIFICATA_mancata_consegna.eml": "posta-certificata",
}
VERIFIES = {
    "oca_ACCETTAZIONE_IT03339130126_00009.xml.eml",
    "oca_CONSEGNA_IT03339130126_00009.xml.eml",
    "oca_POSTA_CERTIFICATA_Invio_File_7339338.eml",
    "oca_POSTA_CERTIFICATA_Ricevuta_di_consegna_6782414.eml",
    "oca7_pec_messages_message1.eml",
    "oca7_pec_messages_message2.eml",
    "oca7_pec_messages_message2_accettazione.eml",
    "oca7_pec_messages_message2_consegna.eml",
}
UNSIGNED = {"lucasaba_postacert_standard_plain_and_html.eml"}
CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))
# file: (sender, identificativo, data, [(attachment name, size)])
FIELDS = {
    "biagioT_accettazione.eml": (
        "sender@fakepec.it", "opec210312.20241115182038.288127.606.1.53@fakepec.it",
        datetime(2024, 11, 15, 18, 20, 38, tzinfo=CET), [],
    ),
    "biagioT_consegna.eml": (
        "sender@fakepec.it", "opec210312.20241115182038.288127.606.1.53@fakepec.it",
        datetime(2024, 11, 15, 18, 21, 3, tzinfo=CET), [],
    ),
    "gopec_email_2.eml": (
        "example.example.com", "CZPXCJRZKQDRVYXFAZYUIAWNACDAAHEVAEXAKN@example.com",
        datetime(2021, 5, 13, 14, 35, 30, tzinfo=CEST), [("=pdf.pdf?=", 3), ("=pdf.pdf?=", 3)],
    ),
    "gopec_email_3.eml": (
        "no-reply@example.com", "CZPXCJRZKQDRVYXFAZYUIAWNACDAAHEVAEXAKN@example.com",
        datetime(2021, 5, 14, 12, 2, 8, tzinfo=CEST), [],
    ),
    "oca7_pec_messages_message1.eml": (
        "thinkstudio@pec.it", "opec275.20141107165200.03048.08.1.17@pec.aruba.it",
        datetime(2014, 11, 7, 16, 52, 0, tzinfo=CET), [],
    ),
    "oca7_pec_messages_message2.eml": (
        "thinkstudio@pec.it", "opec275.20141127151216.06559.08.1.17@pec.aruba.it",
        datetime(2014, 11, 27, 15, 12, 16, tzinfo=CET), [],
    ),
    "oca7_pec_messages_message2_accettazione.eml": (
        "l.battistini@pec.it", "opec275.20141114182632.23219.07.1.48@pec.aruba.it",
        datetime(2014, 11, 14, 18, 26, 32, tzinfo=CET), [],
    ),
    "oca_CONSEGNA_IT03339130126_00009.xml.eml": (
        "l.battistini@pec.it", "opec288.20181113163926.01838.310.1.63@pec.aruba.it",
        datetime(2018, 11, 13, 16, 39, 27, tzinfo=CET), [("IT03339130126_00009.xml", 2126)],
    ),
    "oca_POSTA_CERTIFICATA_Invio_File_7339338.eml": (
        "sdi03@pec.fatturapa.it", "opec288.20181208122618.17535.2665.1.3@pcert.sogei.it",
        datetime(2018, 12, 8, 12, 26, 18, tzinfo=CET),
        [("IT02652600210_00007_MT_002.xml", 446), ("IT02652600210_00007.xml", 63126)],
    ),
    "oca_POSTA_CERTIFICATA_Ricevuta_di_consegna_6782414.eml": (
        "sdi03@pec.fatturapa.it", "opec288.20181113164732.05177.8374.1.1@pcert.sogei.it",
        datetime(2018, 11, 13, 16, 47, 32, tzinfo=CET), [("IT03339130126_00009_RC_003.xml", 4131)],
    ),
    "oca_POSTA_CERTIFICATA_mancata_consegna.eml": (
        "sdi48@pec.fatturapa.it", None, None, [("IT14627831002_02621_MC_001.xml", 4665)],
    ),
}  # fmt: skip


def parse(name: str) -> PecMessage:
    return parse_envelope((CORPUS / name).read_bytes())


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(KIND)


@pytest.mark.parametrize("name", sorted(KIND))
def test_classification_and_no_exception(name: str) -> None:
    start = time.perf_counter()
    message = parse(name)
    assert time.perf_counter() - start < 15.0  # hang guard
    assert message.kind == KIND[name]


@pytest.mark.parametrize("name", sorted(KIND))
def test_signature_verdict_matches_openssl(name: str) -> None:
    signature = parse(name).signature
    if name in UNSIGNED:
        assert (signature.present, signature.valid) == (False, None)
    elif name in VERIFIES:
        assert (signature.present, signature.valid) == (True, True), signature.reason
        assert signature.signer in ("Posta Certificata ARUBA PEC", "Posta Certificata Sogei")
    else:
        assert (signature.present, signature.valid) == (True, False)
        assert signature.reason


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not installed")
@pytest.mark.parametrize("name", sorted(KIND))
def test_openssl_agrees_where_installed(name: str) -> None:
    command = ["openssl", "smime", "-verify", "-noverify", "-in", str(CORPUS / name)]
    completed = subprocess.run(
        [*command, "-out", "/dev/null"],
        capture_output=True,
        check=False,
    )
    assert (completed.returncode == 0) is (parse(name).signature.valid is True)


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_spot_check_fields(name: str) -> None:
    sender, identificativo, data, attachments = FIELDS[name]
    message = parse(name)
    assert message.sender == sender
    if identificativo is None:
        assert message.daticert is None
    else:
        assert message.daticert is not None
        assert message.daticert.identificativo == identificativo
        assert data is not None
        assert message.daticert.data == data
        assert message.daticert.data is not None
        assert message.daticert.data.utcoffset() == data.utcoffset()
    assert [(a.filename, a.size) for a in message.attachments] == attachments


def test_sogei_breve_receipt_kind_and_msgid() -> None:
    message = parse("oca_POSTA_CERTIFICATA_Invio_File_7339338.eml")
    assert message.daticert is not None
    assert message.daticert.ricevuta == "breve"
    assert message.daticert.msgid == "<4163125586355393.1544268377979@pec.fatturapa.it>"
    assert message.riferimento_message_id == message.daticert.msgid
    assert message.original_subject == "Invio File 7339338 (SIMULAZIONE)"
    assert message.warnings == ()


def test_delivery_failure_with_stray_character_in_daticert() -> None:
    message = parse("biagioT_consegna.eml")
    assert message.daticert is not None
    assert message.daticert.errore == "no-dest"
    assert message.daticert.errore_esteso == "5.1.1 - FAKE Pec S.p.A. - indirizzo non valido"
    assert message.daticert.consegna == "rec@fakepec.it"
    assert message.daticert.msgid == "<SN05IE$951DEC16C1CFD3E4FD8FF1B1D24A99AE@fakepec.it>"
    assert "daticert.xml contiene testo estraneo tra gli elementi (ignorato)" in message.warnings


def test_envelope_without_daticert() -> None:
    message = parse("oca_POSTA_CERTIFICATA_mancata_consegna.eml")
    assert "daticert.xml assente" in message.warnings
    assert message.riferimento_message_id == "<29868973923542086.1546634040973@pec.fatturapa.it>"
    assert message.signature.reason is not None and "alterato" in message.signature.reason


def test_full_delivery_receipt_keeps_postacert_bytes_exactly() -> None:
    raw = (CORPUS / "oca_CONSEGNA_IT03339130126_00009.xml.eml").read_bytes()
    message = parse_envelope(raw)
    assert message.original is not None
    assert message.original in raw
    assert message.original.startswith(b"Received: from [127.0.1.1] (dynamic-adsl-78-12-86-96")
    assert message.original.endswith(b"\n--===============3780602758959172333==--\n")
    assert message.original_subject == "IT03339130126_00009.xml"
    assert message.attachments[0].sha256.startswith("e047bcec067b53bc")
    assert message.attachments[0].path == "postacert.eml/IT03339130126_00009.xml"


def test_bare_postacert_is_not_pec_with_its_own_attachments() -> None:
    message = parse("lucasaba_postacert_standard_plain_and_html.eml")
    assert message.sender is None and message.daticert is None
    assert message.attachments[0].path == "test.pdf"
    assert message.attachments[0].data.startswith(b"%PDF-1.4")
