"""Staff corrections of a submission, and the review decisions (accept, reject).

Each function validates first and changes nothing when it refuses. A change writes one
audit entry (who, when, what, before, after) and, for a field or the tables, remembers the
staff value in ``submission_corrections`` so that re-reading the message with the parser
(:mod:`pec_ingest.desk.reprocess`) keeps it. The submission's ``status`` is derived again
from the corrected data: ``complete`` when every required datum is there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parsers.vocabulary import Vocabulary
from pec_ingest.desk.errors import CorrectionRefused, DeskError
from pec_ingest.desk.fields import FIELDS, check_field, parse_tavoli
from store.audit import AuditEntry, record_action, set_correction
from store.model import Message, Organisation, Submission, SubmissionTavolo
from store.review import resolve_review_reasons
from store.submissions import is_held, lock_organisation, make_current

REQUIRED = ("denominazione", "codice_fiscale", "legale_rappresentante")


@dataclass(frozen=True)
class Change:
    """What one staff action did."""

    field: str
    before: Any
    after: Any
    status_before: str
    status_after: str
    notice: str | None = None


def tavoli_value(sub: Submission) -> list[dict[str, Any]]:
    """The chosen tables as JSON values (``[{"code": ..., "rank": ...}]``), in a canonical
    order (by preference, then code): tables without a rank have no order, so two readings
    that list them differently are the same choice."""
    ordered = sorted(sub.tavoli, key=lambda t: (t.rank is None, t.rank or 0, t.code))
    return [{"code": t.code, "rank": t.rank} for t in ordered]


def derive_status(sub: Submission) -> str:
    """``complete`` when the required data, a table and a contact are there; otherwise what
    the parser said when it could not read the document, else ``incomplete``."""
    has_all = all(getattr(sub, f) for f in REQUIRED) and bool(sub.tavoli) and bool(
        sub.email or sub.pec)
    if has_all:
        return "complete"
    parser_status = (sub.parsed or {}).get("status", "needs_review")
    return "needs_review" if parser_status == "needs_review" else "incomplete"


def set_field(session: Session, sub: Submission, field: str, text: str, *, actor: str,
              vocabulary: Vocabulary) -> Change:
    """Validate and set one declared field; refused values change nothing. A current
    version's organisation is locked first, as a poll writing a version of it locks it."""
    checked = check_field(field, text, vocabulary)
    if sub.is_current:
        lock_organisation(session, sub.organisation)
    before = getattr(sub, field)
    if field == "codice_fiscale":
        _sync_organisation_code(session, sub, before, checked.value)
    setattr(sub, field, checked.value)
    if field == "denominazione" and sub.is_current and checked.value:
        sub.organisation.denominazione = checked.value
    status_before, sub.status = sub.status, derive_status(sub)
    entry = record_action(session, actor, "set_field", submission_id=sub.id, field=field,
                          before=before, after=checked.value, note=checked.notice)
    set_correction(session, sub.id, field, checked.value, actor=actor, audit=entry)
    return Change(field, before, checked.value, status_before, sub.status, checked.notice)


def _sync_organisation_code(session: Session, sub: Submission, old: str | None,
                            new: str | None) -> None:
    """The organisation follows a corrected code, unless the code is another body's."""
    if new is None:
        return
    org = sub.organisation
    other = session.scalars(select(Organisation).where(
        Organisation.codice_fiscale == new, Organisation.id != org.id)).one_or_none()
    if other is not None:
        raise CorrectionRefused(
            f"il codice fiscale {new} appartiene già a un altro ente ({other.denominazione or '-'}"
            f", id {other.id}): le domande non vengono unite automaticamente; verificare con "
            "l'ente e, se è lo stesso, chiedere un nuovo invio via PEC")
    if org.codice_fiscale in (None, old):
        org.codice_fiscale = new


def set_tavoli(session: Session, sub: Submission, text: str, *, actor: str) -> Change:
    """Replace the chosen tables (``famiglia,poverta`` or ``autonomie:1,poverta:2``)."""
    chosen = parse_tavoli(text)
    before = tavoli_value(sub)
    replace_tavoli(session, sub, chosen)
    after = tavoli_value(sub)
    status_before, sub.status = sub.status, derive_status(sub)
    entry = record_action(session, actor, "set_tavoli", submission_id=sub.id, field="tavoli",
                          before=before, after=after)
    set_correction(session, sub.id, "tavoli", after, actor=actor, audit=entry)
    return Change("tavoli", before, after, status_before, sub.status)


def decide(session: Session, target: Submission | Message, decision: str, *, actor: str,
           note: str | None = None) -> tuple[AuditEntry, int]:
    """Accept or reject a submission (or close a message's reasons); returns the audit entry
    and how many open reasons were resolved."""
    if decision not in ("accept", "reject"):
        raise DeskError(f"decisione sconosciuta {decision!r}")
    if decision == "reject" and not (note or "").strip():
        raise DeskError("per respingere va indicato il motivo (--reason)")
    if isinstance(target, Submission):
        before = target.review_state
        held = is_held(target)
        target.review_state = "accepted" if decision == "accept" else "rejected"
        resolved = resolve_review_reasons(session, submission=target)
        entry = record_action(session, actor, decision, submission_id=target.id,
                              field="review_state", before=before, after=target.review_state,
                              note=note)
        if held and decision == "accept":  # a version from another sender takes its place
            record_action(session, actor, decision, submission_id=target.id,
                          field="is_current", before=False, after=make_current(session, target),
                          note="versione da un altro mittente certificato accettata")
    else:
        resolved = resolve_review_reasons(session, message=target)
        entry = record_action(session, actor, decision, message_id=target.id,
                              note=note, after={"resolved_reasons": resolved})
    return entry, resolved


def replace_tavoli(session: Session, sub: Submission,
                   chosen: list[tuple[str, int | None]]) -> None:
    """Replace the tables (the old rows are deleted first: same primary keys)."""
    sub.tavoli.clear()
    session.flush()
    sub.tavoli.extend(SubmissionTavolo(code=code, rank=rank) for code, rank in chosen)
    session.flush()


def apply_corrections(session: Session, sub: Submission, corrections: dict[str, Any]) -> None:
    """Put the staff values back over what the parser read (used by reprocess)."""
    for field, value in corrections.items():
        if field in FIELDS:
            setattr(sub, field, value)
        elif field == "tavoli":
            replace_tavoli(session, sub, [(t["code"], t.get("rank")) for t in value])
