"""Write the variant Allegato 1 forms (pec_ingest.samples.variants) with their truth files.

    .venv/bin/python scripts/make_variant_forms.py OUTDIR [--count N]
    .venv/bin/pec-ingest parse --score OUTDIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pec_ingest.samples.variants import variant_form


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--count", type=int, default=140)
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    for seed in range(args.count):
        name, data, truth = variant_form(seed)
        (args.outdir / name).write_bytes(data)
        truth["file"] = name
        (args.outdir / f"{name}.truth.json").write_text(
            json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
