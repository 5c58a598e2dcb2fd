"""Organisations and their submissions: versions, supersession, registration numbers.

Identity of an organisation:

* by its codice fiscale when the form gives one (one organisation per code, UNIQUE);
* otherwise by the certified sender address (``sender_key``, lower case): a *provisional*
  organisation, so that repeated code-less forms from one address stay together;
* when a code arrives from an address that so far had only a provisional organisation, and no
  organisation has that code yet, the provisional one is **adopted**: it gets the code, keeps its
  history and its sender_key (later code-less forms from that address still land there). If the
  code already belongs to another organisation, nothing is merged automatically: the code wins,
  and the pipeline may flag ``organisation_conflict`` for staff (see
  :func:`provisional_organisation`). A shared address (a consultant sending for several bodies)
  can therefore attach a code-less form to the wrong body; such a form is incomplete anyway
  and goes to review.

Every submission is kept. The newest by legal receipt time is the current one (partial UNIQUE
index: one current per organisation); a message that arrives late in the mailbox but bears an
older legal time is stored as a superseded version straight away. A codice fiscale is public:
a version certified by another sender than the current version's, which is not the
organisation's declared PEC either (:func:`sender_change`), is recorded *held* (``hold=True``:
not current, superseding nothing) until staff accept it (:func:`make_current`).
Versions count in order of recording. Each version gets its own registration number,
``<PROCEDURE>-<NNNN>``, from a counter row updated (and so locked, on PostgreSQL) inside the
caller's transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Insert,
    Integer,
    Select,
    Table,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from store.base import CANONICAL_FIELDS, REVIEW_STATES, SUBMISSION_STATUSES, TAVOLI, utcnow
from store.bulk import insert_rows
from store.cleaning import without_nul
from store.errors import InvalidRecord
from store.messages import same_columns
from store.model import (
    Acknowledgement,
    Attachment,
    Message,
    Organisation,
    ProcedureCounter,
    ReviewReason,
    Submission,
    SubmissionTavolo,
)
from store.reading import SubmissionReading, reading_values
from store.receipts import acknowledgement_values
from store.review import check_review_code


def normalise_sender(sender: str | None) -> str | None:
    """The sender key: the certified address, trimmed, lower case; blank becomes None."""
    key = (sender or "").strip().strip("<>").strip().lower()
    return key or None


def provisional_organisation(session: Session, sender: str | None) -> Organisation | None:
    """The organisation known only by this sender address (no codice fiscale), if any."""
    key = normalise_sender(sender)
    if key is None:
        return None
    return session.scalars(select(Organisation).where(
        Organisation.sender_key == key, Organisation.codice_fiscale.is_(None))).one_or_none()


def get_or_create_organisation(session: Session, codice_fiscale: str | None,
                               sender: str | None, denominazione: str | None) -> Organisation:
    """The organisation for this code (or, without a code, this sender), created if new."""
    return find_or_create_organisation(session, codice_fiscale, sender, denominazione)[0]


def find_or_create_organisation(session: Session, codice_fiscale: str | None,
                                sender: str | None, denominazione: str | None, *,
                                name_if_new: str | None = None, lock: bool = False,
                                ) -> tuple[Organisation, bool]:
    """:func:`get_or_create_organisation`, and whether this transaction created it (then no
    other transaction can see it yet: it has no versions, nothing to lock); ``name_if_new``:
    its denominazione when it is created here. ``lock``: an organisation found is locked by
    the statement that finds it (``FOR UPDATE``, read as the lock's holder left it), as
    :func:`lineage` would lock it: tell it ``locked=True``."""
    code = normalise_code(codice_fiscale)
    key = normalise_sender(sender)
    if code is None and key is None:
        raise InvalidRecord("organizzazione senza codice fiscale né mittente certificato")
    direct: _Direct | None = session.info.get(_DIRECT) if lock else None
    if direct is not None and code is not None and code in direct.organisations:
        held = direct.organisations[code]  # locked by this transaction already
        if denominazione and held.denominazione != denominazione:
            held.denominazione = denominazione
            session.flush()
        return held, False
    # SQLite has no row locks: its writing transaction holds the whole database already
    lock = lock and session.get_bind().dialect.name != "sqlite"
    created = False
    if code is None:
        organisation = _by_sender(session, key, lock)
    else:  # by its code, else the provisional one of its address: one query for both
        found = session.scalars(_BY_CODE_OR_PROVISIONAL_LOCKED if lock
                                else _BY_CODE_OR_PROVISIONAL, {"code": code, "key": key}).all()
        organisation = next((o for o in found if o.codice_fiscale == code), None)
        provisional = next((o for o in found if o.codice_fiscale is None), None)
        if organisation is None and provisional is not None:
            organisation = _adopt(session, code, provisional, lock)  # locked by its UPDATE
    if organisation is None:
        organisation, created = _create(session, code, None if code else key, name_if_new,
                                        lock)
    if denominazione and organisation.denominazione != denominazione:
        organisation.denominazione = denominazione
    session.flush()
    if direct is not None and organisation.codice_fiscale is not None:
        direct.organisations[organisation.codice_fiscale] = organisation
    return organisation, created


def _forget_lineage(session: Session, organisation: Organisation) -> None:
    """A version of ``organisation`` is being written: what :func:`lock_organisations` read of
    its versions is stale from now on (:func:`lineage` reads them again)."""
    direct: _Direct | None = session.info.get(_DIRECT)
    if direct is not None:
        direct.lineages.pop(organisation.id, None)


def normalise_code(codice_fiscale: str | None) -> str | None:
    """A codice fiscale as organisations are found by it."""
    return (codice_fiscale or "").strip().upper() or None


def lock_organisations(session: Session, codes: Sequence[str | None]) -> None:
    """In a transaction written directly (:func:`write_directly`): lock the organisations of
    these codes by one statement (in the order of their ids, on PostgreSQL), then read their
    current versions and last version numbers by one more, for
    :func:`find_or_create_organisation` and :func:`lineage` to take instead of two statements
    per version. Codes of no organisation are left to those (a new one is created there).
    Call it after the batch's message rows are written: a version's lock is taken after its
    message row, as :func:`lock_organisation` says why."""
    direct: _Direct | None = session.info.get(_DIRECT)
    if direct is None:
        return
    wanted = sorted({c for c in map(normalise_code, codes) if c is not None}
                    - set(direct.organisations))
    if not wanted:
        return
    statement = select(Organisation).where(Organisation.codice_fiscale.in_(wanted)) \
        .order_by(Organisation.id)
    if session.get_bind().dialect.name != "sqlite":
        statement = _locking(statement)
    found = {o.id: o for o in session.scalars(statement)}
    if not found:
        return
    direct.lineages.update(_lineages(session, list(found)))  # after the lock (_LINEAGES)
    for organisation in found.values():
        direct.organisations[cast(str, organisation.codice_fiscale)] = organisation


# The statements a poll runs for every version, built once (with bound parameters: their
# construction and cache key cost more than running them)
_BY_CODE_OR_PROVISIONAL = select(Organisation).where(
    (Organisation.codice_fiscale == bindparam("code"))
    | ((Organisation.sender_key == bindparam("key")) & Organisation.codice_fiscale.is_(None)))
_BY_CODE = select(Organisation).where(Organisation.codice_fiscale == bindparam("code"))
_BY_SENDER = select(Organisation).where(Organisation.sender_key == bindparam("key"))


def _locking(statement: Select[Organisation]) -> Select[Organisation]:
    """``statement`` locking the organisation it finds (PostgreSQL), read as the database has it
    (not as an earlier read of this session left it). Each of these statements finds one row
    at most: a transaction never holds the lock of an organisation it does not write."""
    return statement.with_for_update().execution_options(populate_existing=True)


# the organisation of the code, else the sender's provisional one: only the row used is locked
_BY_CODE_OR_PROVISIONAL_LOCKED = _locking(
    _BY_CODE_OR_PROVISIONAL.order_by(Organisation.codice_fiscale.is_(None)).limit(1))
_BY_CODE_LOCKED = _locking(_BY_CODE)
_BY_SENDER_LOCKED = _locking(_BY_SENDER)
_ORGANISATIONS = cast(Table, Organisation.__table__)
_SUBMISSIONS = cast(Table, Submission.__table__)
_MESSAGES = cast(Table, Message.__table__)
_VERSIONS = _SUBMISSIONS.alias("versions")
# Each organisation's current version if any, that version's certified sender, its last
# number: one row per organisation, one statement, plain columns (no mapped object to build
# and keep in step). Read after the lock, by a statement of its own: on PostgreSQL a statement
# sees what was committed when it began, so a read that waited for the lock itself would miss
# the version the lock's holder just wrote
_LINEAGES = (
    select(_ORGANISATIONS.c.id, _SUBMISSIONS.c.id, _SUBMISSIONS.c.received_at,
           _SUBMISSIONS.c.registration_number, _SUBMISSIONS.c.pec, _MESSAGES.c.sender,
           select(func.max(_VERSIONS.c.version))
           .where(_VERSIONS.c.organisation_id == _ORGANISATIONS.c.id).scalar_subquery())
    .select_from(_ORGANISATIONS
                 .outerjoin(_SUBMISSIONS, (_SUBMISSIONS.c.organisation_id == _ORGANISATIONS.c.id)
                            & _SUBMISSIONS.c.is_current.is_(True))
                 .outerjoin(_MESSAGES, _MESSAGES.c.id == _SUBMISSIONS.c.message_id))
    .where(_ORGANISATIONS.c.id.in_(bindparam("ids", expanding=True))))
_CURRENT = (select(Submission)
            .where(Submission.organisation_id == bindparam("organisation_id"),
                   Submission.is_current.is_(True))
            .execution_options(populate_existing=True))
_LOCK = select(_ORGANISATIONS.c.id).where(_ORGANISATIONS.c.id == bindparam("organisation_id")) \
    .with_for_update()
_COUNTER = cast(Table, ProcedureCounter.__table__)
_INCREMENT = (update(_COUNTER).where(_COUNTER.c.procedure == bindparam("counted"))
              .values(last_number=_COUNTER.c.last_number + 1)
              .returning(_COUNTER.c.last_number))


def _by_code(session: Session, code: str, lock: bool = False) -> Organisation | None:
    return session.scalars(_BY_CODE_LOCKED if lock else _BY_CODE, {"code": code}).one_or_none()


def _by_sender(session: Session, key: str | None, lock: bool = False) -> Organisation | None:
    return session.scalars(_BY_SENDER_LOCKED if lock else _BY_SENDER,
                           {"key": key}).one_or_none()


def _adopt(session: Session, code: str, provisional: Organisation,
           lock: bool = False) -> Organisation | None:
    """Give ``code`` to the ``provisional`` organisation (of the sender), if it still has none:
    that organisation (its row locked by the UPDATE), or the one the code was given to
    meanwhile (``lock``: locked too)."""
    try:
        with session.begin_nested():
            done = session.execute(
                update(Organisation)
                .where(Organisation.id == provisional.id, Organisation.codice_fiscale.is_(None))
                .values(codice_fiscale=code)
                .execution_options(synchronize_session="fetch"))
    except IntegrityError:  # the code was given to another organisation meanwhile
        return _by_code(session, code, lock)
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return _by_code(session, code, lock)
    session.refresh(provisional)
    return provisional


def _create(session: Session, code: str | None, key: str | None,
            name: str | None = None, lock: bool = False) -> tuple[Organisation, bool]:
    """Insert a new organisation (and True); if a concurrent transaction won the race, its row
    (and False; ``lock``: locked). In a transaction written directly (:func:`write_directly`)
    there is no savepoint to fall back on: a race lost rolls the whole back."""
    organisation = Organisation(codice_fiscale=code, sender_key=key, denominazione=name)
    if _DIRECT in session.info:
        session.add(organisation)
        session.flush()
        return organisation, True
    try:
        with session.begin_nested():
            session.add(organisation)
    except IntegrityError:
        existing = (_by_code(session, code, lock) if code
                    else _by_sender(session, key, lock))
        if existing is None:
            raise
        return existing, False
    return organisation, True


def next_registration(session: Session, procedure: str) -> tuple[int, str]:
    """The next registration number of ``procedure``: ``(7, "PDZ2019-0007")``.

    The counter row is incremented with UPDATE ... RETURNING (created first, INSERT ... ON
    CONFLICT DO NOTHING, when the procedure has none yet), which keeps it locked on PostgreSQL
    until the caller's transaction ends: concurrent transactions queue, none reuses or skips a
    number. On SQLite the whole database is written by one transaction at a time (``BEGIN
    IMMEDIATE``, see ``engine.py``).
    """
    direct: _Direct | None = session.info.get(_DIRECT)
    if direct is not None and session.in_nested_transaction():  # a rollback to it would
        raise RuntimeError("numero di registrazione chiesto in un savepoint di una "  # undo
                           "transazione scritta senza savepoint")  # the row, not the count
    if direct is not None and procedure in direct.numbers:  # locked by us since: no one else
        counted = direct.numbers[procedure] + 1              # counts until we end
        direct.numbers[procedure] = counted
        direct.unwritten[procedure] = direct.unwritten.get(procedure, 0) + 1
        return counted, f"{procedure}-{counted:04d}"
    connection = session.connection()  # the counter is no mapped object: nothing to flush
    number = connection.execute(_INCREMENT, {"counted": procedure}).scalar_one_or_none()
    if number is None:  # the procedure's first number (once): create the row, then count
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        connection.execute(insert(_COUNTER).values(procedure=procedure, last_number=0)
                           .on_conflict_do_nothing(index_elements=["procedure"]))
        number = connection.execute(_INCREMENT, {"counted": procedure}).scalar_one()
    if direct is not None:
        direct.numbers[procedure] = int(number)
    return int(number), f"{procedure}-{int(number):04d}"


_DIRECT = "store.submissions.direct"


class _Direct:
    """What a transaction written directly keeps in memory: per procedure, the last number
    it gave and how many of them the counter row does not hold yet; the organisations it has
    locked, by codice fiscale (:func:`lock_organisations`, :func:`find_or_create_organisation`
    with ``lock``), and what :func:`lock_organisations` read of their versions, each until
    :func:`lineage` takes it (a version written after it would make it stale)."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}
        self.unwritten: dict[str, int] = {}
        self.organisations: dict[str, Organisation] = {}
        self.lineages: dict[int, Lineage] = {}


def write_directly(session: Session) -> None:
    """Mark the session's transaction as written directly: without a savepoint per message,
    so that any failure rolls the whole of it back (a poll's batch, which is then written
    again, a savepoint per message; the few savepoints its steps still take, an organisation's
    adoption for one, hold no number: :func:`next_registration` refuses one asked for inside
    them). Until :func:`end_direct`:

    * after its first number from a procedure's counter (an UPDATE, which locks the row until
      the transaction ends: no other transaction counts meanwhile), the next ones are counted
      in memory, and written to the row once, by :func:`end_direct`;
    * an organisation is created without a savepoint of its own (a concurrent creation of the
      same one fails the transaction instead of being read back)."""
    session.info[_DIRECT] = _Direct()


def end_direct(session: Session) -> None:
    """The numbers counted in memory written to their counter rows (one UPDATE each): call it
    before the COMMIT of a transaction marked by :func:`write_directly`, after its last
    version; the transaction is then an ordinary one again."""
    direct: _Direct | None = session.info.pop(_DIRECT, None)
    if direct is None:
        return
    connection = session.connection()
    for procedure, count in direct.unwritten.items():
        connection.execute(_ADVANCE, {"counted": procedure, "by": count})


_ADVANCE = (update(_COUNTER).where(_COUNTER.c.procedure == bindparam("counted"))
            .values(last_number=_COUNTER.c.last_number + bindparam("by")))


def add_submission(
    session: Session, organisation: Organisation, message: Message | int, *, procedure: str,
    fields: Mapping[str, str | None], tavoli: Sequence[tuple[str, int | None]],
    received_at: datetime, late: bool, out_of_procedure: bool, status: str,
    warnings: Sequence[str], parsed: Mapping[str, Any],
    attachment: Attachment | int | None = None,
    review_state: str | None = None, hold: bool = False, known: Lineage | None = None,
    flush: bool = True,
) -> Submission:
    """Record a new version for ``organisation``; the newest by ``received_at`` is current,
    unless ``hold``: then it is kept aside for staff (see :func:`sender_change`).

    ``message`` and ``attachment``: the rows, or their ids (written without mapped objects:
    :func:`store.messages.insert_message`, :func:`store.messages.insert_attachments`).
    ``review_state`` defaults to ``pending`` unless ``status`` is ``complete`` (a held version
    is always ``pending``). ``known``: the organisation's :func:`lineage`, read by the caller in
    this transaction (read here otherwise); ``flush=False`` leaves the INSERT to the next flush.
    """
    _validate(fields, tavoli, status, review_state, received_at)
    _forget_lineage(session, organisation)
    if known is None:
        known = lineage(session, organisation)
    version = known.last_version + 1
    replaced = (None if known.current is None else  # the mapped version, as the database has it
                session.get(Submission, known.current.id, populate_existing=True))
    if not hold and replaced is not None and _supersedes(received_at, replaced):
        replaced.is_current = False  # UPDATEd before the new row's INSERT by the same flush
    seq, number = next_registration(session, procedure)
    rows: dict[str, Any] = {
        "message_id" if isinstance(message, int) else "message": message,
        "attachment_id" if isinstance(attachment, int) else "attachment": attachment}
    submission = Submission(
        organisation=organisation, **rows, version=version,
        procedure=procedure, registration_seq=seq, registration_number=number,
        received_at=received_at, late=late, out_of_procedure=out_of_procedure, status=status,
        review_state=review_state or initial_review_state(status, hold),
        parser_warnings=list(warnings), parsed=dict(parsed),
        tavoli=[SubmissionTavolo(code=code, rank=rank) for code, rank in tavoli],
        **{name: fields.get(name) for name in CANONICAL_FIELDS})
    if hold:
        submission.is_current = False
        session.add(submission)
        session.flush()
    else:
        _place(session, submission, replaced, flush)
    return submission


def initial_review_state(status: str, hold: bool, reasons: bool = False) -> str:
    """A new version's review state: ``none`` for a complete reading that nothing puts under
    review (no reason, not held), ``pending`` otherwise."""
    return "none" if status == "complete" and not hold and not reasons else "pending"


@dataclass(frozen=True)
class NewVersion:
    """A version written by :func:`insert_version`: what the caller reads of it."""

    id: int
    registration_number: str
    late: bool
    out_of_procedure: bool
    review_state: str


def insert_version(
    session: Session, organisation: Organisation, message_id: int, *, procedure: str,
    fields: Mapping[str, str | None], received_at: datetime, late: bool,
    out_of_procedure: bool, status: str, warnings: Sequence[str], parsed: Mapping[str, Any],
    attachment_id: int | None, review_state: str, hold: bool, known: Lineage,
    later: LaterRows | None = None,
) -> NewVersion:
    """:func:`add_submission` for a poll, written without the unit of work (its bookkeeping of
    the version, its relationships and the supersession cost more than the statements): the
    same rows, by plain statements, in the order the partial unique index and the CHECK
    ``current`` need: the replaced version made not current, the new one inserted, the replaced
    one linked to it. ``known``: the organisation's :func:`lineage`, read under its lock in
    this transaction. Its tables and other rows: :func:`add_version_rows`. ``later``: the
    link from the replaced version to this one is written there, with the batch's others
    (:meth:`LaterRows.write`; nothing reads it in between: the replaced version is no longer
    current already).

    No mapped object is made for the new version, and what the session holds of the replaced
    version's state and of the organisation's versions is expired (read again when asked):
    whether the caller's savepoint then commits or rolls back, the session never shows a row
    the database does not hold (a savepoint's rollback expires only what the unit of work
    changed, and SQLite may give a rolled-back id to the next row)."""
    _validate(fields, (), status, review_state, received_at)
    if organisation.id is None:  # created by this transaction and not yet written
        session.flush()
    _forget_lineage(session, organisation)
    replaced = known.current
    superseding = not hold and replaced is not None and _supersedes(received_at, replaced)
    seq, number = next_registration(session, procedure)
    values: dict[str, Any] = without_nul({
        "organisation_id": organisation.id, "message_id": message_id,
        "attachment_id": attachment_id, "version": known.last_version + 1,
        "procedure": procedure, "registration_seq": seq, "registration_number": number,
        "received_at": received_at, "late": late, "out_of_procedure": out_of_procedure,
        "status": status, "review_state": review_state,
        "is_current": not hold and (replaced is None or superseding),
        "superseded_by_id": (replaced.id if replaced is not None and not hold
                             and not superseding else None),
        "parser_warnings": list(warnings), "parsed": dict(parsed), "created_at": utcnow(),
        **{name: fields.get(name) for name in CANONICAL_FIELDS}})
    connection = session.connection()
    if superseding and connection.dialect.name == "postgresql":  # one statement for both
        assert replaced is not None
        new_id = connection.execute(_replacing(tuple(values)), {
            "replaced": replaced.id, **{f"v_{name}": value for name, value in values.items()},
        }).scalar_one_or_none()
        if new_id is None:  # read under the organisation's lock just before: a bug of ours
            raise RuntimeError(f"versione sostituita {replaced.id} non trovata")
    else:
        if superseding:
            assert replaced is not None
            connection.execute(_NOT_CURRENT, {"replaced": replaced.id})  # one current at a time
        new_id = connection.execute(_INSERT_VERSION, values).scalar_one()
    if superseding:
        assert replaced is not None
        if later is None:
            connection.execute(_SUPERSEDED, {"replaced": replaced.id, "by": new_id})
        else:
            later.add(_SUPERSEDED, [{"replaced": replaced.id, "by": new_id}])
        held = session.identity_map.get(identity_key(Submission, replaced.id))
        if held is not None:  # read again when asked
            session.expire(held, ["is_current", "superseded_by_id", "superseded_by"])
    session.expire(organisation, ["submissions"])
    return NewVersion(new_id, number, late, out_of_procedure, review_state)


_INSERT_VERSION = insert(_SUBMISSIONS).returning(_SUBMISSIONS.c.id)
_NOT_CURRENT = (update(_SUBMISSIONS).where(_SUBMISSIONS.c.id == bindparam("replaced"))
                .values(is_current=False))
_SUPERSEDED = (update(_SUBMISSIONS).where(_SUBMISSIONS.c.id == bindparam("replaced"))
               .values(superseded_by_id=bindparam("by")))
# the same for many versions in one statement on PostgreSQL (an UPDATE run once per row
# otherwise: psycopg2 sends an executemany's rows one by one)
_SUPERSEDED_MANY = text(
    "UPDATE submissions SET superseded_by_id = pairs.by "
    "FROM unnest(:replaced, :by) AS pairs(replaced, by) WHERE submissions.id = pairs.replaced"
).bindparams(bindparam("replaced", type_=ARRAY(Integer)), bindparam("by", type_=ARRAY(Integer)))


@functools.cache
def _replacing(columns: tuple[str, ...]) -> Insert:
    """On PostgreSQL, :data:`_NOT_CURRENT` and :data:`_INSERT_VERSION` in one statement: the
    UPDATE in a WITH, whose row the INSERT selects its own from. That dependency makes the
    UPDATE of the replaced version come first (the statements of a WITH run in no set order
    otherwise), so the partial unique index (one current version per organisation) never
    sees two: the index entry of the replaced row's old state names a row this transaction
    has updated already, which the uniqueness check does not count. No row replaced (a bug):
    no row inserted, and the caller raises. The new row's values are bound as ``v_<column>``
    (parameters named after columns would be taken for the UPDATE's SET clause)."""
    replaced = (update(_SUBMISSIONS).where(_SUBMISSIONS.c.id == bindparam("replaced"))
                .values(is_current=False).returning(_SUBMISSIONS.c.id).cte("replaced"))
    row = select(*[sql_cast(bindparam(f"v_{name}", type_=_SUBMISSIONS.c[name].type),
                        _SUBMISSIONS.c[name].type).label(name) for name in columns]
                 ).select_from(replaced)
    return insert(_SUBMISSIONS).from_select(list(columns), row).returning(_SUBMISSIONS.c.id)


@dataclass(frozen=True)
class VersionRows:
    """The rows that hang on a new version and that nothing reads back in the transaction that
    writes them: its tables (code, rank), its reading (provenance, OCR), its review reasons
    (code, detail) and its acknowledgement (Message-ID, address; None: no reply).
    :func:`add_version_rows` writes them."""

    tavoli: Sequence[tuple[str, int | None]] = ()
    provenance: Mapping[str, Any] = field(default_factory=dict)
    ocr: Mapping[str, Any] | None = None
    reasons: Sequence[tuple[str, str]] = ()
    reply: tuple[str, str] | None = None


class LaterRows:
    """The rows of versions written in one transaction, inserted together before it commits:
    one INSERT per table (:meth:`write`) instead of up to four per version, and the links from
    the versions they replaced (one UPDATE). A poll writes a
    batch this way: each message's rows are collected apart and added here only once its
    savepoint is released (:meth:`take`), so a message rolled back leaves none of its rows."""

    def __init__(self) -> None:
        self._rows: dict[Any, list[dict[str, Any]]] = {
            _TAVOLI: [], _READING: [], _REASONS: [], _REPLY: [], _SUPERSEDED: []}

    def __bool__(self) -> bool:
        return any(self._rows.values())

    def add(self, statement: Any, rows: Sequence[dict[str, Any]]) -> None:
        self._rows[statement].extend(rows)

    def take(self, other: LaterRows) -> None:
        """Add ``other``'s rows to these (and empty it)."""
        for statement, rows in other._rows.items():
            self._rows[statement].extend(rows)
            rows.clear()

    def write(self, session: Session) -> None:
        """Insert every row collected (one statement per table), and forget them."""
        connection = session.connection()
        for statement, rows in self._rows.items():
            if not rows:
                continue
            same_columns(rows)
            if statement is _SUPERSEDED and connection.dialect.name == "postgresql":
                connection.execute(_SUPERSEDED_MANY, {
                    "replaced": [r["replaced"] for r in rows], "by": [r["by"] for r in rows]})
            elif statement is _SUPERSEDED:
                connection.execute(statement, rows)
            else:  # an INSERT: see store.bulk
                insert_rows(session, cast(Table, statement.table), rows)
            if statement is _SUPERSEDED:  # what the session holds of them: read again
                for row in rows:
                    held = session.identity_map.get(identity_key(Submission, row["replaced"]))
                    if held is not None:
                        session.expire(held, ["superseded_by_id", "superseded_by"])
            rows.clear()


def add_version_rows(session: Session, submission: Submission | NewVersion,
                     rows: VersionRows, later: LaterRows | None = None) -> None:
    """Write ``rows`` for ``submission`` (recorded by :func:`insert_version`, or by
    :func:`add_submission` without tables: flushed here if it was not yet), one INSERT per
    table, as plain rows: the unit of work's
    bookkeeping of these mapped objects cost more than their INSERTs (the same columns as
    :func:`store.reading.add_reading`, :func:`store.review.add_review_reason` and
    :func:`store.receipts.add_acknowledgement` write, NUL characters taken out as the flush
    does). All of these rows are checked before any of them is written (``InvalidRecord``;
    the version itself is written already: a refusal rolls it back with the caller's
    savepoint or transaction).
    A version with reasons is under review: a mapped version is put under review
    (``review_state`` ``pending``) before the flush that writes it; a :class:`NewVersion`
    must have been written under review (``ValueError``, a bug, otherwise). A mapped
    version's ``tavoli`` and ``review_reasons`` are expired: read from the database when
    next asked, within a session. ``later``: the rows of a :class:`NewVersion` are added there,
    for the caller to write before its transaction commits (:meth:`LaterRows.write`), not
    inserted now."""
    problems = _tavoli_problems(rows.tavoli)
    if problems:
        raise InvalidRecord("domanda non registrabile: " + "; ".join(problems))
    for code, _detail in rows.reasons:
        check_review_code(code)
    reply = acknowledgement_values(*rows.reply) if rows.reply is not None else None
    if isinstance(submission, NewVersion):
        if rows.reasons and submission.review_state == "none":  # decided by the caller
            raise ValueError(f"version {submission.id} has review reasons but is not under "
                             "review (review_state 'none')")
    elif rows.reasons and submission.review_state == "none":
        submission.review_state = "pending"
    session.flush()  # the version and its id (nothing left when the caller flushed it)
    number = submission.id
    own = later if later is not None and isinstance(submission, NewVersion) else LaterRows()
    own.add(_TAVOLI, [{"submission_id": number, "code": code, "rank": rank}
                      for code, rank in rows.tavoli])
    own.add(_READING, [without_nul(
        {"submission_id": number, **reading_values(rows.provenance, rows.ocr)})])
    own.add(_REASONS, [without_nul({"submission_id": number, "message_id": None,
                                    "code": code, "detail": detail})
                       for code, detail in rows.reasons])
    if reply is not None:
        own.add(_REPLY, [without_nul({"submission_id": number, **reply})])
    if own is not later:  # written now
        own.write(session)
    if isinstance(submission, Submission):  # its collections were built empty: read from
        session.expire(submission, ["tavoli", "review_reasons"])  # the database when asked


_TAVOLI = insert(cast(Table, SubmissionTavolo.__table__))
_READING = insert(cast(Table, SubmissionReading.__table__))
_REASONS = insert(cast(Table, ReviewReason.__table__))
_REPLY = insert(cast(Table, Acknowledgement.__table__))


@dataclass(frozen=True)
class Current:
    """What a new version needs of the current one: to place itself by legal time, to tell
    whether its sender changed (:func:`changed_sender`), to name it to staff."""

    id: int
    received_at: datetime
    registration_number: str
    pec: str | None
    sender: str | None  # the certified sender of its message


@dataclass(frozen=True)
class Lineage:
    """What a new version of an organisation follows: its current version, its last number."""

    current: Current | None
    last_version: int


def lineage(session: Session, organisation: Organisation, *, new: bool = False,
            locked: bool = False) -> Lineage:
    """Lock ``organisation`` (row lock on PostgreSQL) and read its current version and last
    version number (one statement); ``new``: created by this transaction (no other can see
    it: nothing to read); ``locked``: locked already, by the statement that found it
    (:func:`find_or_create_organisation` with ``lock``)."""
    if new:
        return Lineage(None, 0)
    direct: _Direct | None = session.info.get(_DIRECT) if locked else None
    if direct is not None and organisation.id in direct.lineages:
        return direct.lineages.pop(organisation.id)  # read under the lock, this batch
    if not locked:
        lock_organisation(session, organisation)
    found = _lineages(session, [organisation.id])
    if organisation.id not in found:
        raise InvalidRecord(f"organizzazione {organisation.id} non presente nella base dati")
    return found[organisation.id]


def _lineages(session: Session, ids: Sequence[int]) -> dict[int, Lineage]:
    """The lineages of these organisations, by id (one statement: :data:`_LINEAGES`)."""
    out = {}
    for row in session.connection().execute(_LINEAGES, {"ids": sorted(ids)}):
        organisation_id, ident, received_at, number, pec, sender, last = row
        current = None if ident is None else Current(ident, received_at, number, pec, sender)
        out[organisation_id] = Lineage(current, last or 0)
    return out


def current_version(session: Session, organisation: Organisation) -> Submission | None:
    return session.scalars(_CURRENT, {"organisation_id": organisation.id}).one_or_none()


def sender_change(session: Session, organisation: Organisation,
                  sender: str | None) -> Current | None:
    """The current version of ``organisation`` when a new one certified by ``sender`` may not
    replace it by itself: ``sender`` is neither the current version's certified sender nor the
    PEC it declares (nor the address the organisation was first known by). None otherwise
    (also when there is no current version, or it names no address to compare with)."""
    return changed_sender(organisation, lineage(session, organisation).current, sender)


def changed_sender(organisation: Organisation, current: Current | None,
                   sender: str | None) -> Current | None:
    """:func:`sender_change` given the organisation's ``current`` version (read under lock)."""
    if current is None:
        return None
    known = {normalise_sender(current.sender), normalise_sender(current.pec),
             organisation.sender_key} - {None}
    if not known or normalise_sender(sender) in known:
        return None
    return current


def is_held(sub: Submission) -> bool:
    """Kept aside by :func:`sender_change`: neither current nor superseded by another."""
    return not sub.is_current and sub.superseded_by_id is None


def make_current(session: Session, sub: Submission) -> bool:
    """Staff accepted a held version: it takes its place by legal time like any other (current
    unless the current one is newer). Returns whether it is now current."""
    lock_organisation(session, sub.organisation)  # as a poll recording a version does
    _make_current(session, sub.organisation, sub)
    return sub.is_current


def _tavoli_problems(tavoli: Sequence[tuple[str, int | None]]) -> list[str]:
    codes = [code for code, _ in tavoli]
    problems = [f"tavolo sconosciuto {code!r}" for code in codes if code not in TAVOLI]
    if len(set(codes)) != len(codes):
        problems.append("tavolo ripetuto")
    return problems + [f"rango non valido {rank!r}" for _, rank in tavoli
                       if rank is not None and rank < 1]


def _validate(fields: Mapping[str, str | None], tavoli: Sequence[tuple[str, int | None]],
              status: str, review_state: str | None, received_at: datetime) -> None:
    problems = [f"campo sconosciuto {name!r}" for name in fields if name not in CANONICAL_FIELDS]
    problems += _tavoli_problems(tavoli)
    if status not in SUBMISSION_STATUSES:
        problems.append(f"stato {status!r} non ammesso")
    if review_state is not None and review_state not in REVIEW_STATES:
        problems.append(f"stato di revisione {review_state!r} non ammesso")
    if received_at.utcoffset() is None:
        problems.append("data di ricezione senza fuso orario")
    if problems:
        raise InvalidRecord("domanda non registrabile: " + "; ".join(problems))


def lock_organisation(session: Session, organisation: Organisation) -> None:
    """Serialise versions of one organisation, and staff's changes to its current version, with
    each other (row lock on PostgreSQL, until the transaction ends; on SQLite the writing
    transaction holds the whole database already: ``BEGIN IMMEDIATE``): a poll reads the
    current version under this lock (:func:`lineage`), its PEC included for the sender-change
    check, so a correction taking it first is never read half-way. Everything pending is
    written first: a message row inserted after the lock could wait on another writer that
    holds the same identificativo and waits for this lock (a deadlock on PostgreSQL)."""
    session.flush()
    if session.get_bind().dialect.name != "sqlite":
        session.connection().execute(_LOCK, {"organisation_id": organisation.id})


def _supersedes(received_at: datetime, current: Submission | Current | None) -> bool:
    """Whether a version received at ``received_at`` takes the place of ``current``."""
    return current is not None and received_at >= current.received_at


def _place(session: Session, new: Submission, current: Submission | None,
           flush: bool = True) -> None:
    """Insert ``new`` beside ``current`` (read under lock, already made not current by
    :func:`add_submission` when ``new`` replaces it): current unless ``current`` bears a later
    legal time."""
    if current is not None and not _supersedes(new.received_at, current):
        new.is_current = False
        new.superseded_by = current
    else:
        new.is_current = True
        if current is not None:
            current.superseded_by = new  # written after the INSERT of new, by the same flush
    session.add(new)
    if flush:
        session.flush()


def _make_current(session: Session, organisation: Organisation, new: Submission) -> None:
    """Insert ``new``; make it current unless the current one bears a later legal time."""
    new.is_current = False
    session.add(new)
    session.flush()
    current = current_version(session, organisation)
    if current is not None and new.received_at < current.received_at:
        new.superseded_by = current
        session.flush()
        return
    if current is not None:
        current.is_current = False
        session.flush()  # the partial UNIQUE index allows one current row at a time
        current.superseded_by = new
    new.is_current = True
    session.flush()
