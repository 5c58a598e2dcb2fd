"""Run the form parser in a child process with a time and memory limit.

A hostile PDF must not stall or kill the worker: each document is parsed in a process forked
from a small fork server (modules preloaded, so a parse costs a fork, not an import), with
``RLIMIT_AS`` set to the configured memory and a wall-clock timeout enforced by the parent,
which kills the child when it overruns. The child sends back plain JSON-able values only.
Several documents can be parsed at once, one process each, up to the number of cores.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from parsers.errors import ParseError
from parsers.form import FormResult, parse_form
from parsers.limits import Limits
from parsers.vocabulary import Vocabulary

_PRELOAD = ["parsers.form", "pdfplumber", "docx", "lxml.etree", "asn1crypto.cms", "stdnum.it"]


@dataclass(frozen=True)
class ParseTask:
    data: bytes
    filename: str | None


@dataclass(frozen=True)
class IsolatedResult:
    """``outcome`` is ``parsed``, ``unreadable``, ``timeout``, ``memory`` or ``crashed``."""

    outcome: str
    result: dict[str, Any] | None = None
    relevance: int = 0
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome == "parsed"


def _context() -> Any:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def _child(conn: Connection, task: ParseTask, vocabulary: Vocabulary, limits: Limits,
           memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        result = parse_form(task.data, task.filename, vocabulary, limits)
        conn.send(("parsed", _to_plain(result), result.relevance, None))
    except ParseError as exc:
        conn.send(("unreadable", None, 0, str(exc)))
    except MemoryError:
        conn.send(("memory", None, 0, "memoria esaurita durante la lettura del documento"))
    except RecursionError:
        conn.send(("crashed", None, 0, "documento annidato troppo in profondità"))
    finally:
        conn.close()


def _to_plain(result: FormResult) -> dict[str, Any]:
    plain = result.to_json()
    if result.signature is not None:
        plain["signature"]["layers"] = result.signature.layers
        plain["signature"]["signers"] = [
            {"name": s.name, "codice_fiscale": s.codice_fiscale,
             "signature_valid": s.signature_valid} for s in result.signature.signers]
    return plain


def parse_isolated(task: ParseTask, vocabulary: Vocabulary, limits: Limits, *,
                   timeout: float, memory_mb: int) -> IsolatedResult:
    """Parse one document in a child process; never raises for anything the document does."""
    ctx = _context()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, task, vocabulary, limits, memory_mb),
                       daemon=True)
    started = time.monotonic()
    proc.start()
    child.close()
    try:
        if parent.poll(timeout):
            outcome, result, relevance, error = parent.recv()
            return IsolatedResult(outcome, result, relevance, error, time.monotonic() - started)
        return IsolatedResult("timeout", error=f"lettura interrotta dopo {timeout:g} secondi",
                              seconds=time.monotonic() - started)
    except (EOFError, OSError):
        proc.join(5)
        return IsolatedResult("crashed" if proc.exitcode not in (-9,) else "memory",
                              error=_describe_exit(proc.exitcode),
                              seconds=time.monotonic() - started)
    finally:
        parent.close()
        if proc.is_alive():
            proc.kill()
        proc.join(5)


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        return f"il lettore del documento è terminato in modo anomalo (segnale {-code})"
    return f"il lettore del documento è terminato in modo anomalo (codice {code})"


def parse_many(tasks: Sequence[ParseTask], vocabulary: Vocabulary, limits: Limits, *,
               timeout: float, memory_mb: int, workers: int | None = None) -> list[IsolatedResult]:
    """Parse several documents at once, one child process each, in the order given."""
    if not tasks:
        return []
    n = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    if n == 1:
        return [parse_isolated(t, vocabulary, limits, timeout=timeout, memory_mb=memory_mb)
                for t in tasks]
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda t: parse_isolated(t, vocabulary, limits, timeout=timeout,
                                                      memory_mb=memory_mb), tasks))
