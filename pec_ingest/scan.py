"""One folder of one mailbox, read incrementally: the body of a poll.

``FolderScan.run()``:

1. EXAMINE the folder; compare its UIDVALIDITY with the stored one (a change is recorded as a
   reset and the folder is re-scanned from the start, bounded by ``since``; the pipeline, and
   before it a Message-ID check, make that a no-op for what is already recorded);
2. ``UID SEARCH UID last+1:*`` (plus ``SINCE`` on a first scan): only new UIDs cost anything;
3. in batches, a first look (headers, BODYSTRUCTURE, size) judges each message
   (:mod:`pec_ingest.triage`); a first look the client cannot read (a line over imaplib's
   limit: ten thousand parts, a megabyte subject) is retried in halves on a new connection
   until the message at fault is alone, and that one is recorded as skipped
   (``unreadable_header``, for staff) while the others go on; skipped ones are recorded with
   the reason, messages already
   recorded (same PEC Message-ID) are not downloaded again, the rest are downloaded with
   ``BODY.PEEK[]`` in size-bounded batches (one query finds those already recorded by their
   sha256); the new ones of a batch go at once to the envelope workers, several per task
   (:meth:`pec_ingest.pipeline.Pipeline.read_ahead`), and each is prepared (archived, its
   envelope taken from the workers, parsed) by a thread
   pool (the parse is the slow part, spread over the cores; memory does not grow with the
   mailbox: see below); the prepared messages are written in
   legal-receipt-time order, so registration numbers follow the receipt time within each
   written group (:func:`pec_ingest.pipeline.registration_order`; a poll of up to
   ``batch_size`` messages prepared within ``batch_wait_ms`` of each other is one group), in
   groups of at most ``batch_size``, a group written once all of its messages are prepared
   or ``batch_wait_ms`` after its first one was (a slow message does not keep the others
   unwritten; the poll waits for it before it downloads more): one durability point for
   their archive files, then one transaction
   that also advances the stored last UID (:meth:`pec_ingest.pipeline.Pipeline.commit_many`);
   once a batch's last download is done the connection is free, so the next batch is read
   ahead on a thread of its own while this batch is prepared and the previous one written: its
   first look, its skipped mail recorded, its known Message-IDs looked up, and its first
   download group (at most ``FETCH_BYTES``) downloaded, with the sha256 already recorded; the
   batch takes that plan and applies it to the poll's own state in its turn (the connection
   is used by one thread at a time: the poll waits for the read-ahead before its next IMAP
   command, and for one in progress before it ends; that group is downloaded ahead only if
   it fits in what ``INFLIGHT_BYTES`` leaves of the messages in flight; skipped mail is
   recorded there too, except on SQLite, which writes one transaction at a time: there the
   batch records it in its turn);
4. a set ``stop`` event ends the scan after the batch in hand (its messages are recorded);
5. the stored last UID advances only over a contiguous prefix of messages fully recorded, so a
   crash or a dropped connection re-reads the rest next time; a message whose outcome is
   ``failed`` is not "fully recorded": the pipeline retries it until it is quarantined.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.errors import MailboxError
from pec_ingest.mailbox import FetchRefused, FirstLook, FolderStatus, Mailbox
from pec_ingest.pipeline import Outcome, Pipeline, Prepared, Source, registration_order
from pec_ingest.settings_imap import MailboxSection
from pec_ingest.triage import Verdict, judge, needs_structure
from store import mailbox_state as states
from store.engine import reading, single_writer

log = logging.getLogger(__name__)

FETCH_BYTES = 32 * 1024 * 1024  # at most this much raw mail per FETCH BODY.PEEK[]
INFLIGHT_BYTES = 96 * 1024 * 1024  # downloaded but not yet recorded, before waiting


@dataclass
class Tally:
    """What a poll did; summed over the folders of a mailbox."""

    fetched: int = 0
    ingested: int = 0
    skipped: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


class Progress:
    """The last UID that may be stored: the end of the contiguous prefix of handled UIDs.

    ``floor`` is UIDNEXT-1 at EXAMINE time: once every UID the search returned is handled,
    nothing at or below it is left to read (expunged, or older than ``since``)."""

    def __init__(self, last_uid: int, uids: Sequence[int], floor: int) -> None:
        self.value = last_uid
        self._order = list(uids)
        self._next = 0
        self._done: set[int] = set()
        self._floor = floor
        self._advance()

    def done(self, uid: int) -> None:
        self._done.add(uid)
        self._advance()

    def peek(self, uids: Sequence[int]) -> int:
        """The value once ``uids`` are done too (nothing changes)."""
        done = self._done | set(uids)
        value, i = self.value, self._next
        while i < len(self._order) and self._order[i] in done:
            value = max(value, self._order[i])
            i += 1
        return max(value, self._floor) if i == len(self._order) else value

    def _advance(self) -> None:
        while self._next < len(self._order) and self._order[self._next] in self._done:
            self.value = max(self.value, self._order[self._next])
            self._next += 1
        if self._next == len(self._order):
            self.value = max(self.value, self._floor)


@dataclass
class _Pending:
    uid: int
    size: int
    future: Future[Outcome | Prepared]


@dataclass
class _Download:
    """A group of messages downloaded: their bytes and sha256 by UID, and which of those sha256
    are recorded already (:meth:`Pipeline.recorded`)."""

    raw: dict[int, bytes]
    shas: dict[int, str]
    known: dict[str, Outcome]


@dataclass
class _Plan:
    """A batch judged by its first look: ``skipped`` (recorded as such when ``recorded``),
    ``known`` (their PEC Message-ID recorded: not downloaded), the rest in download
    ``groups``; ``first``: the first group, downloaded by the read-ahead (None: not yet)."""

    looks: dict[int, FirstLook]
    skipped: list[Verdict]
    known: list[Verdict]
    groups: list[list[Verdict]]
    first: _Download | None = None
    recorded: bool = False


@dataclass
class _Started:
    """A batch read ahead (:meth:`FolderScan._read_ahead`), taken only by that batch;
    ``looked``: its first look was answered (a refusal after it is not the first look's)."""

    uids: list[int]
    future: Future[_Plan] | None = None
    looked: bool = False


class FolderScan:
    """Read the new messages of ``folder`` into the pipeline (see the module docstring)."""

    def __init__(self, mailbox: Mailbox, box: MailboxSection, folder: str,
                 sessions: sessionmaker[Session], pipeline: Pipeline, workers: int,
                 tally: Tally, stop: threading.Event | None = None) -> None:
        self.mb, self.box, self.folder = mailbox, box, folder
        self.sessions, self.pipeline, self.workers, self.tally = sessions, pipeline, workers, tally
        self.stop = stop or threading.Event()
        self.uidvalidity = 0
        self.stored = -1
        self.pending: list[_Pending] = []
        self.post_uids: list[int] = []
        self.looker: ThreadPoolExecutor | None = None  # the look-ahead's thread, in run()
        self.look_started: _Started | None = None  # the next batch's
        self.on_batch: Callable[[int], None] | None = None  # test hook: after each FETCH

    def run(self) -> None:
        status = self.mb.examine(self.folder)
        self.uidvalidity = status.uidvalidity
        last_uid, since = self._start(status)
        uids = self.mb.search_after(last_uid, since)
        progress = Progress(last_uid, uids, (status.uidnext or 1) - 1)
        if uids:
            log.debug("%s/%s: %d new messages above uid %d", self.box.name, self.folder,
                      len(uids), last_uid)
            batches = [uids[start:start + self.box.batch_size]
                       for start in range(0, len(uids), self.box.batch_size)]
            # leaving the look-ahead's executor waits for a look in progress: nothing else
            # uses the connection before it is done
            with ThreadPoolExecutor(1, thread_name_prefix="look") as looker, \
                    ThreadPoolExecutor(self.workers, thread_name_prefix="ingest") as pool:
                self.looker = looker
                try:
                    for i, batch in enumerate(batches):
                        if self.stop.is_set():
                            log.info("%s/%s: stop requested, the rest waits for the next "
                                     "poll", self.box.name, self.folder)
                            break
                        following = batches[i + 1] if i + 1 < len(batches) else None
                        self._batch(batch, pool, progress, following)
                        self._save(progress.value)
                finally:
                    if self.stop.is_set():  # SIGTERM: finish the messages in hand only
                        for item in self.pending:
                            item.future.cancel()
                    self._drain(progress, 0, quiet=True)
                    self._save(progress.value)
            self.looker = None
            self._unread_look()
        self._save(progress.value)
        self._post_actions()

    def _unread_look(self) -> None:
        """A batch read ahead that a stop then left unread: done by now (what it downloaded
        is dropped; the skipped mail it recorded is found recorded next time); if the server
        refused it, the connection is out of step and is opened again for what follows."""
        started, self.look_started = self.look_started, None
        future = started.future if started is not None else None
        error = future.exception() if future is not None else None
        if error is not None:
            log.info("%s/%s: the next batch, read ahead, left for the next poll: %s",
                     self.box.name, self.folder, error)
            if isinstance(error, MailboxError):  # a refusal, a download cut short
                self.mb.reopen(self.folder)

    def _start(self, status: FolderStatus) -> tuple[int, date | None]:
        """Where to start: the stored last UID, or 0 (bounded by ``since``) after a reset."""
        with self.sessions.begin() as session:
            state = states.get_state(session, self.box.name, self.folder)
            if state is None:
                return 0, self.box.since
            self.stored = state.last_uid
            if state.uidvalidity == status.uidvalidity:
                return state.last_uid, None
            log.warning("%s/%s: UIDVALIDITY changed from %s to %s: re-scanning the folder "
                        "(already recorded messages are not ingested again)", self.box.name,
                        self.folder, state.uidvalidity, status.uidvalidity)
            states.record_reset(session, self.box.name, self.folder, state, status.uidvalidity)
            states.save_state(session, self.box.name, self.folder, status.uidvalidity, 0)
            self.stored = 0
            return 0, self.box.since

    def _save(self, last_uid: int) -> None:
        if last_uid == self.stored:
            return
        with self.sessions.begin() as session:
            states.save_state(session, self.box.name, self.folder, self.uidvalidity, last_uid)
        self.stored = last_uid

    def _batch(self, uids: list[int], pool: ThreadPoolExecutor, progress: Progress,
               following: list[int] | None = None) -> None:
        """One batch (read ahead during the previous one when it could be: see
        :meth:`_read_ahead`); ``following``: the next batch, read ahead once this batch's last
        download is done (the connection is then free while this batch is prepared and the
        previous one written)."""
        plan = self._plan(uids)
        if not plan.recorded:
            self._record_skipped(plan.skipped)
        arrived = {uid: look.internal_date for uid, look in plan.looks.items()}
        for uid in set(uids) - set(plan.looks):  # expunged meanwhile, or skipped as unreadable
            progress.done(uid)
        for v in plan.skipped:  # recorded
            log.debug("%s/%s uid=%s skipped: %s (%s)", self.box.name, self.folder, v.uid,
                      v.reason, v.detail)
            progress.done(v.uid)
        self.tally.skipped += len(plan.skipped)
        for v in plan.known:
            self.tally.outcomes["duplicate"] += 1
            progress.done(v.uid)
        if not plan.groups:
            self._look_ahead(following)
        for n, group in enumerate(plan.groups, 1):
            if self.stop.is_set():
                return  # not fetched: above the stored UID, read again by the next poll
            download = (plan.first if n == 1 and plan.first is not None
                        else self._download(group))
            raw, shas, known = download.raw, download.shas, download.known
            self.tally.fetched += len(raw)
            new = [uid for uid in raw if shas[uid] not in known]  # their envelopes read ahead
            ahead = dict(zip(new, self.pipeline.read_ahead([raw[uid] for uid in new]) or (),
                             strict=False))
            for v in group:
                if v.uid not in raw:
                    progress.done(v.uid)
                    continue
                source = Source("imap", self.box.name, self.folder, self.uidvalidity, v.uid,
                                internal_date=arrived.get(v.uid),
                                checked_message_id=v.message_id or None)
                future = pool.submit(self.pipeline.prepare, raw.pop(v.uid), source, False, known,
                                     ahead.pop(v.uid, None))
                self.pending.append(_Pending(v.uid, v.size, future))
            if self.on_batch is not None:
                self.on_batch(len(group))
            if n == len(plan.groups):
                self._look_ahead(following)
            self._drain(progress, INFLIGHT_BYTES, self.box.batch_size)

    def _plan(self, uids: list[int]) -> _Plan:
        """The batch's plan: the one read ahead for it, or made here (also when the read-ahead's
        first look was refused: see :meth:`_first_look`)."""
        refused: dict[int, str] = {}
        started, self.look_started = self.look_started, None
        future = started.future if started is not None else None
        if started is None or future is None or started.uids != uids:
            if future is not None:
                future.exception()  # (never so) done with the connection before it is used
            return self._judge(uids, self._first_look(uids, refused), refused)
        error = future.exception()
        if error is None:
            return future.result()
        if started.looked or not isinstance(error, FetchRefused):
            raise error  # the connection's, the database's: as if met here
        return self._judge(uids, self._first_look(uids, refused, error), refused)

    def _look_ahead(self, uids: list[int] | None) -> None:
        """Read ``uids`` ahead (:meth:`_read_ahead`), its download within what
        :data:`INFLIGHT_BYTES` leaves of the messages in flight."""
        if uids and self.looker is not None and not self.stop.is_set():
            started = _Started(uids)
            room = INFLIGHT_BYTES - sum(p.size for p in self.pending)
            started.future = self.looker.submit(self._read_ahead, started, room)
            self.look_started = started

    def _read_ahead(self, started: _Started, room: int) -> _Plan:
        """On the look-ahead's thread, while this batch is prepared and the previous one
        written: the next batch's first look, its plan (known Message-IDs looked up, skipped
        mail recorded unless the database takes one writer at a time, where it would wait for
        the batch being written) and its first download group, if it fits in ``room``, with
        the sha256 already recorded. Nothing of the poll's own state changes here: the batch
        applies the plan when it takes it (:meth:`_batch`).

        The lookups run earlier than they would in the batch's turn: a copy of a message in
        the batch being written is not seen yet, and is downloaded and read again, to be
        recorded as a duplicate when written (as a copy arriving meanwhile always is)."""
        looks = self._look(started.uids)
        started.looked = True
        return self._judge(started.uids, looks, {}, download=room,
                           record=not single_writer(self.sessions))

    def _look(self, uids: list[int]) -> dict[int, FirstLook]:
        return self.mb.first_look(uids, lambda look: needs_structure(look, self.box))

    def _judge(self, uids: list[int], looks: dict[int, FirstLook], refused: dict[int, str],
               download: int = 0, record: bool = False) -> _Plan:
        """The plan of a batch from its first look (``refused``: UIDs whose look could not be
        read, skipped as unreadable); ``download``: its first group downloaded too if it is
        no larger; ``record``: its skipped mail recorded (else by :meth:`_batch`)."""
        verdicts = [judge(looks[u], self.box) for u in uids if u in looks]
        verdicts += [unreadable_verdict(uid, detail) for uid, detail in refused.items()]
        wanted, known = self._split_known([v for v in verdicts if v.download])
        groups = _by_size(wanted, min(FETCH_BYTES, self.box.max_message_mb * 1048576),
                          self.box.batch_size)
        first = (self._download(groups[0]) if download > 0 and groups
                 and not self.stop.is_set() and sum(v.size for v in groups[0]) <= download
                 else None)
        skipped = [v for v in verdicts if not v.download]
        if record:
            self._record_skipped(skipped)
        return _Plan(looks, skipped, known, groups, first, record)

    def _download(self, group: list[Verdict]) -> _Download:
        raw = self.mb.fetch_raw([v.uid for v in group])
        shas = {uid: hashlib.sha256(data).hexdigest() for uid, data in raw.items()}
        return _Download(raw, shas, self.pipeline.recorded(list(shas.values())))

    def _first_look(self, uids: list[int], refused: dict[int, str],
                    refusal: FetchRefused | None = None) -> dict[int, FirstLook]:
        """The first look at ``uids`` (``refusal``: the read-ahead's look was refused); a
        batch the client cannot read is split in halves (on a new connection each time) until
        the message at fault is alone: it goes in ``refused``."""
        if refusal is None:
            try:
                return self._look(uids)
            except FetchRefused as exc:
                refusal = exc
        log.warning("%s/%s: first look at %d messages (uid %d-%d) unreadable: %s",
                    self.box.name, self.folder, len(uids), uids[0], uids[-1], refusal)
        status = self.mb.reopen(self.folder)
        if status.uidvalidity != self.uidvalidity:
            raise MailboxError(f"{self.mb.where}: UIDVALIDITY di {self.folder} cambiata "
                               "durante la lettura") from refusal
        if len(uids) == 1:
            refused[uids[0]] = str(refusal)
            return {}
        half = len(uids) // 2
        return {**self._first_look(uids[:half], refused),
                **self._first_look(uids[half:], refused)}

    def _record_skipped(self, verdicts: list[Verdict]) -> None:
        if not verdicts:
            return
        items = [states.Skipped(v.uid, v.size, v.reason, v.detail, v.message_id, v.subject,
                                v.sender) for v in verdicts]
        with self.sessions.begin() as session:
            states.record_skipped(session, self.box.name, self.folder, self.uidvalidity, items)

    def _split_known(self, verdicts: list[Verdict]) -> tuple[list[Verdict], list[Verdict]]:
        """Messages whose PEC Message-ID is already recorded are not downloaded again: those
        to download, and those known."""
        with reading(self.sessions) as session:
            known = states.known_message_ids(session, [v.message_id for v in verdicts
                                                       if v.message_id])
        return ([v for v in verdicts if v.message_id not in known],
                [v for v in verdicts if v.message_id in known])

    def _drain(self, progress: Progress, keep_bytes: int, keep_count: int = 0,
               quiet: bool = False) -> None:
        """Wait for the oldest messages until at most ``keep_bytes`` and ``keep_count`` (0: none)
        are in flight, and write them: those ready are written as a group once all of them are,
        or ``batch_wait_ms`` after the group's first one was, so a slow one (a scan read by
        OCR) does not keep the others waiting, unwritten (the poll itself still waits for it
        before it downloads more); each group in legal-time order (registration numbers follow
        it within the group), ``batch_size`` per transaction. A message whose preparation
        raised ends the drain (unless ``quiet``: logged, and the others go on); those not yet
        written go back in flight, for the poll's last drain."""
        taken: list[_Pending] = []
        while self.pending and (keep_bytes == 0 or len(self.pending) > keep_count or
                                sum(p.size for p in self.pending) > keep_bytes):
            taken.append(self.pending.pop(0))
        # a cancelled one never started (a stop): the next poll reads it again
        waiting = [item for item in taken if not item.future.cancelled()]
        done: list[_Pending] = []  # finished, not yet looked at
        held: list[tuple[_Pending, Prepared]] = []  # the group in hand: ready, not written
        closes: float | None = None  # when it is written, all of it ready or not
        try:
            while waiting:
                if closes is None:  # nothing ready yet: the group opens with the first one
                    finished = wait([i.future for i in waiting], return_when=FIRST_COMPLETED)[0]
                    closes = time.monotonic() + self.box.batch_wait_ms / 1000
                else:
                    finished = wait([i.future for i in waiting],
                                    max(0.0, closes - time.monotonic()))[0]
                done = [item for item in waiting if item.future in finished]
                waiting = [item for item in waiting if item.future not in finished]
                while done:  # in the order they were taken
                    item = done.pop(0)
                    step = self._prepared(item, quiet)
                    if isinstance(step, Prepared):
                        held.append((item, step))
                    elif step is not None:
                        self._count(item.uid, step, progress)
                if not waiting or time.monotonic() >= closes:
                    group, held, closes = held, [], None
                    self._write_ready([(item.uid, step) for item, step in group], progress)
        except BaseException:
            self.pending[:0] = [item for item, _step in held] + done + waiting
            raise

    def _write_ready(self, ready: list[tuple[int, Prepared]], progress: Progress) -> None:
        """``ready`` written in legal-time order, ``batch_size`` per transaction."""
        ready.sort(key=lambda pair: registration_order(pair[1], pair[0]))
        for start in range(0, len(ready), self.box.batch_size):
            self._commit(ready[start:start + self.box.batch_size], progress)

    def _prepared(self, item: _Pending, quiet: bool) -> Outcome | Prepared | None:
        """What preparing ``item`` gave: None if it was cancelled, or raised and ``quiet``."""
        if item.future.cancelled():
            return None
        try:
            return item.future.result()
        except Exception:
            if not quiet:
                raise
            log.exception("%s/%s uid=%s: not recorded", self.box.name, self.folder, item.uid)
            return None

    def _commit(self, ready: list[tuple[int, Prepared]], progress: Progress) -> None:
        """One batch in one transaction, the last UID advanced in it (over the messages
        written in it: one that failed there is written alone afterwards)."""
        saved: list[int] = []

        def finish(session: Session, outcomes: Sequence[Outcome | None]) -> None:
            written = [uid for (uid, _p), outcome in zip(ready, outcomes, strict=True)
                       if outcome is not None and outcome.outcome != "failed"]
            value = progress.peek(written)
            if value != self.stored:
                states.save_state(session, self.box.name, self.folder, self.uidvalidity, value)
            saved.append(value)

        written = self.pipeline.commit_many([p for _uid, p in ready], finish)
        if written.together and saved:
            self.stored = saved[-1]
        for (uid, _p), outcome in zip(ready, written.outcomes, strict=True):
            self._count(uid, outcome, progress)
        self._save(progress.value)

    def _count(self, uid: int, outcome: Outcome, progress: Progress) -> None:
        self.tally.outcomes[outcome.outcome] += 1
        if not outcome.duplicate:
            self.tally.ingested += 1
        if outcome.outcome != "failed":
            progress.done(uid)
        if outcome.outcome in self.box.post_action_outcomes and not outcome.duplicate:
            self.post_uids.append(uid)

    def _post_actions(self) -> None:
        box = self.box
        if not self.post_uids or not (box.set_keyword or box.move_to):
            return
        status = self.mb.select_writable(self.folder)
        if status.uidvalidity != self.uidvalidity:
            log.warning("%s/%s: UIDVALIDITY changed during the poll: post-actions skipped",
                        box.name, self.folder)
            return
        uids = sorted(self.post_uids)
        if box.set_keyword:
            self.mb.add_keyword(uids, box.set_keyword)
        if box.move_to and not self.mb.move(uids, box.move_to,
                                            expunge_after_copy=box.expunge_after_copy):
            log.warning("%s: the server has no MOVE; messages left in %s (expunge_after_copy "
                        "= true allows COPY + EXPUNGE)", box.name, self.folder)
        log.debug("%s/%s: post-actions on %d messages", box.name, self.folder, len(uids))


def unreadable_verdict(uid: int, error: str) -> Verdict:
    """A message whose first look could not be read: skipped, with the reason, for staff."""
    return Verdict(uid=uid, size=0, download=False, kind="unknown", reason="unreadable_header",
                   detail=("intestazioni o struttura MIME illeggibili dal client IMAP (troppo "
                           f"grandi?): messaggio da esaminare a mano; {error}")[:1000])


def _by_size(verdicts: list[Verdict], max_bytes: int, max_count: int) -> list[list[Verdict]]:
    """Groups of at most ``max_count`` messages and (unless one alone is larger) ``max_bytes``."""
    groups: list[list[Verdict]] = []
    current: list[Verdict] = []
    size = 0
    for v in verdicts:
        if current and (size + v.size > max_bytes or len(current) >= max_count):
            groups.append(current)
            current, size = [], 0
        current.append(v)
        size += v.size
    if current:
        groups.append(current)
    return groups
