#!/usr/bin/env python3
"""Benchmark the IMAP poll against a private Dovecot (tests/dovecot.py), in one run.

Fills a mailbox with N messages (default 2,000): one in ten a PEC carrying an Allegato 1
(DOCX or PDF, varied cheaply: a few organisations and layouts, every envelope its own
identificativo), four in ten unrelated PEC with an attachment, two in ten PEC without
attachments, three in ten receipts. Then prints:

* the floor: every message downloaded raw with imapclient (EXAMINE, UID SEARCH, BODY.PEEK[]),
  measured again in every round, next to the figure it is compared with;
* the first full poll (new database), its ratio to the floor, messages per second;
* mail handling (the same poll with the form parser's answers replayed from a cache: everything
  but form parsing), ``--rounds`` times on a new database each, min and median of the time, of
  its ratio to that round's floor and of messages per second, with the time spent inside the
  pipeline (summed over the threads), the CPU time of this process, and the CPU time of the
  whole machine in the same interval (every process: the envelope workers, Dovecot, the
  database; from /proc/stat) with the ratio it would give if spread perfectly over the cores
  (a bound on what overlapping the work can gain); the single-core parse time (sum of the
  children's parse times); the whole poll against the target 1.2 x (mail handling + parse / cores);
* an idle poll (nothing new; median of 5; target < 100 ms);
* peak memory (ru_maxrss of this process, and of the parser children) after polls of N and
  2N messages (flat is the target).

Not a test: figures on a shared machine. Needs Dovecot and root (like the tests).

    python scripts/bench_poll.py [--n 2000] [--rounds 3] [--no-double]
                                 [--database sqlite|postgresql] [--database-url URL]
                                 [--ingest-workers K] [--statements]

``--statements`` adds one more handling poll whose database statements are counted: on a
machine whose speed varies, the one figure of the database's work that does not.

``--database postgresql`` creates a scratch database on 127.0.0.1:5432 (as the tests do) and
drops it afterwards.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.machinery
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pec_ingest.config import Config, StateSection
from pec_ingest.isolation import IsolatedResult, ParserPool, ParseTask
from pec_ingest.pipeline import Pipeline
from pec_ingest.poller import MailboxReport, Poller
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.pdf_forms import build_pdf
from pec_ingest.samples.pec import build_envelope, build_original
from pec_ingest.samples.people import make_organisation
from pec_ingest.settings_imap import MailboxSection
from store.engine import make_engine, session_factory
from store.migration import upgrade
from tests.dovecot import (
    COMUNE,
    WHEN,
    DovecotServer,
    pec_envelope,
    pec_receipt,
)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def forms() -> list[tuple[str, str, bytes, str]]:
    """A few filled forms: (sender PEC, file name, bytes, content type)."""
    out = []
    for seed, kind, layout in ((21, "docx", "table"), (22, "pdf", "table"),
                               (23, "docx", "controls"), (24, "pdf", "acroform_named")):
        org = make_organisation(seed)
        if kind == "docx":
            out.append((org.pec, "Allegato_1.docx", build_docx(org, layout), DOCX))
        else:
            out.append((org.pec, "allegato 1.pdf", build_pdf(org, layout), "application/pdf"))
    return out


def messages(start: int, count: int) -> Iterator[bytes]:
    """The mix described in the module docstring, built lazily (memory stays flat)."""
    filled = forms()
    invoice = b"<?xml version='1.0'?><FatturaElettronica versione='FPR12'/>\n" * 20
    for i in range(start, start + count):
        k = i % 10
        if k == 0:
            sender, name, data, ctype = filled[(i // 10) % len(filled)]
            original = build_original(
                sender=sender, to=[COMUNE], subject="Manifestazione di interesse - Allegato 1",
                date=WHEN, message_id=f"<form.{i}@bench.example>", attachments=[(name, data,
                                                                               ctype)])
            yield build_envelope(original, mittente=sender, destinatari=[COMUNE],
                                 identificativo=f"opec.form.{i}@bench.example", data=WHEN)
        elif k <= 4:
            yield pec_envelope(i, attachment=invoice, tag="bench")
        elif k <= 6:
            yield pec_envelope(i, attachment=None, tag="bench")
        else:
            yield pec_receipt(i, "bench")


def fill(server: DovecotServer, user: str, start: int, count: int) -> None:
    with server.client(user) as client:
        for raw in messages(start, count):
            client.append("INBOX", raw, flags=())


def raw_download(server: DovecotServer, user: str, batch: int = 100) -> tuple[float, int]:
    """The floor: every message, raw, with imapclient; returns (seconds, bytes)."""
    started = time.perf_counter()
    total = 0
    client = IMAPClient("127.0.0.1", server.port, ssl=False)
    client.login(user, server.users[user])
    client.select_folder("INBOX", readonly=True)
    uids = client.search(["UID", "1:*"])
    for i in range(0, len(uids), batch):
        for data in client.fetch(uids[i:i + batch], ["BODY.PEEK[]"]).values():
            total += len(data[b"BODY[]"])
    client.logout()
    return time.perf_counter() - started, total


class RecordingParse:
    """The real parser pool, remembering each answer and the children's parse time."""

    def __init__(self, pool: ParserPool) -> None:
        self.pool = pool
        self.cache: dict[str, IsolatedResult] = {}
        self.seconds = 0.0
        self.lock = threading.Lock()

    def __call__(self, tasks: Sequence[ParseTask]) -> list[IsolatedResult]:
        results = self.pool.parse_many(tasks)
        with self.lock:
            for task, result in zip(tasks, results, strict=True):
                self.cache[hashlib.sha256(task.data).hexdigest()] = result
                self.seconds += result.seconds
        return results

    def replay(self, tasks: Sequence[ParseTask]) -> list[IsolatedResult]:
        return [self.cache[hashlib.sha256(t.data).hexdigest()] for t in tasks]


class TimedPipeline:
    """Sums the time spent in the pipeline's entry points (over every thread)."""

    METHODS = ("ingest", "prepare", "commit", "commit_many")

    def __init__(self, pipeline: Pipeline) -> None:
        self.seconds = 0.0
        self.lock = threading.Lock()
        for name in self.METHODS:
            if hasattr(pipeline, name):
                setattr(pipeline, name, self._timed(getattr(pipeline, name)))

    def _timed(self, inner: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                with self.lock:
                    self.seconds += time.perf_counter() - started
        return call


def fresh_poller(base: Path, name: str, box: MailboxSection, url: str | None,
                 parse: object) -> tuple[Poller, Pipeline]:
    state = base / name
    config = dataclasses.replace(Config(), state=StateSection(dir=state), mailboxes=(box,))
    database = url or f"sqlite:///{state / 'pec-ingest.db'}"
    engine = make_engine(database)
    upgrade(engine)
    sessions = session_factory(engine)
    pipeline = Pipeline(config, sessions, parse=parse)  # type: ignore[arg-type]
    return Poller(config, sessions, pipeline), pipeline


def reset_database(url: str | None) -> None:
    """PostgreSQL: empty the benchmark database between runs (SQLite gets a new file)."""
    if url is None:
        return
    from sqlalchemy import text

    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def timed_poll(poller: Poller, box: MailboxSection) -> tuple[float, MailboxReport]:
    started = time.perf_counter()
    report = poller.poll_mailbox(box)
    if not report.ok:
        raise SystemExit(f"poll failed: {report.error}")
    return time.perf_counter() - started, report


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def callgrind_difference(script: str, measured: Sequence[str], baseline: Sequence[str]) -> int:
    """Instructions of running ``script`` with the ``measured`` arguments minus those with the
    ``baseline`` ones, each counted by valgrind's callgrind (a figure the machine's load does
    not move; the same hash seed, so the same dict orders, in both runs)."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    totals = []
    for arguments in (measured, baseline):
        done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                               sys.executable, script, *arguments],
                              capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": "0"})
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise SystemExit(f"callgrind printed no total:\n{done.stderr[-2000:]}")
        totals.append(int(found.group(1)))
    return totals[0] - totals[1]


def machine_busy() -> tuple[float, float]:
    """Seconds the machine's cores spent busy so far (user, nice, system, irq, softirq, summed
    over the cores; from /proc/stat), and seconds of steal (taken by the hypervisor). Counts
    every process: this one, its workers, Dovecot (whose imap processes end with each poll,
    out of reach of this process's rusage), the database server."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ticks = [int(x) for x in fields]
    hz = os.sysconf("SC_CLK_TCK")
    return sum(ticks[i] for i in (0, 1, 2, 5, 6)) / hz, (ticks[7] if len(ticks) > 7 else 0) / hz


def maxrss_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def children_skip_this_script() -> None:
    """Spare the service's workers (envelope readers, form parsers) a run of this script.

    A worker started by multiprocessing first re-runs the main script of the process that
    started it, under another name. In production that script is the ``pec-ingest`` entry
    point, which imports almost nothing. Here it is this benchmark, whose imports (SQLAlchemy,
    Alembic, the sample builders) cost every worker 1.3 s of CPU, inside the measured interval
    since each round starts its own workers. Naming the main module ``__main__`` makes the
    workers skip it, as they do under ``python -m``. The workers need nothing from this
    script: what they run lives in the project's modules."""
    sys.modules["__main__"].__spec__ = importlib.machinery.ModuleSpec("__main__", None)


def main() -> int:
    children_skip_this_script()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the handling figure")
    parser.add_argument("--no-double", action="store_true", help="skip the 2N memory run")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", default=None, help="an existing database to use")
    parser.add_argument("--statements", action="store_true",
                        help="count the statements of one more handling poll")
    parser.add_argument("--ingest-workers", type=int, default=0,
                        help="the mailbox's ingest_workers (0: one per core)")
    args = parser.parse_args()
    with private_dovecot("pec-bench-") as (server, base), scratch_database(args) as url:
        args.database_url = url
        return run(args, base, server)


@contextmanager
def private_dovecot(prefix: str) -> Iterator[tuple[DovecotServer, Path]]:
    """A Dovecot of our own in a new temporary folder (and the folder, for the rest of the
    run's files); stopped and removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    server = DovecotServer.create(base / "dovecot")
    server.start()
    try:
        yield server, base
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def scratch_database(args: argparse.Namespace) -> Iterator[str | None]:
    """``--database postgresql``: a new database on the local server, dropped afterwards."""
    if args.database_url or args.database == "sqlite":
        yield args.database_url
        return
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    admin_url = "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"pec_bench_{os.getpid()}"
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def spread(values: Sequence[float], fmt: str) -> str:
    """``min X, median Y`` of ``values``."""
    return f"min {fmt.format(min(values))}, median {fmt.format(statistics.median(values))}"


def run(args: argparse.Namespace, base: Path, server: DovecotServer) -> int:
    n, cores = args.n, os.cpu_count() or 1
    server.add_user("bench")
    started = time.perf_counter()
    fill(server, "bench", 0, n)
    print(f"mailbox: {n} messages appended in {time.perf_counter() - started:.1f} s; "
          f"{cores} cores; database {args.database_url or 'sqlite'}")
    box = server.section("bench", ingest_workers=args.ingest_workers)
    floor, size = raw_download(server, "bench")
    print(f"floor (raw download, imapclient): {floor:.2f} s for {size / 1e6:.1f} MB")

    config = Config()
    with ParserPool(config.vocabulary, config.limits, timeout=60, memory_mb=768) as pool:
        recording = RecordingParse(pool)
        pool.parse_many([ParseTask(data, name) for _s, name, data, _c in forms()])  # warm up
        poller, _ = fresh_poller(base, "first", box, args.database_url, recording)
        first, report = timed_poll(poller, box)
        idle = statistics.median(timed_poll(poller, box)[0] for _ in range(5))
    print(f"first poll: {first:.2f} s = {first / floor:.2f} x floor, {n / first:.0f} msg/s; "
          f"fetched {report.fetched}, skipped {report.skipped}, "
          f"outcomes {dict(sorted(report.outcomes.items()))}")
    handling = rounds(args, base, server, box, recording)
    if args.statements:
        count_statements(args, base, box, recording)
    parse_1 = recording.seconds
    target = 1.2 * (handling + parse_1 / cores)
    print(f"parse, single core: {parse_1:.2f} s; target 1.2 x ({handling:.2f} + "
          f"{parse_1:.2f}/{cores}) = {target:.2f} s; first poll {first:.2f} s "
          f"({'ok' if first <= target else 'OVER'})")
    print(f"idle poll (nothing new, median of 5): {idle * 1000:.1f} ms "
          f"({'ok' if idle < 0.05 else 'OVER'} target 50 ms)")
    own, kids = maxrss_mb()
    print(f"peak memory after N={n}: this process {own:.0f} MB, parser children {kids:.0f} MB")
    if not args.no_double:
        fill(server, "bench", n, n)
        reset_database(args.database_url)
        double, _ = fresh_poller(base, "double", box, args.database_url, _double(recording))
        seconds, _ = timed_poll(double, box)
        own2, _kids2 = maxrss_mb()
        print(f"peak memory after 2N={2 * n} (poll {seconds:.2f} s, parse replayed): "
              f"this process {own2:.0f} MB ({own2 - own:+.0f} MB)")
    return 0


def count_statements(args: argparse.Namespace, base: Path, box: MailboxSection,
                     recording: RecordingParse) -> None:
    """``--statements``: one more handling poll (not timed with the others), every statement
    it sends counted (a figure the machine's load does not move), with the time spent in the
    driver's execute (which that load does move)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    counted: list[float] = []

    def before(conn: Any, _cursor: Any, _statement: str, *_args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: Any, _cursor: Any, _statement: str, *_args: Any) -> None:
        counted.append(time.perf_counter() - conn.info.pop("bench_started"))

    reset_database(args.database_url)
    poller, _pipeline = fresh_poller(base, "statements", box, args.database_url,
                                     recording.replay)
    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    try:
        timed_poll(poller, box)
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)
    print(f"database statements in one handling poll: {len(counted)} (BEGIN and COMMIT not "
          f"counted), {sum(counted):.2f} s inside the driver's execute")


def rounds(args: argparse.Namespace, base: Path, server: DovecotServer, box: MailboxSection,
           recording: RecordingParse) -> float:
    """Mail handling (parse replayed) ``--rounds`` times, each next to its own floor; returns
    the median time."""
    floors, times, inside, cpu, busy, steal = [], [], [], [], [], []
    for i in range(args.rounds):
        floors.append(raw_download(server, "bench")[0])
        reset_database(args.database_url)
        replay, pipeline = fresh_poller(base, f"replay{i}", box, args.database_url,
                                        recording.replay)
        timer = TimedPipeline(pipeline)
        before, (busy_before, steal_before) = cpu_seconds(), machine_busy()
        times.append(timed_poll(replay, box)[0])
        cpu.append(cpu_seconds() - before)
        busy_after, steal_after = machine_busy()
        busy.append(busy_after - busy_before)
        steal.append(steal_after - steal_before)
        inside.append(timer.seconds)
    ratios = [t / f for t, f in zip(times, floors, strict=True)]
    print(f"mail handling (parse replayed), {args.rounds} rounds: {spread(times, '{:.2f} s')}; "
          f"floor {spread(floors, '{:.2f} s')}; ratio to the floor of the same round "
          f"{spread(ratios, '{:.1f} x')}; {spread([args.n / t for t in times], '{:.0f} msg/s')}"
          f"; inside the pipeline (summed over threads) {spread(inside, '{:.2f} s')}; CPU "
          f"time of this process (less sensitive to a shared machine's load) "
          f"{spread(cpu, '{:.2f} s')}")
    cores = os.cpu_count() or 1
    bound = [b / cores / f for b, f in zip(busy, floors, strict=True)]
    print(f"CPU of the whole machine during mail handling (every process: this one, the "
          f"envelope workers, Dovecot, the database) {spread(busy, '{:.2f} s')}, steal "
          f"{spread(steal, '{:.2f} s')}; spread perfectly over {cores} cores it would still "
          f"take {spread(bound, '{:.1f} x')} the floor")
    return statistics.median(times)


def _double(recording: RecordingParse) -> object:
    """Replay, falling back to the real pool for forms not seen in the first run."""
    def parse(tasks: Sequence[ParseTask]) -> list[IsolatedResult]:
        if all(hashlib.sha256(t.data).hexdigest() in recording.cache for t in tasks):
            return recording.replay(tasks)
        return recording(tasks)
    return parse


if __name__ == "__main__":
    sys.exit(main())
