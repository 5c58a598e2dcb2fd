"""Messages and their attachments: record what arrived, find it again, record what became of it.

Every function takes a Session, flushes, and never commits: the pipeline owns the transaction
(one per message). The same message can never be recorded twice; the schema enforces it (UNIQUE
sha256, partial UNIQUE identificativo, UNIQUE IMAP coordinates) and :func:`add_message` turns the
database's refusal into :class:`~store.errors.DuplicateMessage` inside a SAVEPOINT, so the
caller's transaction stays usable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import BindParameter, Table, bindparam, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.base import ATTACHMENT_ROLES, MESSAGE_KINDS, OUTCOMES, PARSE_STATUSES
from store.bulk import insert_rows
from store.cleaning import header_text, without_nul
from store.errors import BatchRefused, DuplicateMessage, InvalidRecord
from store.model import Attachment, Message


def find_message(session: Session, *, sha256: str | None = None,
                 identificativo: str | None = None) -> Message | None:
    """The message with these bytes or this PEC identificativo (either matches), or None."""
    if sha256 is None and identificativo is None:
        raise ValueError("find_message: indicare sha256 o identificativo")
    conditions = []
    if sha256 is not None:
        conditions.append(Message.sha256 == sha256)
    if identificativo is not None:
        conditions.append(Message.identificativo == identificativo)
    rows = session.scalars(select(Message).where(or_(*conditions)).order_by(Message.id)).all()
    by_sha = [m for m in rows if m.sha256 == sha256]
    found = by_sha or list(rows)
    return found[0] if found else None


class MessageKey(NamedTuple):
    """What a batch's lookups need of a recorded message (no ORM object: a batch looks up
    thousands of these)."""

    id: int
    sha256: str
    identificativo: str | None
    outcome: str
    kind: str


_KEYS = select(Message.id, Message.sha256, Message.identificativo, Message.outcome, Message.kind)
_SHAS: BindParameter[str] = bindparam("shas", expanding=True)
_BY_SHA = _KEYS.where(Message.sha256.in_(_SHAS))
_RELATED = _KEYS.where(or_(Message.sha256.in_(_SHAS),
                           Message.identificativo.in_(bindparam("idents", expanding=True))))


def find_messages(session: Session, sha256s: Sequence[str]) -> list[MessageKey]:
    """The messages with any of these sha256 (one query, for a whole batch)."""
    if not sha256s:
        return []
    rows = session.connection().execute(_BY_SHA, {"shas": sorted(set(sha256s))})
    return [MessageKey(*row) for row in rows]


def stored_identificativo(value: str | None) -> str | None:
    """``value`` as the ``identificativo`` column keeps it (cleaned as a header value, cut to
    the column's length): what to compare a stored row's identificativo with."""
    cleaned = header_text(value)
    length = Message.__table__.c.identificativo.type.impl.length  # type: ignore[attr-defined]
    return cleaned[:length] if cleaned is not None else None


def find_related(session: Session, sha256s: Sequence[str],
                 identificativi: Sequence[str]) -> list[MessageKey]:
    """The messages with any of these sha256 or identificativi (one indexed query, for a
    whole batch)."""
    idents = sorted({v for v in map(stored_identificativo, identificativi) if v is not None})
    if not sha256s and not idents:
        return []
    rows = session.connection().execute(
        _RELATED, {"shas": sorted(set(sha256s)), "idents": idents})
    return [MessageKey(*row) for row in rows]


def find_message_at(session: Session, *, mailbox: str, folder: str, uidvalidity: int,
                    uid: int) -> Message | None:
    """The message recorded at these IMAP coordinates, or None."""
    return session.scalars(select(Message).where(
        Message.mailbox == mailbox, Message.folder == folder,
        Message.uidvalidity == uidvalidity, Message.uid == uid)).one_or_none()


def add_message(
    session: Session, *, sha256: str, size: int, archive_path: str, source: str, kind: str,
    outcome: str, reason: str | None = None, mailbox: str | None = None,
    folder: str | None = None, uidvalidity: int | None = None, uid: int | None = None,
    identificativo: str | None = None, message_id_header: str | None = None,
    riferimento_message_id: str | None = None, sender: str | None = None,
    subject: str | None = None, legal_time: datetime | None = None,
    signature_present: bool = False, signature_valid: bool | None = None,
    warnings: Sequence[str] = (), failure_count: int = 0, provider_trusted: bool | None = None,
) -> Message:
    """Record a message, in a savepoint of its own; raise :class:`DuplicateMessage` if it is
    already there (which rule refused it)."""
    message = Message(**message_values(
        sha256=sha256, size=size, archive_path=archive_path, source=source, kind=kind,
        outcome=outcome, reason=reason, mailbox=mailbox, folder=folder,
        uidvalidity=uidvalidity, uid=uid, identificativo=identificativo,
        message_id_header=message_id_header, riferimento_message_id=riferimento_message_id,
        sender=sender, subject=subject, legal_time=legal_time,
        signature_present=signature_present, signature_valid=signature_valid,
        provider_trusted=provider_trusted, warnings=warnings, failure_count=failure_count))
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError as exc:
        raise _explain_refusal(session, message, exc) from exc
    return message


def message_values(*, kind: str, outcome: str, identificativo: str | None = None,
                   message_id_header: str | None = None,
                   riferimento_message_id: str | None = None, sender: str | None = None,
                   subject: str | None = None, warnings: Sequence[str] = (),
                   **columns: Any) -> dict[str, Any]:
    """The columns of a new message row, checked and cleaned as :func:`add_message` writes
    them (header values without control characters; see :mod:`store.cleaning`)."""
    _check_vocabulary("kind", kind, MESSAGE_KINDS)
    _check_vocabulary("outcome", outcome, OUTCOMES)
    return {**columns, "kind": kind, "outcome": outcome,
            "identificativo": header_text(identificativo),
            "message_id_header": header_text(message_id_header),
            "riferimento_message_id": header_text(riferimento_message_id),
            "sender": header_text(sender), "subject": header_text(subject),
            "warnings": list(warnings)}


_MESSAGES = cast(Table, Message.__table__)


def add_messages(session: Session, rows: Sequence[Mapping[str, Any]], *,
                 savepoint: bool = True) -> list[int]:
    """Record many messages at once (``rows`` from :func:`message_values`, distinct sha256),
    in one INSERT (:func:`store.bulk.insert_rows`); returns their ids in the
    order of ``rows``. All or none: if any is already there (or the database refuses one),
    none is written and :class:`BatchRefused` is raised (the caller then writes them one by
    one, where :func:`add_message` says which is the duplicate). ``savepoint=False``: the
    caller's own savepoint or transaction is what a refusal rolls back (the INSERT has none)."""
    if not rows:
        return []
    values = [{key: without_nul(value) for key, value in row.items()} for row in rows]
    same_columns(values)
    if len({row["sha256"] for row in values}) != len(values):
        raise BatchRefused(f"{len(rows)} messaggi non scritti insieme: sha256 ripetuto")
    # ids matched by sha256 (UNIQUE): asking the database to keep the order of the rows would
    # make SQLite fall back to one INSERT per row. The table's INSERT, not the class's: the
    # ORM's bulk insert walks every row's columns in Python again (defaults are the table's)
    try:
        with session.begin_nested() if savepoint else nullcontext():
            ids = {sha: ident for ident, sha in insert_rows(session, _MESSAGES, values,
                                                            ("id", "sha256"))}
    except IntegrityError as exc:
        raise BatchRefused(f"{len(rows)} messaggi non scritti insieme: {exc.orig}") from exc
    return [ids[row["sha256"]] for row in values]


def insert_message(session: Session, values: Mapping[str, Any], *, alone: bool) -> int:
    """Record one message (``values`` from :func:`message_values`) with a plain INSERT, no
    mapped object; returns its id. ``alone``: the caller has found no row with its sha256 or
    identificativo in its transaction, nor in its batch: no savepoint of its own (a row
    written meanwhile by someone else is refused by the UNIQUE indexes as an
    ``IntegrityError``, which rolls back the caller's savepoint or transaction); otherwise
    the INSERT has a savepoint of its own and a collision is raised as :class:`DuplicateMessage`, as
    :func:`add_message` does."""
    row = {key: without_nul(value) for key, value in values.items()}
    if alone:
        return int(session.connection().execute(_INSERT_ONE, row).scalar_one())
    try:
        with session.begin_nested():  # the connection asked for inside: SAVEPOINT is sent
            return int(session.connection().execute(_INSERT_ONE, row).scalar_one())
    except IntegrityError as exc:
        raise _explain_refusal(session, Message(**row), exc) from exc


_INSERT_ONE = _MESSAGES.insert().returning(_MESSAGES.c.id)


def same_columns(rows: Sequence[Mapping[str, Any]]) -> None:
    """One INSERT for many rows takes its columns from the first: a row with other keys would
    lose values or fail. The callers build rows with one function (a caller's bug otherwise)."""
    if any(row.keys() != rows[0].keys() for row in rows):
        raise ValueError("righe con colonne diverse in una scrittura in blocco")


def _explain_refusal(session: Session, message: Message, exc: IntegrityError) -> Exception:
    """Which uniqueness rule refused ``message`` (the savepoint is already rolled back)."""
    if (same := find_message(session, sha256=message.sha256)) is not None:
        return DuplicateMessage(same.id, "sha256", message.sha256)
    if message.identificativo is not None:
        same = find_message(session, identificativo=message.identificativo)
        if same is not None:
            return DuplicateMessage(same.id, "identificativo", message.identificativo)
    if None not in (message.mailbox, message.folder, message.uidvalidity, message.uid):
        same = find_message_at(session, mailbox=message.mailbox or "",
                               folder=message.folder or "",
                               uidvalidity=message.uidvalidity or 0, uid=message.uid or 0)
        if same is not None:
            return DuplicateMessage(same.id, "uid", (message.mailbox, message.folder,
                                                     message.uidvalidity, message.uid))
    return InvalidRecord(f"messaggio rifiutato dal database: {exc.orig}")


def set_outcome(session: Session, message: Message, outcome: str,
                reason: str | None = None) -> Message:
    """Record what became of ``message`` (``reason`` in Italian, for staff)."""
    _check_vocabulary("outcome", outcome, OUTCOMES)
    message.outcome = outcome
    message.reason = reason
    session.flush()
    return message


def record_failure(session: Session, message: Message, reason: str, *,
                   quarantine_after: int) -> Message:
    """Count one more processing failure; after ``quarantine_after`` the message is set aside."""
    message.failure_count = (message.failure_count or 0) + 1
    outcome = "quarantined" if message.failure_count >= quarantine_after else "failed"
    return set_outcome(session, message, outcome, reason)


def add_attachment(
    session: Session, message: Message, *, path: str, size: int, sha256: str,
    filename: str | None = None, content_type: str | None = None, format: str | None = None,
    signed: bool = False, signature_valid: bool | None = None,
    signers: Sequence[Mapping[str, Any]] = (), role: str = "other",
    parse_status: str = "not_attempted", parse_error: str | None = None, flush: bool = True,
) -> Attachment:
    """Record one file of ``message``; ``signers`` as ``[{"name": ..., "codice_fiscale": ...}]``.
    ``flush=False``: written with the next flush (several files at once)."""
    attachment = Attachment(message=message, **attachment_values(
        path=path, size=size, sha256=sha256, filename=filename, content_type=content_type,
        format=format, signed=signed, signature_valid=signature_valid, signers=signers,
        role=role, parse_status=parse_status, parse_error=parse_error))
    session.add(attachment)
    if flush:
        session.flush()
    return attachment


def attachment_values(
    *, path: str, size: int, sha256: str, filename: str | None = None,
    content_type: str | None = None, format: str | None = None, signed: bool = False,
    signature_valid: bool | None = None, signers: Sequence[Mapping[str, Any]] = (),
    role: str = "other", parse_status: str = "not_attempted", parse_error: str | None = None,
) -> dict[str, Any]:
    """The columns of a new attachment row (but its message_id), checked, as
    :func:`add_attachment` writes them."""
    _check_vocabulary("role", role, ATTACHMENT_ROLES)
    _check_vocabulary("parse_status", parse_status, PARSE_STATUSES)
    return {"path": path, "size": size, "sha256": sha256, "filename": filename,
            "content_type": content_type, "format": format, "signed": signed,
            "signature_valid": signature_valid, "signers": [dict(s) for s in signers],
            "role": role, "parse_status": parse_status, "parse_error": parse_error}


def insert_attachments(session: Session, message_id: int,
                       rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Record the files of message ``message_id`` (``rows`` from :func:`attachment_values`)
    with one plain statement, no mapped objects (NUL characters taken out as the flush does);
    returns their ids in the order of ``rows`` (asked to keep that order, SQLite sends one
    INSERT per row, as the flush did; a message has a few files)."""
    return insert_files(session, [{**row, "message_id": message_id} for row in rows])


def insert_files(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """:func:`insert_attachments` for the files of several messages at once (each row names
    its ``message_id``): one statement on PostgreSQL, one INSERT per row on SQLite."""
    if not rows:
        return []
    values = [{key: without_nul(value) for key, value in row.items()} for row in rows]
    same_columns(values)
    return [int(ident) for ident in session.connection().execute(_INSERT_FILES, values)
            .scalars()]


_FILES = cast(Table, Attachment.__table__)
_INSERT_FILES = _FILES.insert().returning(_FILES.c.id, sort_by_parameter_order=True)


def _check_vocabulary(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise InvalidRecord(f"{name} {value!r} non ammesso (ammessi: {', '.join(allowed)})")
