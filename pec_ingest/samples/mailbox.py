"""A small certified mailbox for the demo and the end-to-end tests, built by code.

Several organisations (DOCX, PDF, AcroForm, signed .p7m, a scan), one late, one
resubmission, submissions on both sides of the deadline's midnight in Rome, receipts,
an anomaly and unrelated mail (an SdI invoice, another office's business).
Everything is invented; ``expect`` says what the pipeline should make of each message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pec_ingest.samples import p7m
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.pdf_forms import build_pdf
from pec_ingest.samples.pec import build_anomaly, build_envelope, build_original, build_receipt
from pec_ingest.samples.people import Organisation, make_organisation

ROME_SUMMER = timezone(timedelta(hours=2))
COMUNE_PEC = "comune.cernuscosulnaviglio@pec.regione.lombardia.it"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class SampleMessage:
    name: str
    raw: bytes
    expect: dict[str, Any] = field(default_factory=dict)


def _when(day: int, hour: int, minute: int = 0, month: int = 9) -> datetime:
    return datetime(2019, month, day, hour, minute, tzinfo=ROME_SUMMER)


def _pec(name: str, org: Organisation, when: datetime, attachments: list[tuple[str, bytes, str]],
         subject: str = "Manifestazione di interesse - Allegato 1 Piano di Zona",
         sender: str | None = None, **expect: Any) -> SampleMessage:
    mittente = sender or org.pec
    ident = f"opec.{name}.{when:%Y%m%d%H%M}@pec.simulato.example"
    original = build_original(sender=mittente, to=[COMUNE_PEC], subject=subject, date=when,
                              message_id=f"<{name}.{when:%H%M%S}@{mittente.split('@')[1]}>",
                              attachments=attachments)
    raw = build_envelope(original, mittente=mittente, destinatari=[COMUNE_PEC],
                         identificativo=ident, data=when)
    return SampleMessage(name, raw, {"organisation": org.denominazione, **expect})


def _signed(data: bytes, org: Organisation) -> bytes:
    signer = p7m.make_signer(org.legale_rappresentante, org.rappresentante_cf)
    return p7m.sign(data, [signer])


def sample_mailbox() -> list[SampleMessage]:
    """The demo mailbox, in arrival order."""
    a, b, c, d, e, f, g = (make_organisation(seed) for seed in (11, 12, 13, 14, 15, 16, 17))
    out = [
        _pec("a-docx-p7m", a, _when(3, 10, 15),
             [("Allegato1_firmato.docx.p7m", _signed(build_docx(a, "table"), a),
               "application/pkcs7-mime")], outcome="submission", late=False),
        _pec("b-pdf", b, _when(4, 9, 30), [("allegato 1.pdf", build_pdf(b, "table"),
                                            "application/pdf")],
             outcome="submission", late=False),
        _pec("c-acroform-late", c, _when(20, 16, 5, 9),
             [("modulo_adesione.pdf", build_pdf(c, "acroform_named"), "application/pdf"),
              ("carta_identita.pdf", build_pdf(c, "scan"), "application/pdf")],
             outcome="submission", late=True),
        _pec("d-scan", d, _when(5, 11, 0), [("scansione.pdf", build_pdf(d, "scan"),
                                             "application/pdf")],
             subject="Adesione ai tavoli del Piano di Zona", outcome="submission",
             status="needs_review"),
        _pec("a-resubmission", a, _when(6, 12, 45),
             [("Allegato1_v2.docx.p7m", _signed(build_docx(a, "narrative"), a),
               "application/pkcs7-mime")], outcome="submission", supersedes="a-docx-p7m"),
        _pec("e-last-minute", e, _when(9, 23, 30), [("Allegato_1.docx", build_docx(e, "controls"),
                                                     DOCX)], outcome="submission", late=False),
        _pec("f-after-midnight", f, _when(10, 0, 30), [("Allegato_1.docx", build_docx(
            f, "label_lines"), DOCX)], outcome="submission", late=True),
        _pec("g-other-sender", g, _when(8, 18, 0), [("domanda.pdf", build_pdf(
            g, "glyph_checkboxes"), "application/pdf")], sender="segreteria@pec.altroente.example",
             outcome="submission", review="pec_mismatch"),
    ]
    return out + _noise(a)


def _noise(a: Organisation) -> list[SampleMessage]:
    invoice = p7m.sign(b"<?xml version='1.0'?><FatturaElettronica versione='FPR12'/>",
                       [p7m.make_signer("Sistema di Interscambio", "80415740580")])
    sdi = build_original(sender="sdi01@pec.fatturapa.it", to=[COMUNE_PEC],
                         subject="Invio File 7339338", date=_when(4, 8, 0),
                         message_id="<sdi.7339338@pec.fatturapa.it>",
                         attachments=[("IT01234567890_FPR03.xml.p7m", invoice,
                                       "application/pkcs7-mime")])
    office = build_original(sender="ufficio.tecnico@pec.altrocomune.example", to=[COMUNE_PEC],
                            subject="Richiesta accesso agli atti - pratica edilizia 123/2019",
                            date=_when(5, 9, 0), message_id="<atti.123@pec.altrocomune.example>",
                            attachments=[("richiesta.txt", b"Si chiede copia degli atti.\n",
                                          "text/plain")])
    ordinary = build_original(sender="mario.rossi@gmail.example", to=[COMUNE_PEC],
                              subject="Informazioni", date=_when(6, 7, 0),
                              message_id="<info.1@gmail.example>")
    our_ack = "<ack.PDZ2019-0001@comune.example>"
    return [
        SampleMessage("sdi-invoice", build_envelope(
            sdi, mittente="sdi01@pec.fatturapa.it", destinatari=[COMUNE_PEC],
            identificativo="opec.sdi.7339338@pec.simulato.example", data=_when(4, 8, 0)),
            {"outcome": "ignored"}),
        SampleMessage("other-office", build_envelope(
            office, mittente="ufficio.tecnico@pec.altrocomune.example", destinatari=[COMUNE_PEC],
            identificativo="opec.atti.123@pec.simulato.example", data=_when(5, 9, 0)),
            {"outcome": "ignored"}),
        SampleMessage("anomaly", build_anomaly(
            ordinary, mittente="mario.rossi@gmail.example", destinatari=[COMUNE_PEC],
            identificativo="opec.anomalia.1@pec.simulato.example", data=_when(6, 7, 0)),
            {"outcome": "anomaly"}),
        SampleMessage("receipt-accettazione", build_receipt(
            "accettazione", msgid=our_ack, mittente=COMUNE_PEC, destinatari=[a.pec],
            identificativo="opec.ack.1@pec.simulato.example", data=_when(3, 10, 20)),
            {"outcome": "receipt"}),
        SampleMessage("receipt-consegna", build_receipt(
            "avvenuta-consegna", msgid=our_ack, mittente=COMUNE_PEC, destinatari=[a.pec],
            identificativo="opec.ack.1@pec.simulato.example", data=_when(3, 10, 21)),
            {"outcome": "receipt"}),
    ]
