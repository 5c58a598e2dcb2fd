#!/usr/bin/env python3
"""Benchmark parsing FETCH answers: pec_ingest.fetch_response against imapclient's parser.

Fills a private Dovecot with scripts/bench_poll.py's mix (default 2,000 messages), captures, in
batches of 100 UIDs, the untagged FETCH data imaplib collects for each shape the mailbox asks
for (header look, BODYSTRUCTURE, first look in one trip, BODY.PEEK[]), then parses all of it
with both parsers and prints the best of ``--rounds`` times per 2,000 messages (CPU of this
process only: the server is out of the picture). Both answers are compared first.

Not a test: figures on a shared machine. Needs Dovecot and root (like the tests).

    python scripts/bench_fetch_parse.py [--n 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imapclient.response_parser import parse_fetch_response

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pec_ingest.fetch_response import parse_fetch
from pec_ingest.mailbox import FIRST_LOOK, HEADER_LOOK
from scripts.bench_poll import fill, private_dovecot
from tests.dovecot import DovecotServer

SHAPES: dict[str, tuple[str, ...]] = {
    "header look": HEADER_LOOK,
    "bodystructure": ("BODYSTRUCTURE",),
    "first look (one trip)": FIRST_LOOK,
    "BODY.PEEK[]": ("BODY.PEEK[]",),
}


def capture(server: DovecotServer, user: str, items: tuple[str, ...],
            batch: int = 100) -> list[list[Any]]:
    with server.client(user) as client:
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["UID", "1:*"])
        out = []
        for i in range(0, len(uids), batch):
            typ, data = client._imap.uid(
                "FETCH", ",".join(map(str, uids[i:i + batch])), f"({' '.join(items)})")
            assert typ == "OK", data
            out.append(list(data))
        return out


def best(work: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with private_dovecot("pec-bench-fetch-") as (server, _base):
        server.add_user("bench")
        fill(server, "bench", 0, args.n)
        per = 2000 / args.n
        for name, items in SHAPES.items():
            batches = capture(server, "bench", items)
            for data in batches:
                if parse_fetch(data) != dict(parse_fetch_response(data)):
                    print(f"{name}: answers differ")
                    return 1
            ours = best(lambda b=batches: [parse_fetch(d) for d in b], args.rounds)
            theirs = best(lambda b=batches: [parse_fetch_response(d) for d in b], args.rounds)
            size = sum(len(r[0]) if isinstance(r, tuple) else len(r or b"")
                       for d in batches for r in d)
            print(f"{name:>22}: imapclient {theirs * per:.3f} s, ours {ours * per:.3f} s "
                  f"per 2,000 messages ({theirs / max(ours, 1e-9):.1f} x; "
                  f"{size / 1e6:.1f} MB of response lines)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
