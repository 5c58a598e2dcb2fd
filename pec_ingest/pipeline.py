"""One message in, one recorded outcome out: the function every entry point calls.

``Pipeline.ingest(raw, source)`` does, in this order:

1. archive the raw bytes (content-addressed, fsync'd) before deciding anything;
2. skip what is already recorded (same bytes or same PEC identificativo): a no-op;
3. read the envelope; receipts and anomalies are recorded as such, never parsed as forms;
4. parse candidate attachments in child processes with a time and memory limit;
5. decide relevance, and write everything about the message in ONE transaction (message,
   attachments, organisation, submission, tables, review reasons, acknowledgement outbox).

``ingest`` is ``prepare`` (steps 1-4, thread-safe, the slow part) then ``commit`` (step 5).
A poll or an ``ingest`` run prepares its messages in parallel and commits them in
legal-receipt-time order (:func:`registration_order`) within each written group, so
registration numbers follow the receipt time, the same on every run.

A poll writes in groups (:meth:`Pipeline.commit_many`): the batch's archive files are made
durable at one point, then the batch is written in ONE transaction (the folder's last UID
advanced in the same transaction). A message that fails inside the batch sends it back to be
written again with one savepoint per message (a clean batch takes none); there the message is
rolled back to its savepoint and written again alone after the batch, so it never takes the
batch with it (it then gets the next registration number, not its legal-time place).

A crash anywhere before the commit leaves only the archived file: the next attempt redoes the
work. An unexpected error is caught by the single per-message guard and counted on the message;
after ``parser.max_failures`` the message is quarantined for a person.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from parsers.envelope import Attachment, PecMessage
from parsers.mime import MAX_HEAD_BYTES
from pec_ingest import recording
from pec_ingest.config import Config
from pec_ingest.envelopes import Ahead, EnvelopeReader
from pec_ingest.isolation import IsolatedResult, ParserPool, ParseTask
from pec_ingest.relevance import Decision, decide, find_keyword, form_candidates, unreadable
from pec_ingest.trust import Certification, TrustStore, certify
from store.archive import Archive, Staged
from store.base import RECEIPT_KINDS
from store.engine import reading
from store.errors import DuplicateMessage, StoreError
from store.mailbox_state import bare_message_id
from store.messages import (
    MessageKey,
    find_message,
    find_messages,
    find_related,
    stored_identificativo,
)
from store.model import Message
from store.submissions import LaterRows, end_direct, lock_organisations, write_directly

log = logging.getLogger(__name__)

# Outcomes after which the same bytes are processed again on the next attempt.
RETRYABLE = frozenset({"failed"})
ParseFn = Callable[[Sequence[ParseTask]], list[IsolatedResult]]
# Called inside a batch's transaction with the outcomes so far (None: to be written alone).
BatchFinish = Callable[[Session, Sequence["Outcome | None"]], None]


@dataclass(frozen=True)
class Source:
    """Where a message came from (``kind``: imap, file, demo)."""

    kind: str = "file"
    mailbox: str | None = None
    folder: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None
    path: str | None = None
    internal_date: datetime | None = None  # IMAP INTERNALDATE: when our server received it
    # the Message-ID header the poll found not recorded (any outcome but failed) before
    # downloading the message (scan.FolderScan._split_known); None: not looked up
    checked_message_id: str | None = None

    def describe(self) -> str:
        if self.kind == "imap":
            return f"{self.mailbox}/{self.folder} uid={self.uid}"
        return self.path or self.kind


@dataclass(frozen=True)
class Outcome:
    """What became of one message."""

    outcome: str
    reason: str
    kind: str
    message_id: int | None = None
    submission_id: int | None = None
    registration_number: str | None = None
    late: bool = False
    duplicate: bool = False


@dataclass(frozen=True)
class Prepared:
    """A message archived, read and parsed, waiting to be written (:meth:`Pipeline.commit`).

    A poll prepares its messages in parallel and writes them in legal-time order
    (:func:`registration_order`), so that registration numbers follow the receipt time."""

    legal_time: datetime | None
    raw: bytes
    sha: str
    rel_path: str
    source: Source
    record: Callable[[Session], Outcome]
    staged: Staged | None = None  # archived but not yet durable (settled before the commit)
    kind: str = "unknown"  # the envelope's kind
    identificativo: str | None = None  # recording.own_identificativo: checked at the commit
    plain: recording.Plain | None = None  # the same record as rows a batch writes in bulk
    first_row: recording.FirstRow | None = None  # a version's first rows, written with those

    @property
    def key(self) -> tuple[str, str | None, str]:
        """What :meth:`Pipeline._lookup` looks up."""
        return self.sha, self.identificativo, self.kind


@dataclass(frozen=True)
class Written:
    """The outcomes of :meth:`Pipeline.commit_many`; ``together``: the batch's transaction
    (with its ``finish``) committed, else every message was written alone."""

    outcomes: list[Outcome]
    together: bool


@dataclass(frozen=True)
class Lookup:
    """What the database already holds of a batch (:meth:`Pipeline._lookup`), by position:
    ``same``: identificativo recorded for other bytes (their ``duplicate`` outcome);
    ``known``: identificativo recorded at all; ``fresh``: the sha256 with no row (no failed
    placeholder to replace when written)."""

    same: dict[int, Outcome]
    fresh: set[str]
    known: set[int]


def registration_order(item: Prepared, position: int) -> tuple[bool, datetime, int]:
    """Sort key: certified receipt time first to last, messages without one after them, ties
    (and the uncertified) in arrival ``position``: the same order on every run."""
    when = item.legal_time or datetime.max.replace(tzinfo=UTC)
    return item.legal_time is None, when, position


class Pipeline:
    """Ingest messages into the database; safe to call again with the same bytes."""

    def __init__(self, config: Config, sessions: sessionmaker[Session],
                 archive: Archive | None = None, parse: ParseFn | None = None) -> None:
        self.config = config
        self.sessions = sessions
        self.archive = archive or Archive(config.archive_dir, config.state.archive_sync)
        self._pool: ParserPool | None = None
        self._pool_lock = threading.Lock()
        self.parse = parse or self._parse_isolated
        self.before_commit: Callable[[], None] | None = None  # fault injection in tests
        self.last_progress: float | None = None  # time.monotonic() of the last message done
        self._trust: TrustStore | None = None
        self.envelopes = EnvelopeReader(config.limits, 0, config.parser.memory_limit_mb,
                                        config.parser.timeout_seconds)
        self._local = threading.local()  # the message in hand's parse deadline, per thread

    def _parse_isolated(self, tasks: Sequence[ParseTask]) -> list[IsolatedResult]:
        p = self.config.parser
        deadline = getattr(self._local, "deadline", None) or (
            time.monotonic() + p.message_budget_seconds)  # the message's parse budget
        with self._pool_lock:  # ingest may run in several threads: one pool for all
            if self._pool is None:
                self._pool = ParserPool(self.config.vocabulary, self.config.limits,
                                        timeout=p.timeout_seconds, memory_mb=p.memory_limit_mb)
            pool = self._pool
        return pool.parse_many(tasks, deadline)

    def read_envelopes_in(self, workers: int) -> None:
        """Read envelopes in ``workers`` processes (0: in the calling thread); a poll uses one
        per core (:mod:`pec_ingest.envelopes`)."""
        self.envelopes.close()
        self.envelopes = EnvelopeReader(self.config.limits, workers,
                                        self.config.parser.memory_limit_mb,
                                        self.config.parser.timeout_seconds)

    def close(self) -> None:
        """Stop the parser children and the envelope readers."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self.envelopes.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ingest(self, raw: bytes, source: Source) -> Outcome:
        """Record one message; the per-message guard: never raises for what a message holds."""
        step = self.prepare(raw, source)
        return step if isinstance(step, Outcome) else self.commit(step)

    def prepare(self, raw: bytes, source: Source, durable: bool = True,
                known: Mapping[str, Outcome] | None = None,
                ahead: Ahead | None = None) -> Outcome | Prepared:
        """Archive, read and parse ``raw`` (thread-safe, the slow part): what remains to write,
        or the outcome when nothing does (already recorded, failed). ``durable=False``: the
        archive file is settled by :meth:`commit_many` (or :meth:`commit`), with its batch;
        ``known``: the batch's :meth:`recorded` (no lookup of its own then); ``ahead``: its
        envelope, already being read (:meth:`read_ahead`)."""
        try:
            staged = self.archive.stage(raw)
            if durable:
                self.archive.settle([staged])
                staged = Staged(staged.relative, staged.sha256)  # nothing left to settle
        except StoreError as exc:  # disk full, permissions, a corrupt archive file
            log.error("source=%s archive failed: %s", source.describe(), exc)
            return Outcome("failed", f"archivio non scrivibile: {exc}", "unknown")
        step = self._prepare_staged(raw, staged, source, known, ahead)
        if isinstance(step, Outcome):
            self._finish(source, staged.sha256, step)
        else:  # read and parsed, its batch not yet written: work goes on (the watchdog)
            self.last_progress = time.monotonic()
        return step

    def _prepare_staged(self, raw: bytes, staged: Staged, source: Source,
                        known: Mapping[str, Outcome] | None,
                        ahead: Ahead | None = None) -> Outcome | Prepared:
        sha, rel_path = staged.sha256, staged.relative
        error: Exception | None = None
        try:
            done = self._already_done(sha) if known is None else known.get(sha)
            step = done if done is not None else self._process(raw, sha, rel_path, source,
                                                                ahead)
            if isinstance(step, Prepared):
                return replace(step, staged=staged)
        except Exception as exc:  # the single per-message guard (house style)
            log.exception("uid=%s sha256=%s failed", source.uid, sha[:12])
            error = exc
        try:
            self.archive.settle([staged])  # kept as evidence, named by a failure row
        except StoreError as exc:
            log.error("source=%s archive failed: %s", source.describe(), exc)
            return Outcome("failed", f"archivio non scrivibile: {exc}", "unknown")
        if error is not None:
            return self._record_failure(raw, sha, rel_path, source, error)
        return step

    def commit(self, item: Prepared) -> Outcome:
        """Write a prepared message in one transaction (the same per-message guard)."""
        try:
            self.archive.settle([item.staged] if item.staged else [])
        except StoreError as exc:  # not durable: nothing may name the file yet
            log.error("source=%s archive failed: %s", item.source.describe(), exc)
            outcome = Outcome("failed", f"archivio non scrivibile: {exc}", "unknown")
            self._finish(item.source, item.sha, outcome)
            return outcome
        try:
            outcome = self._lookup([item.key]).same.get(0) or self._write(item.record)
        except Exception as exc:  # the single per-message guard (house style)
            log.exception("uid=%s sha256=%s failed", item.source.uid, item.sha[:12])
            outcome = self._record_failure(item.raw, item.sha, item.rel_path, item.source, exc)
        self._finish(item.source, item.sha, outcome)
        return outcome

    def commit_many(self, items: Sequence[Prepared], finish: BatchFinish) -> Written:
        """Write ``items`` in one transaction, ``finish`` (the caller's last UID) and COMMIT,
        the COMMIT after one durability point for their archive files (reached meanwhile, in
        a thread of its own: :meth:`_settle_aside`). The messages go
        straight into the transaction; if one of them fails, the transaction is rolled back and
        the batch written again with a savepoint per message, and a message that fails in its
        savepoint is then written alone (:meth:`commit`); if the batch cannot commit at all,
        every message is."""
        settling = self._settle_aside([i.staged for i in items if i.staged is not None])
        try:
            together = self._write_many(items, finish, settling.result)
        except Exception:  # each message then goes through the per-message guard alone
            log.exception("batch of %d messages not written together: written one by one",
                          len(items))
            wait([settling])  # done with the batch's files before each message settles its own
            return Written([self.commit(item) for item in items], together=False)
        outcomes = []
        for item, outcome in zip(items, together, strict=True):
            if outcome is None:
                outcomes.append(self.commit(item))
            else:
                self._finish(item.source, item.sha, outcome)
                outcomes.append(outcome)
        return Written(outcomes, together=True)

    def _settle_aside(self, staged: list[Staged]) -> Future[None]:
        """The batch's durability point (:meth:`Archive.settle`), started in a thread of its
        own (one per batch: a batch never waits behind another mailbox's): its fsyncs and
        links wait on the disk while the batch's statements wait on the database. The
        transaction waits for it before its COMMIT (``durable`` in :meth:`_write_batch`):
        nothing that names a file commits before the file is durable."""
        done: Future[None] = Future()

        def settle() -> None:
            try:
                self.archive.settle(staged)
            except BaseException as exc:  # handed to the batch's transaction, which raises it
                done.set_exception(exc)
            else:
                done.set_result(None)

        try:
            threading.Thread(target=settle, name="settle").start()  # (an exit waits for it)
        except RuntimeError:  # no new thread (the interpreter is shutting down): here, then
            settle()
        return done

    def _write_many(self, items: Sequence[Prepared], finish: BatchFinish,
                    durable: Callable[[], None]) -> list[Outcome | None]:
        found = self._lookup([i.key for i in items])  # read-only, before the writing
        # in bulk: only rows nothing else in the batch or the database can collide with (a
        # collision is then settled one by one, in the batch's order)
        shas = Counter(i.sha for i in items)
        stored = [stored_identificativo(i.identificativo) for i in items]  # as compared there
        idents = Counter(ident for ident in stored if ident is not None)
        alone = [i for i, item in enumerate(items)
                 if item.sha in found.fresh and i not in found.known
                 and shas[item.sha] == 1 and idents.get(stored[i] or "", 0) <= 1]
        bulk = [(i, row) for i in alone if (row := items[i].plain) is not None]
        try:  # without a savepoint per message first: nearly every batch writes cleanly
            return self._write_batch(items, found, alone, bulk, finish, durable, _write_direct)
        except _Guarded as exc:  # the whole transaction rolled back: again, savepoints this time
            # what the database or the store refused is expected now and then (a duplicate,
            # a race): INFO; anything else is a bug of ours, seen even if the retry works
            expected = isinstance(exc.__cause__, (StoreError, SQLAlchemyError))
            log.log(logging.INFO if expected else logging.ERROR,
                    "%s did not write in its batch: the batch is written again with a "
                    "savepoint per message (what was logged while writing it was rolled "
                    "back)", exc, exc_info=exc.__cause__)
            return self._write_batch(items, found, alone, bulk, finish, durable, _write_nested)

    def _write_batch(self, items: Sequence[Prepared], found: Lookup, alone: Sequence[int],
                     bulk: Sequence[tuple[int, recording.Plain]], finish: BatchFinish,
                     durable: Callable[[], None],
                     write: Callable[[Session, Prepared, LaterRows], Outcome | None],
                     ) -> list[Outcome | None]:
        outcomes: list[Outcome | None] = []
        with self.sessions() as session, session.begin():
            recording.never_recorded(session, found.fresh, {items[i].sha for i in alone})
            if write is _write_direct:  # no savepoint: numbers counted in memory, and more
                write_directly(session)
            plain = self._write_plain(session, items, alone, bulk, direct=write is _write_direct)
            written = {bulk[k][0]: outcome for k, outcome in plain.items()}
            if write is _write_direct:
                self._lock_organisations(session, items, alone, written, found)
            later = LaterRows()  # the versions' tables, readings, reasons, replies: together
            for i, item in enumerate(items):
                outcomes.append(found.same.get(i) or written.get(i)
                                or write(session, item, later))
            if write is _write_direct:
                recording.all_early_rows_taken(session)
                end_direct(session)
            later.write(session)
            finish(session, outcomes)
            durable()  # the batch's archive files (ArchiveError: rolled back, one by one)
            if self.before_commit is not None:
                self.before_commit()
        return outcomes

    @staticmethod
    def _lock_organisations(session: Session, items: Sequence[Prepared], alone: Sequence[int],
                            written: Mapping[int, Outcome], found: Lookup) -> None:
        """The organisations the batch's versions declare, locked together (and their versions
        read): those of the versions before the first message that writes its own message row
        in the loop, so that no row is inserted while a lock is held that the loop would not
        hold by then (see ``store.submissions.lock_organisation``)."""
        codes: list[str | None] = []
        in_bulk = set(alone)
        for i, item in enumerate(items):
            if i in found.same or i in written:
                continue  # nothing written in the loop
            if i not in in_bulk or item.first_row is None:
                break  # its message row is inserted in the loop
            codes.append(item.first_row.codice_fiscale)
        try:
            lock_organisations(session, codes)
        except (StoreError, SQLAlchemyError) as exc:  # a deadlock, say: again, with savepoints
            raise _Guarded(None) from exc

    @staticmethod
    def _write_plain(session: Session, items: Sequence[Prepared], alone: Sequence[int],
                     bulk: Sequence[tuple[int, recording.Plain]], direct: bool
                     ) -> dict[int, Outcome]:
        """The batch's bulk rows; ``direct`` (no savepoint per message): the versions' message
        rows with them (see :class:`recording.FirstRow`), and no savepoint for the bulk either:
        a refusal sends the batch to be written again, with savepoints."""
        if not direct:
            return recording.write_plain(session, [p for _i, p in bulk])
        firsts = [row for i in alone if (row := items[i].first_row) is not None]
        try:
            return recording.write_plain(session, [p for _i, p in bulk], firsts,
                                         savepoint=False)
        except (StoreError, SQLAlchemyError) as exc:  # refused: see recording.write_plain
            raise _Guarded(None) from exc

    def _finish(self, source: Source, sha: str, outcome: Outcome) -> None:
        self.last_progress = time.monotonic()  # the service's watchdog: work goes on
        _log_outcome(source, sha, outcome)

    def _lookup(self, keys: Sequence[tuple[str, str | None, str]]) -> Lookup:
        """One read-only query for a batch of ``(sha256, identificativo, kind)``."""
        idents = [ident for _sha, ident, _kind in keys if ident is not None]
        with reading(self.sessions) as session:
            rows = find_related(session, [sha for sha, _ident, _kind in keys], idents)
        by_sha = {row.sha256 for row in rows}
        by_ident: dict[str, tuple[int, str, str]] = {}
        for row in sorted(rows, key=lambda r: r.id):
            if row.identificativo is not None:
                by_ident.setdefault(row.identificativo, (row.id, row.sha256, row.outcome))
        same: dict[int, Outcome] = {}
        known: set[int] = set()
        for position, (sha, ident, kind) in enumerate(keys):
            stored = stored_identificativo(ident)
            found = by_ident.get(stored) if stored is not None else None
            if found is None:
                continue
            known.add(position)
            if found[1] != sha and found[2] not in RETRYABLE:
                same[position] = Outcome("duplicate", f"stesso identificativo PEC del "
                                                      f"messaggio {found[0]}", kind,
                                         message_id=found[0], duplicate=True)
        return Lookup(same, {sha for sha, _ident, _kind in keys} - by_sha, known)

    def _already_done(self, sha: str) -> Outcome | None:
        with reading(self.sessions) as session:
            existing = find_message(session, sha256=sha)
            return _recorded(existing) if existing is not None else None

    def recorded(self, sha256s: Sequence[str]) -> dict[str, Outcome]:
        """Of these sha256, those already recorded for good, with their ``duplicate`` outcome:
        one read-only query for a batch (pass the result to :meth:`prepare` as ``known``)."""
        with reading(self.sessions) as session:
            found = {m.sha256: _recorded(m) for m in find_messages(session, sha256s)}
        return {sha: outcome for sha, outcome in found.items() if outcome is not None}

    @property
    def trust_store(self) -> TrustStore | None:
        """``[trust] ca_file`` loaded once (a reload that changes it loads it again)."""
        path = self.config.trust.ca_file
        if not path:
            return None
        if self._trust is None or self._trust.path != path:
            self._trust = TrustStore.load(path)
        return self._trust

    def read_ahead(self, raws: Sequence[bytes]) -> list[Ahead] | None:
        """Start reading the envelopes of a download batch, several per worker task (pass each
        to :meth:`prepare`); None when envelopes are read by :meth:`prepare` itself."""
        return self.envelopes.read_ahead(raws)

    def _process(self, raw: bytes, sha: str, rel_path: str, source: Source,
                 ahead: Ahead | None = None) -> Outcome | Prepared:
        envelope = ahead.result() if ahead is not None else self.envelopes.read(raw)
        certification = certify(envelope, self.trust_store)
        when = legal_time(envelope, certification)
        base = recording.MessageFacts.of(envelope, sha, len(raw), rel_path, source, when,
                                         certification)
        ident = recording.own_identificativo(envelope)

        def later(record: Callable[[Session], Outcome], plain: recording.Plain | None = None,
                  first_row: recording.FirstRow | None = None) -> Prepared:
            return Prepared(when, raw, sha, rel_path, source, record, kind=envelope.kind,
                            identificativo=ident, plain=plain, first_row=first_row)

        if envelope.kind in RECEIPT_KINDS:
            return later(lambda s: recording.record_receipt(s, base, envelope),
                         recording.plain_receipt(base, envelope))
        if envelope.kind == "anomalia":
            hint = find_keyword(envelope.original_subject or envelope.subject,
                                self.config.relevance.subject_keywords)
            return later(lambda s: recording.record_anomaly(s, base, envelope, hint))
        if envelope.kind == "not-pec" and header_block_size(raw) > MAX_HEAD_BYTES:
            return later(lambda s: recording.record_headers_cut(s, base, MAX_HEAD_BYTES))
        limit = self.config.parser.max_attachment_mb * 1024 * 1024
        if form_candidates(envelope.attachments, limit) and not _looked_up(source, ident) and (
                same := self._lookup([(sha, ident, envelope.kind)]).same.get(0)) is not None:
            return same  # before reading: its identificativo recorded for other bytes
        decision, parsed = self._decide(envelope)
        if not decision.relevant:
            return later(lambda s: recording.record_ignored(s, base, envelope, decision),
                         recording.plain_ignored(base, decision))
        config = self.config  # one configuration for the whole record (a reload may swap it)
        return later(lambda s: recording.record_submission(
            s, config, base, envelope, parsed, decision),
            first_row=recording.FirstRow.of(base, envelope, parsed, decision, config))

    def _decide(self, envelope: PecMessage) -> tuple[Decision,
                                                     list[tuple[Attachment, IsolatedResult]]]:
        """Parse the candidates (without OCR first: an identity photo next to a DOCX form is
        not worth seconds of OCR), decide; only when no document with text reads as a form
        are the scans and photos read again with OCR, and the decision taken again. At most
        ``parser.max_candidates`` attachments are read; the rest are listed as not read."""
        self._local.deadline = time.monotonic() + self.config.parser.message_budget_seconds
        try:  # both passes (text, then OCR) share the message's one budget
            return self._decide_within_budget(envelope)
        finally:
            self._local.deadline = None

    def _decide_within_budget(self, envelope: PecMessage) -> tuple[
            Decision, list[tuple[Attachment, IsolatedResult]]]:
        p = self.config.parser
        candidates = form_candidates(envelope.attachments, p.max_attachment_mb * 1024 * 1024)
        read, left = candidates[:p.max_candidates], candidates[p.max_candidates:]
        results = self.parse([ParseTask(a.data, a.filename or a.path, ocr=False) for a in read])
        results += [IsolatedResult("skipped", error=f"non letto: il messaggio ha più di "
                                                    f"{p.max_candidates} allegati da leggere "
                                                    "(parser.max_candidates)") for _ in left]
        decision = self._judge(envelope, candidates, results)
        scans = [i for i, r in enumerate(results) if r.ok and unreadable(r)]
        if scans and (decision.form is None or unreadable(decision.form[1])):
            again = self.parse([ParseTask(candidates[i].data, candidates[i].filename
                                          or candidates[i].path) for i in scans])
            for i, result in zip(scans, again, strict=True):
                results[i] = result
            decision = self._judge(envelope, candidates, results)
        parsed = list(zip(candidates, results, strict=True))
        for attachment, result in parsed:
            if result.outcome == "parser_failed":  # our bug, not the sender's: show it
                log.error("file=%s parser_failed (internal error of the reader):\n%s",
                          attachment.filename or attachment.path, result.trace)
        skipped = sum(1 for _, r in parsed if r.outcome == "skipped")
        if skipped and not decision.relevant:  # unread is not irrelevant: a person decides
            decision = Decision(False, f"{skipped} allegati non letti (limite di lettura per "
                                       f"messaggio); {decision.reason}",
                                hint=decision.hint or "limite di lettura")
        return decision, parsed

    def _judge(self, envelope: PecMessage, candidates: Sequence[Attachment],
               results: Sequence[IsolatedResult]) -> Decision:
        subject = envelope.original_subject or envelope.subject
        parsed = list(zip(candidates, results, strict=True))
        return decide(subject, envelope.attachments, parsed, self.config.relevance)

    def _write(self, record: Callable[[Session], Outcome]) -> Outcome:
        with self.sessions() as session:
            try:
                with session.begin():
                    outcome = record(session)
                    if self.before_commit is not None:
                        self.before_commit()
            except DuplicateMessage as exc:
                return Outcome("duplicate", f"già registrato ({exc})", "unknown",
                               message_id=exc.existing_id, duplicate=True)
        return outcome

    def _record_failure(self, raw: bytes, sha: str, rel_path: str, source: Source,
                        exc: Exception) -> Outcome:
        reason = f"errore interno durante l'elaborazione: {type(exc).__name__}: {exc}"[:500]
        try:
            with self.sessions() as session, session.begin():
                return recording.record_failure(session, sha, len(raw), rel_path, source,
                                                reason, self.config.parser.max_failures)
        except Exception:
            log.exception("sha256=%s: could not record the failure either", sha[:12])
            return Outcome("failed", reason, "unknown")


def _recorded(existing: Message | MessageKey) -> Outcome | None:
    """The ``duplicate`` outcome for a message already recorded (None: failed, retried)."""
    if existing.outcome in RETRYABLE:
        return None
    return Outcome("duplicate", f"già registrato (messaggio {existing.id}, "
                                f"{existing.outcome})", existing.kind,
                   message_id=existing.id, duplicate=True)


class _Guarded(Exception):
    """A message (``item``; None: the batch's bulk rows) did not write in a batch written
    without savepoints: the batch is rolled back and written again, a savepoint per message
    (the error is the cause)."""

    def __init__(self, item: Prepared | None) -> None:
        super().__init__(f"uid={item.source.uid} sha256={item.sha[:12]}" if item is not None
                         else "the bulk write of its receipts and unrelated mail")
        self.item = item


def _write_direct(session: Session, item: Prepared, later: LaterRows) -> Outcome:
    """``item`` written straight into the batch's transaction (no savepoint: two statements
    fewer per message, and the unit of work's savepoint bookkeeping). Whatever it raises, a
    duplicate found by its INSERT included (its other statements may have run), is
    :class:`_Guarded`: nothing of the batch is kept, and it is written again with
    :func:`_write_nested`, where that message is settled in a savepoint of its own."""
    try:
        with recording.rows_later(session, later):
            return item.record(session)
    except Exception as exc:  # not swallowed: the batch again, with a savepoint per message
        raise _Guarded(item) from exc


def _write_nested(session: Session, item: Prepared, later: LaterRows) -> Outcome | None:
    """``item`` written in a savepoint of the batch's transaction, the rows of its version
    added to ``later`` (see :func:`recording.rows_later`); None when it failed (the savepoint
    is rolled back and the message is written again alone, through the guard)."""
    try:
        with recording.rows_later(session, later), session.begin_nested():
            return item.record(session)
    except DuplicateMessage as exc:
        return Outcome("duplicate", f"già registrato ({exc})", "unknown",
                       message_id=exc.existing_id, duplicate=True)
    except Exception:  # not swallowed: written again alone, where the guard records it
        log.warning("uid=%s sha256=%s failed inside its batch: written again alone",
                    item.source.uid, item.sha[:12], exc_info=True)
        # a rolled-back savepoint expires only what the unit of work changed: what plain
        # statements changed is read again from the database too
        session.expire_all()
        return None


def _looked_up(source: Source, ident: str | None) -> bool:
    """Whether ``ident`` was looked up already by the poll, before the download, as the
    message's Message-ID (a certified envelope's identificativo is its Message-ID): a lookup of
    its own, before the forms are read, would then only find a copy recorded since, which the
    batch's writing finds anyway (and records as a duplicate: only a parse is spent)."""
    return (ident is not None and source.checked_message_id is not None
            and bare_message_id(ident) == bare_message_id(source.checked_message_id))


def _log_outcome(source: Source, sha: str, outcome: Outcome) -> None:
    log.info("source=%s sha256=%s outcome=%s registration=%s reason=%s",
             source.describe(), sha[:12], outcome.outcome,
             outcome.registration_number or "-", outcome.reason)


def header_block_size(raw: bytes) -> int:
    """Bytes before the first blank line (the whole message when there is none)."""
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if i >= 0]
    return min(ends) if ends else len(raw)


def legal_time(envelope: PecMessage, certification: Certification) -> datetime | None:
    """The legal receipt time: daticert's ``data`` with its zone, never the Date header, and
    only from a certified envelope (:mod:`pec_ingest.trust`): None otherwise."""
    if not certification.certified:
        return None
    if envelope.daticert is not None and envelope.daticert.data is not None:
        return envelope.daticert.data
    return None
