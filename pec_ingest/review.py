"""Why a submission needs a person, in words staff can act on.

Pure decisions over the parser's output and the envelope; the pipeline stores them as
review reasons. Each reason is ``(code, detail)``: the code is stable (filters, views),
the detail is Italian and says what to check or do.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from parsers.envelope import Attachment, PecMessage
from pec_ingest.config import Config
from pec_ingest.isolation import IsolatedResult
from pec_ingest.relevance import find_keyword
from pec_ingest.trust import Certification

REQUIRED = ("denominazione", "codice_fiscale", "legale_rappresentante")
FIELD_NAMES = {
    "denominazione": "denominazione", "natura_giuridica": "natura giuridica",
    "codice_fiscale": "codice fiscale dell'ente", "partita_iva": "partita IVA",
    "sede_legale": "sede legale", "comune": "comune", "legale_rappresentante":
    "legale rappresentante", "referente": "referente", "email": "e-mail", "pec": "PEC",
    "telefono": "telefono",
}


@dataclass(frozen=True)
class Reason:
    code: str
    detail: str


def parse_failure_reasons(result: IsolatedResult | None, filename: str | None) -> list[Reason]:
    """Reasons when no form could be read."""
    name = filename or "allegato"
    if result is None:
        return [Reason("unreadable", "nessun allegato PDF o DOCX leggibile: aprire il messaggio "
                                     "originale e inserire i dati a mano")]
    if result.outcome in ("timeout", "skipped"):
        return [Reason("parser_timeout", f"{name}: {result.error}; il documento va aperto e "
                                         "verificato a mano")]
    if result.outcome in ("memory", "crashed", "parser_failed"):
        return [Reason("parser_failed", f"{name}: {result.error}")]
    return [Reason("unreadable", f"{name}: {result.error or 'documento non leggibile'}")]


def skipped_reasons(parsed: Sequence[tuple[Attachment, IsolatedResult]],
                    form_att: Attachment | None) -> list[Reason]:
    """Attachments left unread by the message's parse budget (the form's own is reported by
    :func:`parse_failure_reasons`)."""
    names = [a.filename or a.path for a, r in parsed
             if r.outcome == "skipped" and a is not form_att]
    if not names:
        return []
    return [Reason("parser_timeout", f"{len(names)} allegati non letti per il limite di lettura "
                                     f"del messaggio: {', '.join(names[:5])}; aprirli a mano")]


def form_reasons(form: Mapping[str, Any]) -> list[Reason]:
    """Reasons that come from the parsed form itself (status, missing or invalid fields)."""
    fields = form["fields"]
    status = form["status"]
    warnings = form.get("warnings") or []
    if status == "needs_review":
        why = "; ".join(warnings[:3]) or "il documento non è leggibile in modo affidabile"
        return [Reason("unreadable", f"documento da verificare a mano: {why}")]
    if status != "incomplete":
        return []
    missing = [FIELD_NAMES[f] for f in REQUIRED if not fields.get(f)]
    if not form.get("tavoli"):
        missing.append("scelta di almeno un tavolo")
    if not (fields.get("email") or fields.get("pec")):
        missing.append("un indirizzo e-mail o PEC")
    detail = ("mancano o non sono validi: " + ", ".join(missing)) if missing else (
        "dati incompleti: " + "; ".join(warnings[:3]))
    return [Reason("missing_field", detail + ". Chiedere all'ente di inviare una nuova PEC "
                                           "con il modulo completo.")]


def contradiction_reasons(form: Mapping[str, Any], message: PecMessage) -> list[Reason]:
    """The declared data disagrees with what the PEC certifies."""
    out: list[Reason] = []
    declared = (form["fields"].get("pec") or "").casefold()
    sender = (message.sender or "").casefold()
    if declared and sender and declared != sender:
        out.append(Reason("pec_mismatch", f"la PEC dichiarata nel modulo ({declared}) è diversa "
                                          f"dal mittente certificato ({sender}); la ricevuta va "
                                          "al mittente certificato"))
    signature = form.get("signature")
    representative = form["fields"].get("legale_rappresentante")
    if signature and representative and signature.get("signers"):
        names = [s.get("name") or "" for s in signature["signers"]]
        if not any(same_name(n, representative) for n in names):
            out.append(Reason("signer_mismatch", "il modulo è firmato da "
                              f"{', '.join(n or '?' for n in names)}, non dal legale "
                              f"rappresentante dichiarato ({representative}): verificare la "
                              "delega o chiedere la firma del rappresentante"))
    if signature and not signature.get("valid"):
        out.append(Reason("signature_invalid", "la firma digitale del modulo non risulta "
                                               "valida: verificare il file firmato"))
    return out


def _name_words(name: str) -> set[str]:
    folded = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return {w for w in re.split(r"[^a-z]+", plain) if len(w) > 1}


def same_name(a: str, b: str) -> bool:
    """Same person's name in any order, one side possibly with a middle name."""
    wa, wb = _name_words(a), _name_words(b)
    return bool(wa and wb) and (wa <= wb or wb <= wa)


def signature_reasons(form: Mapping[str, Any] | None, form_attachment: Attachment | None,
                      attachments: Sequence[Attachment], config: Config) -> list[Reason]:
    """Unsigned form without an identity document (configurable)."""
    if not config.review.require_signature_or_id_document:
        return []
    if form is not None and form.get("signature"):
        return []
    others = [a for a in attachments if a is not form_attachment]
    if any(find_keyword(a.filename, config.review.id_document_keywords) for a in others):
        return []
    return [Reason("unsigned_no_id", "modulo non firmato digitalmente e senza documento di "
                                     "identità allegato: chiedere il documento o la firma")]


def message_reasons(message: PecMessage) -> list[Reason]:
    out = []
    if message.kind == "anomalia" or message.kind == "not-pec":
        out.append(Reason("not_certified", "il messaggio non è una PEC certificata dal gestore "
                                           "(anomalia o posta ordinaria): data e mittente non "
                                           "hanno valore legale"))
    if message.signature.present and message.signature.valid is False:
        out.append(Reason("envelope_signature", "la firma del gestore PEC sulla busta non è "
                                                "valida: il messaggio potrebbe essere alterato"))
    if message.daticert is None or message.daticert.data is None:
        out.append(Reason("no_legal_time", "manca la data legale (daticert.xml): verificare "
                                           "la data di ricezione"))
    return out


def sender_change_reason(current_number: str, current_sender: str | None,
                         declared_pec: str | None, new_sender: str | None) -> Reason:
    """A new version certified by another sender: held until staff accept it."""
    return Reason("organisation_conflict", (
        f"nuova versione inviata da {new_sender or 'mittente non certificato'}, ma la versione "
        f"in vigore ({current_number}) è stata inviata da {current_sender or '-'} e la PEC "
        f"dichiarata dall'ente è {declared_pec or '-'}: la nuova versione NON sostituisce "
        "quella in vigore finché il personale non la accetta (chiunque può scrivere il "
        "codice fiscale di un altro ente)"))


def certification_reasons(message: PecMessage, certification: Certification,
                          received: datetime, from_imap: bool) -> list[Reason]:
    """A PEC envelope that is not certified (no provider signature, a signature that does not
    verify, an altered daticert, an untrusted provider): its time is not the legal one."""
    if message.kind != "posta-certificata":
        return []  # anomalies and plain mail: see message_reasons
    source = "di arrivo nella casella (IMAP)" if from_imap else "di registrazione"
    out = [Reason("not_certified", (
        f"{certification.detail}: data e ora di ricezione NON certificate; usata la data "
        f"{source}, {received.astimezone(UTC):%d/%m/%Y %H:%M} UTC, anche per il ritardo "
        "e nella risposta; verificare"))]
    if certification.integrity and certification.trusted is False:
        out.append(Reason("envelope_signature", certification.detail))
    return out
