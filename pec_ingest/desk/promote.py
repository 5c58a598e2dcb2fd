"""Turn a message the pipeline did not take as an application (ignored, an anomaly, set aside)
into a submission, when staff see that it really is one.

The message keeps its row, its id and its history: the pipeline's own recording
(:func:`pec_ingest.recording.record_submission`) runs on it as if the message had just been
judged relevant, with the attachment that reads best as the form (or, when none reads, the
first document that could be one). The registration number, the late flag (from the legal
time), the review reasons and the acknowledgement follow the same rules as for any submission.
The message's own open reasons are closed, and one audit entry names who did it and why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parsers.envelope import Attachment, PecMessage, parse_envelope
from pec_ingest import recording
from pec_ingest.config import Config
from pec_ingest.desk.errors import DeskError
from pec_ingest.desk.reprocess import ParseFn
from pec_ingest.isolation import IsolatedResult, ParseTask
from pec_ingest.pipeline import Source, legal_time
from pec_ingest.relevance import Decision, decide, form_candidates
from pec_ingest.trust import TrustStore, certify
from store import model
from store.audit import record_action
from store.review import resolve_review_reasons

PROMOTABLE = ("ignored", "anomaly", "quarantined", "unreadable", "timeout")
Parsed = list[tuple[Attachment, IsolatedResult]]


@dataclass(frozen=True)
class _Existing(recording.MessageFacts):
    """The facts of a message already recorded: ``add`` and ``insert`` update its row
    instead of writing a new one."""

    row: model.Message | None = None

    def add(self, session: Session, outcome: str, reason: str) -> model.Message:
        assert self.row is not None
        self.row.outcome, self.row.reason = outcome, reason
        session.flush()
        return self.row

    def insert(self, session: Session, outcome: str, reason: str) -> int:
        return self.add(session, outcome, reason).id


def check_promotable(session: Session, message: model.Message) -> None:
    if message.outcome not in PROMOTABLE:
        raise DeskError(f"il messaggio M{message.id} è «{message.outcome}»: si trasformano in "
                        f"domanda solo messaggi {', '.join(PROMOTABLE)}")
    taken = session.scalars(select(model.Submission.registration_number).where(
        model.Submission.message_id == message.id)).first()
    if taken is not None:
        raise DeskError(f"il messaggio M{message.id} è già la domanda {taken}")


def read_message(raw: bytes, config: Config, parse: ParseFn) -> tuple[PecMessage, Parsed]:
    """The envelope and every attachment that could be the form, parsed (no transaction)."""
    envelope = parse_envelope(raw, config.limits)
    candidates = form_candidates(envelope.attachments,
                                 config.parser.max_attachment_mb * 1024 * 1024)
    results = parse([ParseTask(a.data, a.filename or a.path) for a in candidates])
    return envelope, list(zip(candidates, results, strict=True))


def choose_form(envelope: PecMessage, parsed: Parsed, config: Config) -> Decision:
    """The pipeline's choice when it finds a form; else the best-reading candidate."""
    subject = envelope.original_subject or envelope.subject
    decision = decide(subject, envelope.attachments, parsed, config.relevance)
    if decision.relevant:
        return decision
    if not parsed:
        raise DeskError("nel messaggio non c'è nessun allegato che possa essere il modulo "
                        "(PDF, DOCX o documento firmato): non può diventare una domanda")
    best = max(parsed, key=lambda ar: (ar[1].ok, ar[1].relevance))
    return Decision(True, f"indicato come adesione dal personale: {best[0].filename or ''}",
                    best)


def promote(session: Session, message: model.Message, envelope: PecMessage,
            parsed: Sequence[tuple[Attachment, IsolatedResult]], *, config: Config,
            actor: str, note: str) -> model.Submission:
    """Record ``message`` as a submission; see the module doc."""
    if not note.strip():
        raise DeskError("indicare perché il messaggio è una domanda (motivo)")
    check_promotable(session, message)
    decision = choose_form(envelope, list(parsed), config)
    before = message.outcome
    for old in list(message.attachments):
        session.delete(old)
    session.flush()
    session.expire(message, ["attachments"])
    facts = _Existing(**_facts(message, envelope, config), row=message)
    resolve_review_reasons(session, message=message)
    outcome = recording.record_submission(session, config, facts, envelope, parsed, decision)
    sub = session.get(model.Submission, outcome.submission_id)
    assert sub is not None
    record_action(session, actor, "accept", submission_id=sub.id, message_id=message.id,
                  field="outcome", before=before, after="submission",
                  note=f"messaggio trasformato in domanda {sub.registration_number}: {note}")
    return sub


def _facts(message: model.Message, envelope: PecMessage, config: Config) -> dict[str, Any]:
    """The message's facts as the pipeline computes them (the same certification rules)."""
    path = config.trust.ca_file
    certification = certify(envelope, TrustStore.load(path) if path else None)
    base = recording.MessageFacts.of(
        envelope, message.sha256, message.size, message.archive_path,
        Source(message.source, message.mailbox, message.folder, message.uidvalidity,
               message.uid, internal_date=message.first_seen_at),  # uncertified: when it came
        legal_time(envelope, certification), certification)
    return {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
