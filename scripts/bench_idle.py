#!/usr/bin/env python3
"""Benchmark the idle poll (nothing new) of a large mailbox against a private Dovecot.

Fills a mailbox with N small messages (default 100,000; MULTIAPPEND, 500 per command), records
them all as already read (the folder's state at its last UID, and N message rows in the
database, as a year of mail leaves them), then times ``Poller.poll_mailbox`` with nothing new:
median and min of ``--polls`` polls (target < 50 ms), and the same poll on an empty mailbox for
comparison.

Not a test: figures on a shared machine. Needs Dovecot and root (like the tests).

    python scripts/bench_idle.py [--n 100000] [--polls 9] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_poll import private_dovecot, scratch_database

from pec_ingest.config import Config, StateSection
from pec_ingest.pipeline import Pipeline
from pec_ingest.poller import Poller
from store import mailbox_state as states
from store.engine import make_engine, session_factory
from store.messages import add_messages, message_values
from store.migration import upgrade
from tests.dovecot import DovecotServer

BODY = (b"From: ente@pec.example\r\nTo: protocollo@pec.comune.example\r\n"
        b"Subject: pratica %d\r\nMessage-ID: <idle.%d@bench.example>\r\n"
        b"Date: Mon, 02 Feb 2026 10:00:00 +0100\r\n\r\nTesto.\r\n")


def fill(server: DovecotServer, user: str, n: int, per: int = 500) -> None:
    with server.client(user) as client:
        for start in range(0, n, per):
            client.multiappend("INBOX", [BODY % (i, i) for i in range(start, min(n, start + per))])


def record_all(sessions: object, box_name: str, uidvalidity: int, n: int) -> None:
    """N message rows and the folder's state: everything already read."""
    with sessions() as session, session.begin():  # type: ignore[operator]
        for start in range(0, n, 5000):
            rows = []
            for i in range(start, min(n, start + 5000)):
                sha = hashlib.sha256(BODY % (i, i)).hexdigest()
                rows.append(message_values(
                    sha256=sha, size=200, archive_path=f"{sha[:2]}/{sha[2:4]}/{sha}.eml",
                    source="imap", kind="not-pec", outcome="ignored", reason="non PEC",
                    mailbox=box_name, folder="INBOX", uidvalidity=uidvalidity, uid=i + 1,
                    message_id_header=f"<idle.{i}@bench.example>", sender="ente@pec.example",
                    subject=f"pratica {i}", failure_count=0))
            add_messages(session, rows)
        states.save_state(session, box_name, "INBOX", uidvalidity, n)


def idle_polls(args: argparse.Namespace, base: Path, server: DovecotServer, user: str,
               n: int, url: str | None) -> list[float]:
    box = server.section(user)
    state = base / f"state-{user}"
    config = dataclasses.replace(Config(), state=StateSection(dir=state), mailboxes=(box,))
    engine = make_engine(url or f"sqlite:///{state / 'pec-ingest.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    with server.client(user) as client:
        uidvalidity = int(client.select_folder("INBOX", readonly=True)[b"UIDVALIDITY"])
    record_all(sessions, box.name, uidvalidity, n)
    times = []
    with Pipeline(config, sessions) as pipeline:
        poller = Poller(config, sessions, pipeline)
        for _ in range(args.polls):
            started = time.perf_counter()
            report = poller.poll_mailbox(box)
            times.append(time.perf_counter() - started)
            if not report.ok or report.fetched or report.skipped:
                raise SystemExit(f"not an idle poll: {report.summary()}")
    engine.dispose()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--polls", type=int, default=9)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with private_dovecot("pec-bench-idle-") as (server, base):
        server.add_user("big")
        server.add_user("empty")
        started = time.perf_counter()
        fill(server, "big", args.n)
        print(f"mailbox: {args.n} messages appended in {time.perf_counter() - started:.0f} s")
        with scratch_database(args) as url:
            big = idle_polls(args, base, server, "big", args.n, url)
        with scratch_database(args) as url:
            empty = idle_polls(args, base, server, "empty", 0, url)
        print(f"idle poll, {args.n} messages read before ({args.database}): median "
              f"{statistics.median(big) * 1000:.1f} ms, min {min(big) * 1000:.1f} ms "
              f"({'ok' if statistics.median(big) < 0.05 else 'OVER'} target 50 ms); empty "
              f"mailbox: median {statistics.median(empty) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
