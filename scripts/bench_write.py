#!/usr/bin/env python3
"""Benchmark the database writer alone: the same messages as ``bench_poll.py`` (one in ten an
Allegato 1), prepared in this process (archived, envelope read, form parse answered from a
cache filled once by the real parser pool), then written with ``Pipeline.commit_many`` in
batches of the mailbox's ``batch_size``, as a poll writes them. No IMAP server.

Every round empties the same database (same engine: its compiled statements stay cached, as in
the service) and prints, min and median over the rounds:

* the CPU time and wall time of preparing, and of writing;
* the writing's CPU time per message and per submission version.

``--instructions`` runs the same under valgrind's callgrind instead (two runs of one warm-up
and one measured round, one of them without the measured round's writing) and prints the
instructions of one writing of N messages: a count that does not move with the machine's
load, where times on a shared machine move by 10 % and more. Slow (a few minutes for N=300).

    python scripts/bench_write.py [--n 1000] [--rounds 5] [--database sqlite|postgresql]
                                  [--database-url URL] [--instructions]

Not a test: figures. ``--database postgresql`` creates a scratch database on 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_poll import (
    RecordingParse,
    callgrind_difference,
    children_skip_this_script,
    messages,
    scratch_database,
    spread,
)
from sqlalchemy.engine import Engine

from pec_ingest.config import Config, StateSection
from pec_ingest.isolation import ParserPool
from pec_ingest.pipeline import Outcome, Pipeline, Prepared, Source
from pec_ingest.settings_imap import MailboxSection
from store.base import Base
from store.engine import make_engine, session_factory
from store.migration import upgrade


@dataclasses.dataclass
class Round:
    prepare_cpu: float
    prepare_wall: float
    write_cpu: float
    write_wall: float
    outcomes: Counter[str]


def one_round(engine: Engine, base: Path, raws: list[bytes], parse: object,
              write: bool = True) -> Round:
    """Empty the database, prepare ``raws``, write them (unless ``write`` is False)."""
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "alembic_version":
                connection.execute(table.delete())
    state = Path(tempfile.mkdtemp(dir=base))
    config = dataclasses.replace(Config(), state=StateSection(dir=state))
    pipeline = Pipeline(config, session_factory(engine), parse=parse)  # type: ignore[arg-type]
    batch = MailboxSection(name="bench").batch_size
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        steps = [pipeline.prepare(raw, Source("imap", "bench", "INBOX", 1, uid), False, {})
                 for uid, raw in enumerate(raws, start=1)]
        prepare_cpu, prepare_wall = time.process_time() - cpu, time.perf_counter() - wall
        ready = [s for s in steps if isinstance(s, Prepared)]
        outcomes = Counter(s.outcome for s in steps if isinstance(s, Outcome))
        cpu, wall = time.process_time(), time.perf_counter()
        if write:
            for start in range(0, len(ready), batch):
                written = pipeline.commit_many(ready[start:start + batch],
                                               lambda _session, _outcomes: None)
                outcomes.update(o.outcome for o in written.outcomes)
                if not written.together:  # fell back to one by one: a different figure
                    outcomes["(batches written one by one)"] += 1
        write_cpu, write_wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        pipeline.close()
        shutil.rmtree(state, ignore_errors=True)
    return Round(prepare_cpu, prepare_wall, write_cpu, write_wall, outcomes)


def measure(args: argparse.Namespace, url: str | None, base: Path) -> list[Round]:
    """A warm-up round (fills the parse cache and the engine's statement cache), then
    ``args.rounds`` measured ones."""
    raws = list(messages(0, args.n))
    engine = make_engine(url or f"sqlite:///{base / 'bench.db'}")
    upgrade(engine)
    config = Config()
    try:
        with ParserPool(config.vocabulary, config.limits, timeout=60, memory_mb=768) as pool:
            recording = RecordingParse(pool)
            one_round(engine, base, raws, recording)
        return [one_round(engine, base, raws, recording.replay,
                          write=not (args.no_last_write and r == args.rounds - 1))
                for r in range(args.rounds)]
    finally:
        engine.dispose()


def instructions(args: argparse.Namespace, url: str | None) -> int:
    """Instructions of one writing of ``args.n`` messages, by callgrind (see the docstring)."""
    command = ["--n", str(args.n), "--rounds", "1"] + (["--database-url", url] if url else [])
    return callgrind_difference(__file__, command, [*command, "--no-last-write"])


def main() -> int:
    children_skip_this_script()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", default=None, help="an existing database to use")
    parser.add_argument("--instructions", action="store_true",
                        help="count the writing's instructions under callgrind")
    parser.add_argument("--no-last-write", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with scratch_database(args) as url:
        if args.instructions:
            count = instructions(args, url)
            print(f"writing {args.n} messages: {count / 1e6:.0f} M instructions, "
                  f"{count / args.n / 1e6:.2f} M per message")
            return 0
        base = Path(tempfile.mkdtemp(prefix="pec-bench-write-"))
        try:
            measured = measure(args, url, base)
        finally:
            shutil.rmtree(base, ignore_errors=True)
    if args.no_last_write:
        return 0
    outcomes = measured[-1].outcomes
    versions = outcomes["submission"]
    writes = [r.write_cpu for r in measured]
    print(f"{args.n} messages, database {url or 'sqlite'}: {dict(sorted(outcomes.items()))}")
    print(f"prepare: CPU {spread([r.prepare_cpu for r in measured], '{:.3f} s')}; "
          f"wall {spread([r.prepare_wall for r in measured], '{:.3f} s')}")
    print(f"write:   CPU {spread(writes, '{:.3f} s')}; "
          f"wall {spread([r.write_wall for r in measured], '{:.3f} s')}")
    print(f"write CPU per message: {spread([w / args.n * 1000 for w in writes], '{:.2f} ms')}"
          + (f"; per version (all of the write / versions): "
             f"{spread([w / versions * 1000 for w in writes], '{:.1f} ms')}"
             if versions else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
