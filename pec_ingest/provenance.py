"""Where each value of a submission comes from, and the proof gate applied to scans.

For a document with a text layer (DOCX, PDF) every value the reader found is ``text_layer``.
For a scan the parser child returns only OCR readings (every field empty); here, in the
parent, the readings meet the independent evidence only the pipeline has (the certified
sender, the earlier version of the organisation, the signer's certificate, the sender-side
addresses of the message) and :func:`parsers.proof.judge` decides what is proved. Proved
values become the submission's data; the rest are suggestions kept in the provenance, with
their crop, for staff to confirm. A scan always stays ``needs_review``.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import getaddresses
from typing import Any

from sqlalchemy.orm import Session

from parsers.envelope import PecMessage
from parsers.mime import header, split_message
from parsers.ocr_text import Located
from parsers.proof import Evidence, Verdict, judge
from store.reading import earlier_fields

TEXT_LAYER = "text_layer"
SCAN_STATUS = "needs_review"
_SENDER_HEADERS = ("From", "Reply-To", "Sender")


def is_scan_reading(form: Mapping[str, Any] | None) -> bool:
    return bool(form and isinstance(form.get("ocr"), dict) and "readings" in form["ocr"])


def text_provenance(form: Mapping[str, Any] | None) -> dict[str, Any]:
    """Provenance of a form read from its text: every value found is ``text_layer``."""
    fields = (form or {}).get("fields") or {}
    out: dict[str, Any] = {k: {"source": TEXT_LAYER} for k, v in fields.items() if v}
    if (form or {}).get("tavoli"):
        out["tavoli"] = {"source": TEXT_LAYER}
    return out


def settle(session: Session, env: PecMessage, sender: str | None,
           form: dict[str, Any] | None, exclude: int | None = None
           ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The form as stored (a scan: only proved values) and where each value came from;
    ``exclude``: the submission being read again, which is not its own earlier version."""
    if form is None or not is_scan_reading(form):
        failure = scan_failure(form or {})
        if form is not None and failure:
            form = {**form, "warnings": [failure, *form.get("warnings", [])]}
        return form, text_provenance(form)
    return prove(form, evidence(session, env, sender, form, exclude))


def without_ocr_text(form: dict[str, Any] | None) -> dict[str, Any]:
    """The parse result for ``submissions.parsed``: the OCR text and the crops live in
    ``submission_readings``."""
    if not form or not isinstance(form.get("ocr"), dict):
        return form or {}
    return {**form, "ocr": {k: v for k, v in form["ocr"].items() if k not in ("text", "crops")}}


def evidence(session: Session, env: PecMessage, sender: str | None,
             form: Mapping[str, Any], exclude: int | None = None) -> Evidence:
    """What is known about the sender independently of the scanned paper."""
    signers = ((form.get("signature") or {}).get("signers")) or []
    return Evidence(
        certified_sender=sender,
        earlier=earlier_fields(session, sender, exclude) or {},
        signer_codes=tuple(s["codice_fiscale"] for s in signers if s.get("codice_fiscale")),
        message_addresses=sender_addresses(env))


def sender_addresses(env: PecMessage) -> tuple[str, ...]:
    """The addresses the message itself gives for its sender (inner From, Reply-To, Sender);
    never its recipients, whose addresses (the municipality's) are printed on every form."""
    if env.original is None:
        return ()
    headers = split_message(env.original).headers
    values = [header(headers, name) or "" for name in _SENDER_HEADERS]
    return tuple(addr.lower() for _, addr in getaddresses(values) if "@" in addr)


def prove(form: dict[str, Any], facts: Evidence) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the form with only proved values, the provenance of every reading)."""
    ocr = form["ocr"]
    where = {k: Located(v["confidence"], v["page"], tuple(v["box"]))
             for k, v in (ocr.get("where") or {}).items() if v}
    verdicts = judge(ocr["readings"], where, facts)
    fields = {k: (verdicts[k].value if k in verdicts and verdicts[k].proved else None)
              for k in form["fields"]}
    provenance = {k: _entry(v, ocr.get("crops") or {}) for k, v in verdicts.items()}
    tavoli = ocr.get("tavoli") or []
    if tavoli and _boxes_read(ocr):
        provenance["tavoli"] = {"source": "ocr_boxes", "value": tavoli,
                                "reason": "caselle lette dalla loro forma nell'immagine"}
    elif tavoli:
        provenance["tavoli"] = {"source": "ocr_suggestion", "value": tavoli,
                                "reason": "tavoli letti da scansione: da confermare"}
    proved = sorted(k for k, v in verdicts.items() if v.proved)
    suggested = sorted(k for k, v in verdicts.items() if not v.proved)
    summary = (f"scansione letta con OCR: dati verificati {', '.join(proved) or 'nessuno'}; "
               f"proposte da confermare {', '.join(suggested) or 'nessuna'}")
    warnings = [summary, *ocr.get("warnings", [])]  # the text reader's "scan" notes are moot
    proved_tavoli = tavoli if provenance.get("tavoli", {}).get("source") == "ocr_boxes" else []
    out = {**form, "fields": fields, "tavoli": proved_tavoli, "status": SCAN_STATUS,
           "warnings": list(dict.fromkeys(warnings))}
    return out, provenance


def _boxes_read(ocr: Mapping[str, Any]) -> bool:
    """Tables come from the boxes' geometry: several boxes located, none unclear, and plain
    choices (a preference number is OCR text, not geometry)."""
    boxes = ocr.get("boxes") or {}
    return (boxes.get("located", 0) >= 2 and boxes.get("uncertain", 0) == 0
            and all(t.get("rank") is None for t in ocr.get("tavoli") or []))


def scan_failure(form: Mapping[str, Any]) -> str | None:
    """The OCR's own failure (tesseract missing or failing), as a warning, or None."""
    ocr = form.get("ocr")
    return ocr.get("error") if isinstance(ocr, dict) else None


def _entry(verdict: Verdict, crops: Mapping[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"source": verdict.source, "value": verdict.value,
                             "reason": verdict.reason}
    if verdict.where is not None:
        entry.update(confidence=verdict.where.confidence, page=verdict.where.page,
                     box=list(verdict.where.box))
    if not verdict.proved and verdict.field in crops:
        entry["crop_png_base64"] = crops[verdict.field]
    return entry
