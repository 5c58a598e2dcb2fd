"""Read a submission's archived message again with the current parser.

The parser's fields, tables, status and warnings replace the old ones; then the values staff
corrected (``submission_corrections``) are put back on top: staff corrections win. The
form-level review reasons are worked out again on the result: reasons that no longer apply are
resolved, new ones are added (one already seen for this submission, open or resolved, is not
added twice, so a decision staff took stays taken). The registration number, the receipt time
and the late flag do not change: they come from the certified envelope, not from the form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from parsers.envelope import Attachment, PecMessage, parse_envelope
from pec_ingest import provenance, review
from pec_ingest.config import Config
from pec_ingest.desk.corrections import (
    apply_corrections,
    derive_status,
    replace_tavoli,
    tavoli_value,
)
from pec_ingest.desk.fields import FIELDS
from pec_ingest.isolation import IsolatedResult, ParseTask
from pec_ingest.relevance import decide, form_candidates
from store.audit import corrections_of, record_action
from store.base import utcnow
from store.model import Submission
from store.reading import save_reading
from store.review import add_review_reason
from store.submissions import lock_organisation

ParseFn = Callable[[Sequence[ParseTask]], list[IsolatedResult]]
# Reasons that come from reading the form; the others come from the envelope and stay.
FORM_CODES = frozenset({"missing_field", "unreadable", "parser_timeout", "parser_failed",
                        "pec_mismatch", "signer_mismatch", "signature_invalid",
                        "unsigned_no_id"})


@dataclass(frozen=True)
class Reprocessed:
    before: dict[str, Any]
    after: dict[str, Any]
    kept: tuple[str, ...]  # fields whose staff value was kept
    added: tuple[str, ...]  # review reasons added (codes)
    resolved: int  # form-level reasons no longer applying


def snapshot(sub: Submission) -> dict[str, Any]:
    """The submission's declared data, tables and status, as JSON values."""
    return {**{f: getattr(sub, f) for f in FIELDS}, "tavoli": tavoli_value(sub),
            "status": sub.status}


def read_form(raw: bytes, config: Config, parse: ParseFn
              ) -> tuple[PecMessage, tuple[Attachment, IsolatedResult] | None]:
    """The envelope and the attachment the pipeline would take as the form (with its result)."""
    envelope = parse_envelope(raw, config.limits)
    candidates = form_candidates(envelope.attachments,
                                 config.parser.max_attachment_mb * 1024 * 1024)
    results = parse([ParseTask(a.data, a.filename or a.path) for a in candidates])
    parsed = list(zip(candidates, results, strict=True))
    subject = envelope.original_subject or envelope.subject
    return envelope, decide(subject, envelope.attachments, parsed, config.relevance).form


def reprocess(session: Session, sub: Submission, raw: bytes, *, config: Config,
              parse: ParseFn, actor: str) -> Reprocessed:
    """Parse ``raw`` (the submission's archived message) again; see the module doc.

    The parse runs inside the caller's transaction: callers that hold a write lock (SQLite)
    should parse first with :func:`read_form` and call :func:`apply_reading`.
    """
    envelope, chosen = read_form(raw, config, parse)
    return apply_reading(session, sub, envelope, chosen, config=config, actor=actor)


def apply_reading(session: Session, sub: Submission, envelope: PecMessage,
                  chosen: tuple[Attachment, IsolatedResult] | None, *, config: Config,
                  actor: str) -> Reprocessed:
    """Put a fresh reading on ``sub``, staff corrections back on top, reasons judged again
    (a current version's organisation locked first, as a poll writing a version locks it)."""
    if sub.is_current:
        lock_organisation(session, sub.organisation)
    before = snapshot(sub)
    result = chosen[1] if chosen is not None else None
    form = result.result if result is not None and result.ok else None
    certified = sub.message.sender if sub.message.legal_time is not None else None
    form, sources = provenance.settle(session, envelope, certified, form, sub.id)
    save_reading(session, sub.id, sources, (form or {}).get("ocr"))  # scans: proof gate
    _apply_parser(session, sub, provenance.without_ocr_text(form) if form else None,
                  chosen[0] if chosen is not None else None)
    corrections = corrections_of(session, sub.id)
    apply_corrections(session, sub, corrections)
    sub.status = derive_status(sub) if corrections else (form or {}).get("status",
                                                                          "needs_review")
    reasons = _reasons(sub, envelope, chosen, form, config)
    added, resolved = _update_reasons(session, sub, reasons)
    after = snapshot(sub)
    record_action(session, actor, "reprocess", submission_id=sub.id, before=before,
                  after=after, note="campi corretti dal personale mantenuti: "
                  + (", ".join(sorted(corrections)) or "nessuno"))
    return Reprocessed(before, after, tuple(sorted(corrections)), added, resolved)


def _apply_parser(session: Session, sub: Submission, form: dict[str, Any] | None,
                  attachment: Attachment | None) -> None:
    fields = (form or {}).get("fields") or {}
    for name in FIELDS:
        setattr(sub, name, fields.get(name))
    replace_tavoli(session, sub, [(t["code"], t["rank"]) for t in (form or {}).get("tavoli", [])])
    sub.parser_warnings = list((form or {}).get("warnings", []))
    sub.parsed = dict(form or {})
    if attachment is not None:
        row = next((a for a in sub.message.attachments
                    if a.sha256 == attachment.sha256 and a.path == attachment.path), None)
        sub.attachment = row or sub.attachment
    if sub.is_current and sub.denominazione:
        sub.organisation.denominazione = sub.denominazione


def _reasons(sub: Submission, envelope: PecMessage,
             chosen: tuple[Attachment, IsolatedResult] | None, form: dict[str, Any] | None,
             config: Config) -> list[review.Reason]:
    """The form-level reasons, judged on the data as corrected by staff."""
    attachment = chosen[0] if chosen is not None else None
    if form is None:
        found = review.parse_failure_reasons(chosen[1] if chosen else None,
                                             attachment.filename if attachment else None)
    else:
        effective = {**form, "fields": {f: getattr(sub, f) for f in FIELDS},
                     "tavoli": tavoli_value(sub), "status": sub.status}
        found = review.form_reasons(effective) + review.contradiction_reasons(effective,
                                                                              envelope)
    found += review.signature_reasons(form, attachment, envelope.attachments, config)
    return [r for r in found if r.code in FORM_CODES]


def _update_reasons(session: Session, sub: Submission,
                    reasons: list[review.Reason]) -> tuple[tuple[str, ...], int]:
    wanted = {(r.code, r.detail) for r in reasons}
    resolved = 0
    for old in sub.review_reasons:
        if old.resolved_at is None and old.code in FORM_CODES and \
                (old.code, old.detail) not in wanted:
            old.resolved_at = utcnow()
            resolved += 1
    seen = {(r.code, r.detail) for r in sub.review_reasons}
    added = tuple(r.code for r in reasons if (r.code, r.detail) not in seen)
    for r in reasons:
        if (r.code, r.detail) not in seen:
            add_review_reason(session, code=r.code, detail=r.detail, submission=sub)
    if added and sub.review_state in ("none", "accepted"):
        sub.review_state = "pending"
    session.flush()
    return added, resolved
