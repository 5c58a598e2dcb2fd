"""Envelope reading on every core: :func:`parsers.envelope.parse_envelope` in worker processes.

Reading a PEC envelope (MIME, daticert XML, the provider's S/MIME signature) is pure Python
and holds the interpreter lock: in the poll's ingest threads it ran on one core whatever the
number of threads. :class:`EnvelopeReader` runs it in a small pool of worker processes (one per
core), so a first poll through a year of mail uses both cores of this machine while the poll's
single writer records what was read.

* Workers are forked from the same forkserver as the form parser's children, die with the
  service (``PR_SET_PDEATHSIG`` and a pidfd watcher, as the parser children do) and have the
  parser's memory limit, so a hostile message that makes the reader swell fails alone with a
  ``MemoryError`` instead of taking the service down.
* What the reader raises in a worker is raised again here, with the worker's traceback as its
  cause: bad input (``EnvelopeError`` and friends) and our own bugs reach the pipeline's
  per-message guard exactly as they did in-process.
* A worker that dies (killed, crashed) breaks the pool, and every message in it at that
  moment: a new pool is started for the others, and each of those messages is read again
  alone, in a worker of its own; only a message that kills that worker too is failed
  (:class:`EnvelopeReaderDied`, retried by the next poll, then quarantined): its neighbours
  are never counted against.

A poll sends the messages of a download batch to the workers several at a time
(:meth:`EnvelopeReader.read_ahead`): one task per message cost the service's process more than
the reading itself (pickling, two pipe hops and a wake-up per message, all under the service's
interpreter lock). What one message of a task raises is raised again for that message alone.
A worker that dies fails every task the pool still holds (up to two download batches): each of
their messages is sent again to a new pool, one per task, and only one whose worker dies again
is read alone, as above; a task that fails as a whole for another reason (its results could
not travel back) has its messages read again the same way.

A read that never ends (a worker stuck, whatever the cause) must not stop the poll. A wait for
a task (up to :data:`MAX_PER_TASK` messages) gives up once ``seconds`` (the parser's
per-document timeout) have passed without any task of the pool finishing, or once the task has
been running for :data:`PATIENCE` times ``seconds`` (another mailbox's backlog keeping the
other worker busy must not hide a stuck one); the pool's workers are then killed, the message
waited for is read again alone, and the killed pool's other tasks fail as after a worker's
death (their messages are read again in a new pool). A message still not read after
``seconds`` alone (the bound includes starting its worker, well under a second) fails by
itself (:class:`EnvelopeReadTimeout`, retried by the next poll, then quarantined). A read of
the largest message accepted takes about a second here.

``workers = 0`` reads in the calling thread (single-message commands and the tests that do not
poll).
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import resource
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from parsers.envelope import PecMessage, parse_envelope
from parsers.limits import Limits
from pec_ingest.errors import PecIngestError
from pec_ingest.isolation import die_with, forkserver_context

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_PER_TASK = 16  # messages sent to a worker together by read_ahead
PATIENCE = 4  # the longest wait for one task, in multiples of the bound (see the docstring)

_limits: Limits | None = None  # in a worker: the limits it was started with


class EnvelopeReadTimeout(PecIngestError):
    """Reading this message's envelope, alone in a worker, went past the bound: the message
    fails alone (retried by the next poll, then quarantined)."""


class _Stuck(Exception):
    """A wait for the pool's workers went past the bound with no task finishing."""


class EnvelopeReaderDied(PecIngestError):
    """The worker reading this message died twice: the message fails alone (and is retried
    by the next poll, then quarantined like any message that keeps failing)."""


def _start(limits: Limits, memory_mb: int, owner: int) -> None:
    """Worker initialiser: die with the service, leave Ctrl-C to it, bounded memory."""
    global _limits
    os.setpgid(0, 0)  # its own process group: the owner watcher kills only this worker
    die_with(owner)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _limits = limits


def _read(raw: bytes) -> PecMessage:
    if _limits is None:  # pragma: no cover - the initialiser always ran
        raise RuntimeError("envelope worker started without its initialiser")
    return parse_envelope(raw, _limits)


class WorkerTraceback(Exception):
    """The traceback of an exception raised in an envelope worker (its ``__cause__`` here)."""

    def __str__(self) -> str:
        return f"\n{self.args[0]}" if self.args else ""


@dataclass(frozen=True)
class _Raised:
    """What reading one message of a task raised, carried back to be raised for it alone:
    the exception pickled (a new one is raised each time, so the task's results never hold
    the traceback of a raise in the service) and the worker's traceback as text."""

    pickled: bytes
    trace: str


def _read_many(raws: Sequence[bytes]) -> list[PecMessage | _Raised]:
    """In a worker: read ``raws`` one by one; what one raises is kept for that one only (and
    raised again in the service, by :meth:`Ahead.result`), the others are read all the same."""
    out: list[PecMessage | _Raised] = []
    for raw in raws:
        try:
            out.append(_read(raw))
        except Exception as exc:  # raised again for this message alone: see Ahead.result
            out.append(_carried(exc))
    return out


def _carried(exc: Exception) -> _Raised:
    """``exc`` as it travels back: its traceback as text, then the traceback dropped (it holds
    the failed read's frames and all they allocated: after a message ran the worker out of
    memory, that memory is given back before the exception is pickled, and nothing of it is
    kept while the task's next messages are read), then pickled and checked to unpickle (what
    cannot be rebuilt would break the pool)."""
    try:
        trace = "".join(traceback.format_exception(exc))
    except MemoryError:  # the worker's memory limit, still held by the failed read
        trace = f"{type(exc).__name__} (traceback non disponibile: memoria esaurita)"
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:  # the exception and those it chains
        seen.add(id(link))
        link.__traceback__ = None
        link = link.__cause__ or link.__context__
    try:
        pickled = pickle.dumps(exc)
        pickle.loads(pickled)
    except Exception:  # any failure to travel (its class, its arguments): its text travels
        pickled = pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))
    return _Raised(pickled, trace)


@dataclass(frozen=True)
class Ahead:
    """One message of a :meth:`EnvelopeReader.read_ahead` task; :meth:`result` waits for it."""

    reader: EnvelopeReader
    pool: ProcessPoolExecutor | None  # None: the task could not be sent (read here, alone)
    task: Future[list[PecMessage | _Raised]] | None
    index: int
    raw: bytes

    def result(self) -> PecMessage:
        """The envelope, or what reading it raised (with the worker's traceback as cause)."""
        if self.task is None or self.pool is None:
            return self.reader.read(self.raw)
        try:
            outcomes = self.reader.wait(self.task, self.pool)
        except _Stuck:  # its workers were killed: this message read alone, within the bound
            return self.reader.read_alone(self.raw, "an envelope read took too long")
        except BrokenProcessPool:  # a worker died: the pool failed every task it still held
            if self.reader.replace(self.pool):
                log.warning("an envelope reader died: the messages of the tasks it broke are "
                            "read again, one per task")
            return self.reader.read(self.raw)  # alone in a worker of its own if it breaks again
        except CancelledError:  # its pool was shut down under it: read alone all the same
            return self.reader.read_alone(self.raw, "its pool was shut down")
        except Exception:  # the task failed as a whole (its results could not travel back):
            # this message read on its own, where what it raises is its own
            log.warning("an envelope task failed as a whole: its messages are read again, one "
                        "per task", exc_info=True)
            return self.reader.read(self.raw)
        value = outcomes[self.index]
        if isinstance(value, _Raised):
            raise pickle.loads(value.pickled) from WorkerTraceback(value.trace)
        return value


class EnvelopeReader:
    """``read(raw)``: the envelope of ``raw``, read in a worker process (thread-safe)."""

    def __init__(self, limits: Limits, workers: int, memory_mb: int,
                 seconds: float = 30.0) -> None:
        self.limits = limits
        self.workers = workers
        self.memory_mb = memory_mb
        self.seconds = seconds  # a wait with no task of the pool finishing: stuck
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._finished = time.monotonic()  # when a task of the pool last finished

    def read(self, raw: bytes) -> PecMessage:
        if self.workers <= 0:
            return parse_envelope(raw, self.limits)
        pool, task = self._send(_read, raw)
        if task is None:
            return self.read_alone(raw)
        try:
            return self.wait(task, pool)
        except _Stuck:
            return self.read_alone(raw, "an envelope read took too long")
        except BrokenProcessPool:
            self.replace(pool)
            return self.read_alone(raw, "its pool broke (a worker died or was killed)")
        except CancelledError:  # its pool was shut down under it (close)
            return self.read_alone(raw, "its pool was shut down")

    def wait(self, task: Future[T], pool: ProcessPoolExecutor) -> T:
        """The result of ``task``; :class:`_Stuck` once ``seconds`` have passed with no task of
        the pool finishing, or once it has been running (sent to the workers' queue, which
        holds one task more than there are workers) for :data:`PATIENCE` bounds: then the
        pool's workers are killed and it is forgotten. A task queued behind others (another
        mailbox's batches) waits as long as the pool keeps finishing them."""
        started: float | None = None  # seen running (sent to the workers' queue) by then
        while True:
            try:
                return task.result(timeout=self.seconds)
            except TimeoutError:
                if task.done():  # it ended meanwhile, or its own exception is a TimeoutError
                    return task.result()
                now = time.monotonic()
                if started is None and task.running():
                    started = now
                if now - self._finished < self.seconds and (
                        started is None or now - started < PATIENCE * self.seconds):
                    continue  # the pool is working through the tasks queued before this one
            if self._kill(pool):
                log.error("envelope readers stuck: no task finished for %g s, or one running "
                          "for %g; their workers are killed and the messages they held are "
                          "read again", self.seconds, PATIENCE * self.seconds)
            raise _Stuck

    def _send(self, fn: Callable[..., T], *args: Any) -> tuple[ProcessPoolExecutor,
                                                               Future[T] | None]:
        """Submit to the current pool, under the lock (a pool being killed or replaced is not
        shut down between the two): the pool, and the task (None: the pool was broken by a
        death not yet noticed; it is forgotten)."""
        with self._lock:
            pool = self._pool_locked()
            try:
                task: Future[T] | None = pool.submit(fn, *args)
            except BrokenProcessPool:
                task = None
        if task is None:
            self.replace(pool)
            return pool, None
        task.add_done_callback(self._done)
        return pool, task

    def _done(self, _task: Future[Any]) -> None:
        self._finished = time.monotonic()

    def read_ahead(self, raws: Sequence[bytes]) -> list[Ahead] | None:
        """Start reading ``raws`` in the workers, up to :data:`MAX_PER_TASK` per task (about
        four tasks per worker for a batch); one :class:`Ahead` per message, in order. None
        when envelopes are read in the calling thread (``workers = 0``)."""
        if self.workers <= 0:
            return None
        size = max(1, min(MAX_PER_TASK, math.ceil(len(raws) / (self.workers * 4))))
        out: list[Ahead] = []
        for start in range(0, len(raws), size):
            chunk = list(raws[start:start + size])
            pool, task = self._send(_read_many, chunk)
            if task is None:  # broken by a death not yet noticed: read one by one
                out += [Ahead(self, None, None, i, raw) for i, raw in enumerate(chunk)]
                continue
            out += [Ahead(self, pool, task, i, raw) for i, raw in enumerate(chunk)]
        return out

    def read_alone(self, raw: bytes, why: str = "an envelope reader died") -> PecMessage:
        """``raw`` read in a worker of its own (after a worker died with it, or near it)."""
        log.warning("%s: the message it may have been reading is read again alone", why)
        with self._executor(1) as alone:  # this message only: its own fault or none
            try:
                return alone.submit(_read, raw).result(timeout=self.seconds)
            except TimeoutError:
                _kill_workers(alone)  # before the executor's exit waits for its worker
                raise EnvelopeReadTimeout(
                    f"lettura della busta PEC oltre {self.seconds:g} s: interrotta") from None
            except BrokenProcessPool:
                raise EnvelopeReaderDied("il processo che legge la busta PEC è terminato "
                                         "leggendo questo messaggio") from None

    def _executor(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=forkserver_context(), initializer=_start,
                                   initargs=(self.limits, self.memory_mb, os.getpid()))

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            return self._pool_locked()

    def _pool_locked(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = self._executor(self.workers)
        return self._pool

    def replace(self, broken: ProcessPoolExecutor) -> bool:
        """Forget ``broken`` (a worker died): the next read starts a new pool; ``broken`` is
        shut down once, by the thread that forgot it (True for that one)."""
        with self._lock:
            if self._pool is not broken:
                return False
            self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)
        return True

    def _kill(self, stuck: ProcessPoolExecutor) -> bool:
        """Kill the workers of ``stuck`` and forget it (True for the thread that did). Its
        tasks are not cancelled: the pool fails them all as broken, and their messages are
        read again as after a worker's death."""
        with self._lock:
            if self._pool is not stuck:
                return False
            self._pool = None
            _kill_workers(stuck)
            stuck.shutdown(wait=False)
        return True

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """SIGKILL the worker processes of ``pool``: its tasks then fail (``BrokenProcessPool``).
    Python 3.11 has no public way to reach them (``terminate_workers`` comes in 3.14)."""
    processes: dict[int, Any] = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        process.kill()  # a process already gone is no error
