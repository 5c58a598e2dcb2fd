#!/usr/bin/env python3
"""Benchmark reading PEC envelopes (``parsers.envelope.parse_envelope``: MIME, daticert, the
provider's signature) on one core, in this process: the work the poll's envelope workers do.

Reads the messages of ``bench_poll.py``'s mix (one in ten an Allegato 1, receipts, unrelated
PEC) ``--rounds`` times and prints the CPU time per message, min and median over the rounds,
and per kind of message.

``--instructions`` runs the same under valgrind's callgrind instead (one run reading the N
messages, one reading none, the difference printed): a count the machine's load does not move,
to compare two versions of the reader.

    python scripts/bench_envelopes.py [--n 2000] [--rounds 5] [--instructions]

Not a test: figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_poll import callgrind_difference, children_skip_this_script, messages, spread

from parsers.envelope import parse_envelope
from pec_ingest.config import Config


def read_all(raws: list[bytes]) -> tuple[float, dict[str, list[float]]]:
    """CPU seconds to read ``raws``, and the seconds of each by kind of message."""
    limits = Config().limits
    by_kind: dict[str, list[float]] = defaultdict(list)
    total = 0.0
    for raw in raws:
        started = time.process_time()
        envelope = parse_envelope(raw, limits)
        spent = time.process_time() - started
        total += spent
        by_kind[f"{envelope.kind}, {len(envelope.attachments)} allegati"].append(spent)
    return total, by_kind


def instructions(n: int) -> int:
    """Instructions of reading ``n`` envelopes, by callgrind (see the docstring)."""
    return callgrind_difference(__file__, ["--n", str(n), "--read", str(n)],
                                ["--n", str(n), "--read", "0"])


def main() -> int:
    children_skip_this_script()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--instructions", action="store_true",
                        help="count the reading's instructions under callgrind")
    parser.add_argument("--read", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.instructions:
        count = instructions(args.n)
        print(f"reading {args.n} envelopes: {count / 1e6:.0f} M instructions, "
              f"{count / args.n / 1e6:.2f} M per message")
        return 0
    raws = list(messages(0, args.n))
    if args.read is not None:  # one run of --instructions: warm up, then read that many
        read_all(raws[:1])
        read_all(raws[:args.read])
        return 0
    read_all(raws[:20])  # warm up: imports, compiled patterns
    rounds = [read_all(raws) for _ in range(args.rounds)]
    per_message = [total / args.n * 1000 for total, _kinds in rounds]
    print(f"{args.n} envelopes, {args.rounds} rounds: CPU per message "
          f"{spread(per_message, '{:.2f} ms')}")
    best = min(rounds, key=lambda r: r[0])[1]
    for kind, spent in sorted(best.items()):
        print(f"  {kind}: {len(spent)} messages, {sum(spent) / len(spent) * 1000:.2f} ms each")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
