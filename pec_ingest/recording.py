"""Write what the pipeline decided about one message: each function runs inside the caller's
transaction, flushes, and returns the :class:`~pec_ingest.pipeline.Outcome`."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from parsers.envelope import Attachment, PecMessage
from pec_ingest import provenance, review
from pec_ingest.ack.policy import reply_for
from pec_ingest.ack.receipts import apply_receipt
from pec_ingest.config import Config
from pec_ingest.isolation import IsolatedResult
from pec_ingest.relevance import Decision, find_keyword
from pec_ingest.trust import Certification
from store import model
from store.base import CANONICAL_FIELDS
from store.errors import StoreError
from store.messages import (
    add_message,
    add_messages,
    attachment_values,
    find_message,
    insert_attachments,
    insert_files,
    insert_message,
    message_values,
)
from store.messages import record_failure as count
from store.receipts import acknowledged, add_receipt, add_receipts, receipt_values
from store.review import add_review_reason
from store.submissions import (
    LaterRows,
    VersionRows,
    add_version_rows,
    changed_sender,
    find_or_create_organisation,
    initial_review_state,
    insert_version,
    lineage,
)

if TYPE_CHECKING:
    from pec_ingest.pipeline import Outcome, Source

log = logging.getLogger(__name__)

_PARSE_STATUS = {"parsed": "parsed", "unreadable": "failed", "timeout": "timeout",
                 "memory": "failed", "crashed": "failed", "parser_failed": "failed",
                 "skipped": "skipped"}


def _outcome(*args: Any, **kwargs: Any) -> Outcome:
    from pec_ingest.pipeline import Outcome

    return Outcome(*args, **kwargs)


@dataclass(frozen=True)
class MessageFacts:
    """The columns every recorded message has, whatever its outcome."""

    sha256: str
    size: int
    archive_path: str
    source: Source
    kind: str
    identificativo: str | None
    message_id_header: str | None
    riferimento: str | None
    sender: str | None
    subject: str | None
    legal_time: datetime | None
    signature_present: bool
    signature_valid: bool | None
    warnings: tuple[str, ...]
    certification: Certification

    @classmethod
    def of(cls, env: PecMessage, sha: str, size: int, rel: str, source: Source,
           legal_time: datetime | None, certification: Certification) -> MessageFacts:
        warnings = env.warnings
        if certification.integrity and certification.trusted is False:
            warnings = (*warnings, certification.detail)
        return cls(sha, size, rel, source, env.kind, own_identificativo(env),
                   env.message_id, env.riferimento_message_id, env.sender, env.subject,
                   legal_time, env.signature.present, env.signature.valid, warnings,
                   certification)

    @property
    def received(self) -> tuple[datetime, bool]:
        """When it was received, and whether that time is certified: the legal time, else the
        IMAP INTERNALDATE (our server's arrival time), else now."""
        if self.legal_time is not None:
            return self.legal_time, True
        return self.source.internal_date or datetime.now(UTC), False

    def add(self, session: Session, outcome: str, reason: str) -> model.Message:
        """The message row, in a savepoint of its own: a collision is a
        :class:`DuplicateMessage`."""
        return add_message(session, **self._columns(outcome, reason))

    def insert(self, session: Session, outcome: str, reason: str) -> int:
        """The same row as :meth:`add` writes, as a plain INSERT (no mapped object): its id;
        or the id of the row its batch wrote beforehand (:class:`FirstRow`)."""
        early = session.info.get(_EARLY, {}).pop(self.sha256, None)
        if early is not None:
            ident, written = early
            if written != (outcome, reason):  # ours: the batch wrote another row than this
                raise RuntimeError(f"riga del messaggio {self.sha256[:12]} scritta in anticipo "
                                   f"come {written}, attesa come {(outcome, reason)}")
            return int(ident)
        alone = self.sha256 in session.info.get(_NO_COLLISION, ())
        return insert_message(session, self.values(outcome, reason), alone=alone)

    def values(self, outcome: str, reason: str) -> dict[str, Any]:
        """The same row as :meth:`add` writes, as column values (for :func:`write_plain`)."""
        return message_values(**self._columns(outcome, reason), failure_count=0)

    def _columns(self, outcome: str, reason: str) -> dict[str, Any]:
        s = self.source
        return dict(
            sha256=self.sha256, size=self.size, archive_path=self.archive_path,
            source=s.kind, kind=self.kind, outcome=outcome, reason=reason, mailbox=s.mailbox,
            folder=s.folder, uidvalidity=s.uidvalidity, uid=s.uid,
            identificativo=self.identificativo, message_id_header=self.message_id_header,
            riferimento_message_id=self.riferimento, sender=self.sender, subject=self.subject,
            legal_time=self.legal_time, signature_present=self.signature_present,
            signature_valid=self.signature_valid, warnings=self.warnings,
            provider_trusted=self.certification.trusted)


def own_identificativo(env: PecMessage) -> str | None:
    """The provider's unique id of THIS message, used to recognise it when seen again.

    A transport envelope: its daticert identificativo (also its Message-ID). An anomaly or a
    receipt: the Message-ID the provider gave it (a receipt's daticert identificativo names
    the message it is about, shared by all its receipts, so it is not its own). Ordinary mail
    has no certified id: it is recognised by its bytes only.
    """
    if env.kind == "not-pec":
        return None
    if env.kind == "posta-certificata" and env.daticert is not None:
        return env.daticert.identificativo or env.message_id or None
    return env.message_id or None  # an empty Message-ID identifies nothing


_NEVER_RECORDED = "pec_ingest.never_recorded"
_NO_COLLISION = "pec_ingest.no_collision"
_EARLY = "pec_ingest.early_rows"  # sha256 -> (id, (outcome, reason)) of rows written first
_EARLY_FILES = "pec_ingest.early_files"  # message id -> the ids of its files, written first


def never_recorded(session: Session, sha256s: set[str],
                   no_collision: set[str] | frozenset[str] = frozenset()) -> None:
    """Tell the record functions of this session's transaction that these sha256 had no row
    when the batch was looked up: no failed placeholder to look for (a row written meanwhile
    by someone else is refused by the UNIQUE sha256 all the same); ``no_collision``: those
    whose bytes and identificativo nothing else in the batch or the database shares (a
    version's message row is then written without a savepoint of its own: a collision is
    then only a race with another writer, refused by the UNIQUE indexes all the same)."""
    session.info[_NEVER_RECORDED] = sha256s
    session.info[_NO_COLLISION] = no_collision
    session.info[_EARLY] = {}
    session.info[_EARLY_FILES] = {}


def all_early_rows_taken(session: Session) -> None:
    """Every row a batch wrote ahead of its versions (:class:`FirstRow`) was taken by one: a
    row left over would name a message with no version (a bug of ours: raised before the
    commit, so the batch is written one message at a time instead)."""
    left = len(session.info.get(_EARLY, {})) + len(session.info.get(_EARLY_FILES, {}))
    if left:
        raise RuntimeError(f"{left} righe scritte in anticipo per le versioni del lotto e "
                           "non usate")


_LATER = "pec_ingest.later_rows"


@contextmanager
def rows_later(session: Session, batch: LaterRows) -> Iterator[None]:
    """Inside: a submission's tables, reading, reasons and reply are collected, not inserted;
    they join ``batch`` when the block ends without an exception (a message written in a
    savepoint of the block: once that savepoint is released), for the caller to write with
    ``batch.write(session)`` before its transaction commits. On an exception they are dropped,
    as the savepoint drops the message's other rows."""
    own = LaterRows()
    session.info[_LATER] = own
    try:
        yield
    finally:
        del session.info[_LATER]
    batch.take(own)


def _replace_failed(session: Session, facts: MessageFacts) -> None:
    """A message that failed before is recorded afresh: drop the placeholder row."""
    if facts.sha256 in session.info.get(_NEVER_RECORDED, ()):
        return
    old = find_message(session, sha256=facts.sha256)
    if old is not None and old.outcome == "failed":
        for att in list(old.attachments):
            session.delete(att)
        for reason in session.query(model.ReviewReason).filter_by(message_id=old.id):
            session.delete(reason)
        session.delete(old)
        session.flush()


def record_receipt(session: Session, facts: MessageFacts, env: PecMessage) -> Outcome:
    _replace_failed(session, facts)
    d = env.daticert
    referenced = _referenced(env)
    certified = facts.certification.certified
    reason = f"ricevuta PEC ({env.kind})" if certified else (
        f"ricevuta PEC ({env.kind}) SOSPETTA, non applicata: {facts.certification.detail}")
    message = facts.add(session, "receipt", reason)
    receipt = add_receipt(session, message, kind=env.kind, referenced_message_id=referenced,
                          legal_time=facts.legal_time, errore=d.errore if d else None,
                          errore_esteso=d.errore_esteso if d else None,
                          recipient=_recipient(env))
    if certified:  # only a receipt whose signature verifies moves an acknowledgement
        apply_receipt(session, receipt)
    else:
        add_review_reason(session, code="envelope_signature", message=message, detail=(
            f"ricevuta «{env.kind}» per {referenced or '-'} non certificata "
            f"({facts.certification.detail}): registrata come sospetta, lo stato della "
            "risposta non è cambiato"))
    return _outcome("receipt", reason[:200], env.kind, message_id=message.id)


@dataclass(frozen=True)
class Plain:
    """A message whose whole record is its row (and, for a receipt, the receipt's row): most
    of a PEC box (receipts of the office's own mail, unrelated mail). A batch writes these in
    bulk (:func:`write_plain`), the same rows :func:`record_ignored` and :func:`record_receipt`
    write one at a time."""

    facts: MessageFacts
    outcome: str
    reason: str
    receipt: dict[str, Any] | None = None  # receipt_values(...): no acknowledgement linked

    def result(self, message_id: int) -> Outcome:
        return _outcome(self.outcome, self.reason, self.facts.kind, message_id=message_id)


@dataclass(frozen=True)
class FirstRow:
    """The rows a version's record starts with (:func:`record_submission`): its message and
    its files. A batch written without savepoints writes the messages with its plain rows, in
    the same INSERT, and the files of them all in one more; the record then takes their ids
    (:meth:`MessageFacts.insert`, :func:`_attachments`). Not with a savepoint per message: a
    version rolled back to its savepoint would leave those rows behind."""

    facts: MessageFacts
    reason: str
    files: tuple[dict[str, Any], ...] = ()  # attachment_rows(...), in the envelope's order
    outcome: str = "submission"
    # the codice fiscale the form declares (None for a scan, whose values are proved when it
    # is recorded): its organisation is locked with the batch's others
    # (store.submissions.lock_organisations)
    codice_fiscale: str | None = None

    @classmethod
    def of(cls, facts: MessageFacts, env: PecMessage,
           parsed: Sequence[tuple[Attachment, IsolatedResult]], decision: Decision,
           config: Config) -> FirstRow:
        """What :func:`record_submission` writes first for this message."""
        form_att, result = decision.form if decision.form else (None, None)
        form = result.result if result is not None and result.ok else None
        code = ((form or {}).get("fields") or {}).get("codice_fiscale")
        if form is not None and provenance.is_scan_reading(form):
            code = None  # its values are the proved ones (provenance.settle), known later
        return cls(facts, decision.reason, tuple(attachment_rows(env, parsed, form_att, config)),
                   codice_fiscale=code if isinstance(code, str) else None)


def plain_ignored(facts: MessageFacts, decision: Decision) -> Plain | None:
    """Unrelated mail without a hint for staff is one row (None: written by record_ignored)."""
    if decision.hint is not None:
        return None
    return Plain(facts, "ignored", decision.reason)


def plain_receipt(facts: MessageFacts, env: PecMessage) -> Plain | None:
    """A certified receipt is two rows, unless it refers to one of our acknowledgements
    (:func:`write_plain` checks that; None: written by record_receipt)."""
    if not facts.certification.certified:
        return None  # suspicious: record_receipt lists it for review
    d = env.daticert
    return Plain(facts, "receipt", f"ricevuta PEC ({env.kind})"[:200], receipt_values(
        kind=env.kind, referenced_message_id=_referenced(env), legal_time=facts.legal_time,
        errore=d.errore if d else None, errore_esteso=d.errore_esteso if d else None,
        recipient=_recipient(env)))


def write_plain(session: Session, items: Sequence[Plain], firsts: Sequence[FirstRow] = (),
                *, savepoint: bool = True) -> dict[int, Outcome]:
    """Write ``items`` in bulk, in a savepoint: one INSERT of their messages (with the
    ``firsts``, whose ids the versions' records then take), one of their receipts. Returns
    the outcomes by position; an item left out (a receipt of one of our acknowledgements,
    which moves it) is for the caller to write one by one, and so is every item when the
    database refuses the bulk write (a duplicate among them, a value it does not take): the
    savepoint is rolled back, nothing of it is written (the versions then write their own
    rows, as they do without a batch). ``savepoint=False``: no savepoint, and a refusal is
    raised (:class:`StoreError` or :class:`SQLAlchemyError`): the caller rolls back its
    transaction."""
    ours = acknowledged(session, [p.receipt["referenced_message_id"] for p in items
                                  if p.receipt is not None])
    chosen = [(i, p) for i, p in enumerate(items)
              if p.receipt is None or p.receipt["referenced_message_id"] not in ours]
    if not chosen and not firsts:
        return {}
    if not savepoint:
        ids, files = _write_rows(session, chosen, firsts)
    else:
        try:
            with session.begin_nested():
                ids, files = _write_rows(session, chosen, firsts)
        except (StoreError, SQLAlchemyError) as exc:  # refused by the database or our checks
            log.info("bulk write of %d messages refused, written one by one: %s",
                     len(chosen) + len(firsts), exc)
            return {}
    early = session.info.setdefault(_EARLY, {})
    early_files = session.info.setdefault(_EARLY_FILES, {})
    for first, message_id in zip(firsts, ids[len(chosen):], strict=True):
        early[first.facts.sha256] = (message_id, (first.outcome, first.reason))
        early_files[message_id] = files.get(message_id, [])
    return {i: p.result(message_id)
            for (i, p), message_id in zip(chosen, ids[:len(chosen)], strict=True)}


def _write_rows(session: Session, chosen: Sequence[tuple[int, Plain]],
                firsts: Sequence[FirstRow]) -> tuple[list[int], dict[int, list[int]]]:
    """The messages' rows, their receipts' and the firsts' files: the messages' ids, and
    the files' ids by message."""
    ids = add_messages(session, [p.facts.values(p.outcome, p.reason) for _i, p in chosen] +
                       [f.facts.values(f.outcome, f.reason) for f in firsts], savepoint=False)
    add_receipts(session, [{**p.receipt, "message_id": message_id}
                           for (_i, p), message_id in zip(chosen, ids[:len(chosen)], strict=True)
                           if p.receipt is not None])
    file_rows = [{**row, "message_id": message_id}
                 for first, message_id in zip(firsts, ids[len(chosen):], strict=True)
                 for row in first.files]
    files: dict[int, list[int]] = {}
    for row, file_id in zip(file_rows, insert_files(session, file_rows), strict=True):
        files.setdefault(row["message_id"], []).append(file_id)
    return ids, files


def _referenced(env: PecMessage) -> str | None:
    d = env.daticert
    return (d.msgid if d and d.msgid else None) or env.riferimento_message_id


def _recipient(env: PecMessage) -> str | None:
    d = env.daticert
    return d.consegna if d and d.consegna else (
        d.destinatari[0].address if d and d.destinatari else None)


def record_anomaly(session: Session, facts: MessageFacts, env: PecMessage,
                   hint: str | None) -> Outcome:
    _replace_failed(session, facts)
    reason = "anomalia: messaggio non certificato arrivato nella casella PEC"
    message = facts.add(session, "anomaly", reason)
    if hint is not None:
        add_review_reason(session, code="other", message=message,
                          detail=f"anomalia con oggetto che contiene «{hint}»: potrebbe essere "
                                 "un'adesione inviata da posta ordinaria; chiedere l'invio via PEC")
    return _outcome("anomaly", reason, env.kind, message_id=message.id)


def record_ignored(session: Session, facts: MessageFacts, env: PecMessage,
                   decision: Decision) -> Outcome:
    """Unrelated mail: metadata only. A keyword without an Allegato 1 is listed for review."""
    _replace_failed(session, facts)
    message = facts.add(session, "ignored", decision.reason)
    if decision.hint is not None:
        add_review_reason(session, code="no_form", message=message,
                          detail=f"{decision.reason}; verificare se è un'adesione (in tal caso "
                                 "chiedere all'ente di inviare l'Allegato 1)")
    return _outcome("ignored", decision.reason, env.kind, message_id=message.id)


def record_headers_cut(session: Session, facts: MessageFacts, cut: int) -> Outcome:
    """Headers longer than the parser reads: what decides the kind (X-Trasporto, X-Ricevuta,
    Content-Type) may lie beyond the cut, so "not PEC" is not a safe verdict: review."""
    _replace_failed(session, facts)
    reason = (f"intestazioni oltre {cut // 1024} KB: il tipo di messaggio (PEC, ricevuta) non "
              "è determinabile; da esaminare a mano")
    message = facts.add(session, "ignored", reason)
    add_review_reason(session, code="unreadable", message=message,
                      detail=f"{reason} (potrebbe essere una PEC firmata)")
    return _outcome("ignored", reason, facts.kind, message_id=message.id)


def record_failure(session: Session, sha: str, size: int, rel: str, source: Source,
                   reason: str, max_failures: int) -> Outcome:
    message = find_message(session, sha256=sha)
    if message is None:
        message = add_message(session, sha256=sha, size=size, archive_path=rel,
                              source=source.kind, kind="not-pec", outcome="failed",
                              reason=reason, mailbox=source.mailbox, folder=source.folder,
                              uidvalidity=source.uidvalidity, uid=source.uid)
        message.failure_count = 0
    count(session, message, reason, quarantine_after=max_failures)
    if message.outcome == "quarantined":
        add_review_reason(session, code="quarantined", message=message,
                          detail=f"messaggio messo da parte dopo {message.failure_count} "
                                 f"tentativi falliti: {reason}")
    return _outcome(message.outcome, reason, message.kind, message_id=message.id)


def record_submission(session: Session, config: Config, facts: MessageFacts, env: PecMessage,
                      parsed: Sequence[tuple[Attachment, IsolatedResult]],
                      decision: Decision) -> Outcome:
    _replace_failed(session, facts)
    message_id = facts.insert(session, "submission", decision.reason)  # before the lock
    form_att, result = decision.form if decision.form else (None, None)
    form = result.result if result is not None and result.ok else None
    certified_sender = facts.sender if facts.certification.certified else None
    form, sources = provenance.settle(session, env, certified_sender, form)
    received, certified = facts.received
    fields: Mapping[str, Any] = (form or {}).get("fields") or dict.fromkeys(CANONICAL_FIELDS)
    organisation, created = find_or_create_organisation(
        session, fields.get("codice_fiscale"), facts.sender or env.original_from, None,
        name_if_new=fields.get("denominazione"), lock=True)
    known = lineage(session, organisation, new=created, locked=True)
    current = changed_sender(organisation, known.current, facts.sender)
    name = fields.get("denominazione")
    if not created and current is None and name and organisation.denominazione != name:
        organisation.denominazione = name  # (the same name set again: a flush for nothing)
    files = _attachments(session, message_id, env, parsed, form_att, config)
    closing = config.closing
    out_of_procedure = closing is not None and received > closing
    reasons = _reasons(config, env, form, form_att, result, out_of_procedure)
    if not certified:
        reasons += review.certification_reasons(env, facts.certification, received,
                                                facts.source.internal_date is not None)
    if current is not None:
        reasons.append(review.sender_change_reason(current.registration_number,
                                                   current.sender, current.pec, facts.sender))
    reasons += review.skipped_reasons(parsed, form_att)
    status = (form or {}).get("status", "needs_review")
    later = session.info.get(_LATER)
    submission = insert_version(
        session, organisation, message_id, procedure=config.procedure.code, fields=fields,
        received_at=received, late=received > config.deadline,
        out_of_procedure=out_of_procedure, status=status,
        warnings=(form or {}).get("warnings", []), parsed=provenance.without_ocr_text(form),
        attachment_id=files.get(id(form_att)) if form_att is not None else None,
        review_state=initial_review_state(status, current is not None, bool(reasons)),
        hold=current is not None, known=known, later=later)
    # its tables, reading, reasons and reply: checked, then written
    add_version_rows(session, submission, VersionRows(
        tavoli=[(t["code"], t["rank"]) for t in (form or {}).get("tavoli", [])],
        provenance=sources, ocr=(form or {}).get("ocr"),
        reasons=[(r.code, r.detail) for r in reasons],
        reply=reply_for(config, submission.registration_number, env, facts.sender)),
        later=later)
    return _outcome("submission", decision.reason, env.kind, message_id=message_id,
                    submission_id=submission.id,
                    registration_number=submission.registration_number,
                    late=submission.late)


def _reasons(config: Config, env: PecMessage, form: dict[str, Any] | None,
             form_att: Attachment | None, result: IsolatedResult | None,
             out_of_procedure: bool) -> list[review.Reason]:
    reasons = review.message_reasons(env)
    if form is None:
        reasons += review.parse_failure_reasons(result, form_att.filename if form_att else None)
    else:
        reasons += review.form_reasons(form) + review.contradiction_reasons(form, env)
    reasons += review.signature_reasons(form, form_att, env.attachments, config)
    if out_of_procedure:
        reasons.append(review.Reason("out_of_procedure", "ricevuta dopo la chiusura della "
                                                         "procedura: registrata ma fuori termine"))
    return reasons


def _attachments(session: Session, message_id: int, env: PecMessage,
                 parsed: Sequence[tuple[Attachment, IsolatedResult]],
                 form_att: Attachment | None, config: Config) -> dict[int, int]:
    """The message's files, written now (one INSERT), or by its batch beforehand
    (:class:`FirstRow`): their ids by ``id()`` of each."""
    ids = session.info.get(_EARLY_FILES, {}).pop(message_id, None)
    if ids is None:
        ids = insert_attachments(session, message_id,
                                 attachment_rows(env, parsed, form_att, config))
    return {id(att): ident for att, ident in zip(env.attachments, ids, strict=True)}


def attachment_rows(env: PecMessage, parsed: Sequence[tuple[Attachment, IsolatedResult]],
                    form_att: Attachment | None, config: Config) -> list[dict[str, Any]]:
    """The rows of the message's files (``attachment_values``), in the envelope's order."""
    by_att = {id(a): r for a, r in parsed}
    rows = []
    for att in env.attachments:
        result = by_att.get(id(att))
        plain = result.result if result is not None and result.ok else None
        signature = (plain or {}).get("signature") or None
        role = "form" if att is form_att else (
            "id_document" if find_keyword(att.filename, config.review.id_document_keywords)
            else "other")
        rows.append(attachment_values(
            path=att.path, size=att.size, sha256=att.sha256,
            filename=att.filename, content_type=att.content_type,
            format=(plain or {}).get("document", {}).get("format"),
            signed=signature is not None,
            signature_valid=signature.get("valid") if signature else None,
            signers=[{"name": s.get("name"), "codice_fiscale": s.get("codice_fiscale")}
                     for s in (signature or {}).get("signers", [])],
            role=role,
            parse_status=_PARSE_STATUS.get(result.outcome, "failed") if result else "skipped",
            parse_error=result.error if result is not None and not result.ok else None))
    return rows
