"""Run the form parser in child processes with a time and memory limit.

A hostile PDF must not stall or kill the worker. Documents are parsed by a small pool of
long-lived child processes (one per core by default), each under ``RLIMIT_AS`` set to the
configured memory. The parent waits for each answer with a wall-clock timeout; a child that
overruns it, or dies, is killed and replaced, and the document gets a recorded outcome
(``timeout``, ``memory``, ``crashed``) instead of a result. Children send back plain values.

An exception the parser did not expect is a bug of ours, never the sender's fault: the child
catches it (its half of the per-message guard: the parent cannot see a child's exceptions),
sends back ``parser_failed`` with the traceback; the pipeline logs the traceback, and the
review reason (code ``parser_failed``) says "errore interno del lettore".

A message's documents share one deadline (its parse budget): a document reached after it is
``skipped``, one started before it is cut off at it. Children die with the service, even
mid-parse and even when it is SIGKILLed: ``PR_SET_PDEATHSIG`` against their parent (the
forkserver) and a thread watching a pidfd of the service process.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import multiprocessing as mp
import os
import queue
import resource
import select
import signal
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import MappingProxyType
from typing import Any

from parsers.errors import ParseError
from parsers.form import FormResult, parse_form
from parsers.limits import Limits
from parsers.vocabulary import Vocabulary
from pec_ingest import ocr

INTERNAL_ERROR = ("errore interno del lettore: il documento non è stato letto per un difetto del "
                  "programma (segnalato ai tecnici), non per un problema del file")
OVER_BUDGET = ("non letto: superato il tempo di lettura previsto per un messaggio "
               "(parser.message_budget_seconds); il documento va aperto a mano")
FAILED_OUTCOMES = frozenset({"timeout", "memory", "crashed", "parser_failed"})


@dataclass(frozen=True)
class ParseTask:
    data: bytes
    filename: str | None
    ocr: bool = True  # read a scan or a photo with OCR (pec_ingest.ocr)


@dataclass(frozen=True)
class IsolatedResult:
    """``outcome`` is ``parsed``, ``unreadable``, ``timeout``, ``memory``, ``crashed``,
    ``parser_failed`` (our bug: ``trace`` holds the traceback) or ``skipped`` (over the
    message's parse budget)."""

    outcome: str
    result: dict[str, Any] | None = None
    relevance: int = 0
    error: str | None = None
    seconds: float = 0.0
    trace: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "parsed"


def pack_vocabulary(vocabulary: Vocabulary) -> dict[str, Any]:
    """The vocabulary as picklable plain values (its mappings are read-only proxies)."""
    return {f.name: dict(value) if isinstance(value, Mapping) else value
            for f in dataclasses.fields(vocabulary)
            for value in (getattr(vocabulary, f.name),)}


def unpack_vocabulary(packed: Mapping[str, Any]) -> Vocabulary:
    values: dict[str, Any] = {k: MappingProxyType(v) if isinstance(v, dict) else v
                              for k, v in packed.items()}
    return Vocabulary(**values)


def to_plain(result: FormResult) -> dict[str, Any]:
    """The parse result as JSON-able values, with the signers' verdicts."""
    plain = result.to_json()
    plain["relevance"] = result.relevance
    if result.signature is not None:
        plain["signature"]["layers"] = result.signature.layers
        plain["signature"]["signers"] = [
            {"name": s.name, "codice_fiscale": s.codice_fiscale,
             "signature_valid": s.signature_valid} for s in result.signature.signers]
    return plain


def parse_one(task: ParseTask, vocabulary: Vocabulary, limits: Limits) -> IsolatedResult:
    """Parse in this process (the child's work, also usable where isolation is not wanted)."""
    started = time.monotonic()
    try:
        result = parse_form(task.data, task.filename, vocabulary, limits)
        plain, relevance = to_plain(result), result.relevance
        wanted = task.ocr and ocr.wanted(result)
        scan = ocr.read_scan(task.data, result, vocabulary, limits) if wanted else None
        if scan is not None:  # a scan or a photo: the OCR readings, to be proved by the parent
            plain.update(scan[0])
            relevance = plain["relevance"] = max(relevance, scan[1])
        return IsolatedResult("parsed", plain, relevance, seconds=time.monotonic() - started)
    except ParseError as exc:
        return IsolatedResult("unreadable", error=str(exc), seconds=time.monotonic() - started)
    except MemoryError:
        return IsolatedResult("memory", error="memoria esaurita durante la lettura del documento")
    except RecursionError:
        return IsolatedResult("crashed", error="documento annidato troppo in profondità")
    except Exception:  # the child's half of the per-message guard: a bug of ours
        return IsolatedResult("parser_failed", error=INTERNAL_ERROR,
                              seconds=time.monotonic() - started, trace=traceback.format_exc())


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def forkserver_context() -> Any:
    """The forkserver every child of the service is forked from (form parsers, envelope
    readers), with what they import loaded once in it."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["pec_ingest.isolation", "pec_ingest.envelopes", "pdfplumber",
                                "docx"])
    return ctx


def die_with(owner: int) -> None:
    """Make this child die with the service, even in the middle of a parse: SIGKILL when its
    parent process (the forkserver) dies (``prctl(PR_SET_PDEATHSIG)``), and when the service
    process ``owner`` dies (a thread waits on a pidfd of it). A SIGKILLed service leaves no
    parser running."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) non riuscito")
    try:
        pidfd = os.pidfd_open(owner)
    except ProcessLookupError:
        os._exit(1)  # the service died before this child started
    threading.Thread(target=_watch_owner, args=(pidfd,), daemon=True,
                     name="pec-ingest-parser-owner").start()


def _watch_owner(pidfd: int) -> None:
    select.select([pidfd], [], [])  # a pidfd becomes readable when its process exits
    os.killpg(0, signal.SIGKILL)  # this child and what it started (a tesseract run)


def _serve(conn: Connection, packed: dict[str, Any], limits: Limits, memory_mb: int,
           owner: int) -> None:
    """Child main loop: parse each task received until the parent closes the pipe."""
    os.setpgid(0, 0)  # its own process group: a kill takes the programs it runs (OCR) along
    die_with(owner)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    vocabulary = unpack_vocabulary(packed)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        result = parse_one(task, vocabulary, limits)
        conn.send(result)
        if result.outcome == "memory":
            return  # the heap may be in a bad state: let the parent start a fresh child


class _Worker:
    def __init__(self, ctx: Any, packed: dict[str, Any], limits: Limits, memory_mb: int) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve,
                                args=(child, packed, limits, memory_mb, os.getpid()),
                                daemon=True, name="pec-ingest-parser")
        self.proc.start()
        child.close()

    def run(self, task: ParseTask, timeout: float) -> IsolatedResult:
        started = time.monotonic()
        try:
            self.conn.send(task)
            if self.conn.poll(timeout):
                result: IsolatedResult = self.conn.recv()
                return result
        except (EOFError, OSError, BrokenPipeError):
            self.proc.join(2)
            return IsolatedResult(*_death(self.proc.exitcode), seconds=time.monotonic() - started)
        self.kill()
        return IsolatedResult("timeout", error=f"lettura interrotta dopo {timeout:g} secondi",
                              seconds=time.monotonic() - started)

    @property
    def alive(self) -> bool:
        return self.proc.is_alive()

    def kill(self) -> None:
        if self.proc.is_alive() and self.proc.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # with a running tesseract
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()


def _death(code: int | None) -> tuple[str, None, int, str]:
    if code == -9:
        return "memory", None, 0, "il lettore del documento è stato terminato (memoria esaurita?)"
    return "crashed", None, 0, f"il lettore del documento è terminato in modo anomalo ({code})"


class ParserPool:
    """Long-lived parser children; thread-safe; ``parse_many`` spreads tasks over them."""

    def __init__(self, vocabulary: Vocabulary, limits: Limits, *, timeout: float,
                 memory_mb: int, size: int | None = None) -> None:
        self.timeout = timeout
        self.size = max(1, size or os.cpu_count() or 1)
        self._args = (pack_vocabulary(vocabulary), limits, memory_mb)
        self._ctx = forkserver_context()
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.size)  # at most `size` children busy

    def _acquire(self) -> _Worker:
        try:
            worker = self._idle.get_nowait()
        except queue.Empty:
            worker = _Worker(self._ctx, *self._args)
            with self._lock:
                self._all.append(worker)
        if not worker.alive:
            self._forget(worker)
            return self._acquire()
        return worker

    def _forget(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)

    def parse(self, task: ParseTask, deadline: float | None = None) -> IsolatedResult:
        """Parse one document; callers from many threads share at most ``size`` children.
        ``deadline`` (``time.monotonic()``): the message's parse budget; a document reached
        after it is ``skipped``, one started before it is cut off at it."""
        with self._slots:
            timeout = self.timeout
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    return IsolatedResult("skipped", error=OVER_BUDGET)
            worker = self._acquire()
            result = worker.run(task, timeout)
            if result.outcome in FAILED_OUTCOMES or not worker.alive:
                self._forget(worker)
            else:
                self._idle.put(worker)
        return result

    def parse_many(self, tasks: Sequence[ParseTask],
                   deadline: float | None = None) -> list[IsolatedResult]:
        """Results in the order of ``tasks``; at most ``size`` children busy at once; all
        within ``deadline`` (see :meth:`parse`)."""
        if len(tasks) <= 1 or self.size == 1:
            return [self.parse(t, deadline) for t in tasks]
        with ThreadPoolExecutor(max_workers=min(self.size, len(tasks))) as pool:
            return list(pool.map(lambda t: self.parse(t, deadline), tasks))

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.kill()

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
