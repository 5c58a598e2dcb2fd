#!/usr/bin/env python3
"""Benchmark the IMAP first look (Mailbox.first_look + triage.judge) against a private Dovecot.

Fills a mailbox with scripts/bench_poll.py's mix (default 2,000 messages), then times, over all
UIDs in batches of ``batch_size`` (100 by default), on one connection:

* ``one-trip``: ``first_look(uids)`` as a caller without a structure predicate gets it (size,
  header fields, BODYSTRUCTURE and INTERNALDATE of every message in one FETCH), then ``judge``;
* ``two-step``: ``first_look(uids, needs_structure)`` (when pec_ingest.triage has it): header
  fields first, BODYSTRUCTURE only for the messages whose verdict depends on it;
* ``raw``: every message downloaded with BODY.PEEK[] (the floor bench_poll.py compares with);
* a few single FETCH items alone (``--items``), to see what each costs the client.

CPU time is this process's user + system time (Dovecot runs elsewhere); wall time includes the
server. Median (and min) of ``--rounds`` runs. The verdicts of both modes are compared.

Not a test: figures on a shared machine. Needs Dovecot and root (like the tests).

    python scripts/bench_first_look.py [--n 2000] [--rounds 3] [--items] [--lenient]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pec_ingest import triage
from pec_ingest.mailbox import Mailbox
from pec_ingest.settings_imap import MailboxSection
from scripts.bench_poll import fill, private_dovecot

ITEMS = {
    "size+date": ["RFC822.SIZE", "INTERNALDATE"],
    "header fields": ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT FROM X-TRASPORTO X-RICEVUTA "
                      "X-RIFERIMENTO-MESSAGE-ID AUTO-SUBMITTED CONTENT-TYPE)]"],
    "whole header": ["BODY.PEEK[HEADER]"],
    "bodystructure": ["BODYSTRUCTURE"],
}


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, used = time.perf_counter(), cpu()
    result = work()
    return cpu() - used, time.perf_counter() - wall, result


def first_look_all(mb: Mailbox, box: MailboxSection, uids: list[int],
                   two_step: bool) -> list[triage.Verdict]:
    verdicts = []
    for start in range(0, len(uids), box.batch_size):
        batch = uids[start:start + box.batch_size]
        if two_step:
            looks = mb.first_look(batch, lambda look: triage.needs_structure(look, box))
        else:
            looks = mb.first_look(batch)
        verdicts += [triage.judge(looks[u], box) for u in batch if u in looks]
    return verdicts


def fetch_all(mb: Mailbox, box: MailboxSection, uids: list[int], items: list[str]) -> int:
    count = 0
    for start in range(0, len(uids), box.batch_size):
        count += len(mb.client.fetch(uids[start:start + box.batch_size], items))
    return count


def report(name: str, runs: list[tuple[float, float]]) -> None:
    cpus, walls = [r[0] for r in runs], [r[1] for r in runs]
    print(f"{name:>22}: CPU median {statistics.median(cpus):.3f} s (min {min(cpus):.3f}), "
          f"wall median {statistics.median(walls):.3f} s (min {min(walls):.3f})", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--items", action="store_true", help="also time single FETCH items")
    parser.add_argument("--lenient", action="store_true", help="skip_non_pec = false")
    args = parser.parse_args()
    with private_dovecot("pec-bench-look-") as (server, _base):
        server.add_user("bench")
        fill(server, "bench", 0, args.n)
        box = server.section("bench", skip_non_pec=not args.lenient)
        with Mailbox.open(box) as mb:
            mb.examine("INBOX")
            uids = mb.search_after(0)
            print(f"{len(uids)} messages, batch_size {box.batch_size}, "
                  f"skip_non_pec {box.skip_non_pec}", flush=True)
            modes = {"one-trip": False}
            if hasattr(triage, "needs_structure"):
                modes["two-step"] = True
            results: dict[str, list[triage.Verdict]] = {}
            for name, two_step in modes.items():
                runs = []
                for _ in range(args.rounds):
                    used, wall, results[name] = timed(
                        lambda two_step=two_step: first_look_all(mb, box, uids, two_step))
                    runs.append((used, wall))
                report(name, runs)
            if len(results) == 2:
                same = results["one-trip"] == results["two-step"]
                print(f"verdicts identical: {same}")
                if not same:
                    return 1
            runs = [timed(lambda: fetch_all(mb, box, uids, ["BODY.PEEK[]"]))[:2]
                    for _ in range(args.rounds)]
            report("raw BODY.PEEK[]", runs)
            if args.items:
                for name, items in ITEMS.items():
                    runs = [timed(lambda items=items: fetch_all(mb, box, uids, items))[:2]
                            for _ in range(args.rounds)]
                    report(name, runs)
            counts: dict[tuple[bool, str], int] = {}
            for v in next(iter(results.values())):
                counts[v.download, v.reason or v.kind] = counts.get(
                    (v.download, v.reason or v.kind), 0) + 1
            print("verdicts:", dict(sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
