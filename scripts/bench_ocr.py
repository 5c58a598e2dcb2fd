#!/usr/bin/env python3
"""Benchmark the scan reader: per noise level, what the proof gate proves, suggests, gets wrong.

Builds scans of generated forms (``pec_ingest.samples.scans``: the form rendered with pdftoppm,
then skew, noise, blur, JPEG, a page turned sideways, an identity-document page), reads each
with the parser child's own code (``pec_ingest.isolation.parse_one``: Tesseract, one thread),
applies the proof gate with the organisation's PEC as certified sender (``--sender other``: a
third party sends it, so the PEC cannot be proved by the sender) and prints, per level and
field, proved / suggested / wrong / missing (a field the form leaves empty is not counted),
and the reading time per page and per 2-page scan: wall clock and CPU time (this process
plus the tesseract processes; CPU time does not grow when the machine is busy). Target:
a 2-page scan under 10 s on one core. Not a test: figures, not verdicts.

    python scripts/bench_ocr.py [--forms N] [--levels pulita,realistica] [--sender own|other]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections import Counter, defaultdict

from parsers.limits import DEFAULT_LIMITS
from parsers.vocabulary import DEFAULT_VOCABULARY
from pec_ingest.isolation import ParseTask, parse_one
from pec_ingest.samples.people import make_organisation
from pec_ingest.samples.scans import LEVELS, judge_scan, make_scan

LAYOUTS = ("text", "drawn_checkboxes", "narrative", "table")
FORMATS = ("pdf", "tiff", "jpeg", "png")
FIELDS = ("codice_fiscale", "partita_iva", "pec", "email", "comune", "denominazione",
          "legale_rappresentante", "tavoli")
STATES = ("proved", "suggested", "wrong", "missing")


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (tesseract)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + usage.ru_utime + usage.ru_stime


def run_level(level_name: str, forms: int, sender: str) -> None:
    level = next(lv for lv in LEVELS if lv.name == level_name)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    walls, cpus, scans, pages_total = [], [], [], 0
    for i in range(forms):
        org = make_organisation(1000 + i)
        fmt = FORMATS[i % len(FORMATS)]
        data = make_scan(org, LAYOUTS[i % len(LAYOUTS)], level, fmt, seed=i)
        cpu, started = _cpu(), time.monotonic()
        result = parse_one(ParseTask(data, f"scansione.{fmt}"), DEFAULT_VOCABULARY,
                           DEFAULT_LIMITS)
        wall, cpu = time.monotonic() - started, _cpu() - cpu
        plain = result.result or {}
        pages = (plain.get("ocr") or {}).get("pages") or 1
        pages_total += pages
        scans.append((pages, wall, cpu))
        walls.append(wall / pages)
        cpus.append(cpu / pages)
        fates = judge_scan(org, plain, org.pec if sender == "own" else "terzi@pec.example.it")
        for name in FIELDS:
            if name in fates or name == "tavoli":
                counts[name][fates.get(name, "missing")] += 1
    print(f"\nlivello {level.name} ({level.dpi} dpi, inclinazione {level.skew}°, rumore "
          f"{level.noise}, sfocatura {level.blur}, JPEG {level.jpeg or '-'}"
          f"{', girata' if level.sideways else ''}): {forms} scansioni, {pages_total} pagine")
    print(f"  {'campo':<22}" + "".join(f"{s:>10}" for s in STATES))
    for name in FIELDS:
        print(f"  {name:<22}" + "".join(f"{counts[name][s]:>10}" for s in STATES))
    two = [(w, c) for p, w, c in scans if p == 2]
    print(f"  per pagina: tempo mediano {statistics.median(walls):.2f} s (max {max(walls):.2f}),"
          f" CPU mediana {statistics.median(cpus):.2f} s (max {max(cpus):.2f})")
    if two:
        print(f"  scansione di 2 pagine: tempo max {max(w for w, _ in two):.2f} s, CPU max "
              f"{max(c for _, c in two):.2f} s (obiettivo < 10 s su un core)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", type=int, default=8, help="scans per level")
    parser.add_argument("--levels", default=",".join(lv.name for lv in LEVELS))
    parser.add_argument("--sender", choices=("own", "other"), default="own")
    args = parser.parse_args()
    for name in args.levels.split(","):
        run_level(name.strip(), args.forms, args.sender)


if __name__ == "__main__":
    main()
