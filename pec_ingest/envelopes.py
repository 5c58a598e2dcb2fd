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

``workers = 0`` reads in the calling thread (single-message commands and the tests that do not
poll).
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from parsers.envelope import PecMessage, parse_envelope
from parsers.limits import Limits
from pec_ingest.errors import PecIngestError
from pec_ingest.isolation import die_with, forkserver_context

log = logging.getLogger(__name__)

_limits: Limits | None = None  # in a worker: the limits it was started with


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


class EnvelopeReader:
    """``read(raw)``: the envelope of ``raw``, read in a worker process (thread-safe)."""

    def __init__(self, limits: Limits, workers: int, memory_mb: int) -> None:
        self.limits = limits
        self.workers = workers
        self.memory_mb = memory_mb
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def read(self, raw: bytes) -> PecMessage:
        if self.workers <= 0:
            return parse_envelope(raw, self.limits)
        pool = self._current()
        try:
            return pool.submit(_read, raw).result()
        except BrokenProcessPool:
            self._replace(pool)
        log.warning("an envelope reader died: the message it may have been reading is read "
                    "again alone")
        with self._executor(1) as alone:  # this message only: its own fault or none
            try:
                return alone.submit(_read, raw).result()
            except BrokenProcessPool:
                raise EnvelopeReaderDied("il processo che legge la busta PEC è terminato "
                                         "leggendo questo messaggio") from None

    def _executor(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=forkserver_context(), initializer=_start,
                                   initargs=(self.limits, self.memory_mb, os.getpid()))

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = self._executor(self.workers)
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
