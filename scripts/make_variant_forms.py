"""Write generated Allegato 1 forms with their truth files, to score the reader on them.

    .venv/bin/python scripts/make_variant_forms.py OUTDIR [--count N]
    .venv/bin/pec-ingest parse --score OUTDIR

Variants in new wordings and layouts (pec_ingest.samples.variants). With ``--templates``, the
office's own blank (pec_ingest.samples.template_forms) filled in as DOCX, PDF written over and
AcroForm, with several filling habits, plus ``config-template.toml`` naming the blanks:

    .venv/bin/pec-ingest --config OUTDIR/config-template.toml parse --score OUTDIR
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from pec_ingest.samples.template_forms import (
    HABITS,
    SIGNER_MAPPING,
    template_docx,
    template_pdf,
    template_truth,
)
from pec_ingest.samples.variants import make_applicant, variant_form

KINDS = ("docx", "pdf", "acroform")


def write(outdir: Path, name: str, data: bytes, truth: dict[str, Any]) -> None:
    (outdir / name).write_bytes(data)
    truth["file"] = name
    (outdir / f"{name}.truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1),
                                               encoding="utf-8")


def write_templates(outdir: Path, count: int) -> None:
    (outdir / "blank.docx").write_bytes(template_docx())
    (outdir / "blank-acroform.pdf").write_bytes(template_pdf(acroform=True))
    mapping = "".join(f'\n[[procedure.template_labels]]\nlabel = "{label}"\nfield = "{field}"\n'
                      for label, field in SIGNER_MAPPING)
    (outdir / "config-template.toml").write_text(
        f'[procedure]\ntemplate = ["blank.docx", "blank-acroform.pdf"]\n{mapping}',
        encoding="utf-8")
    for seed in range(count):
        app = make_applicant(random.Random(f"template-form-{seed}"))
        kind, habit = KINDS[seed % len(KINDS)], HABITS[(seed // len(KINDS)) % len(HABITS)]
        if kind == "docx":
            data = template_docx(app, habit)
        else:
            data = template_pdf(app, acroform=kind == "acroform", habit=habit)
        suffix = "docx" if kind == "docx" else "pdf"
        truth = template_truth(app) | {"layout": f"template_{kind}", "variant": habit}
        write(outdir, f"template_{seed:03d}_{kind}_{habit}.{suffix}", data, truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--count", type=int, default=140)
    parser.add_argument("--templates", action="store_true",
                        help="the office's blank filled in, instead of the variants")
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    if args.templates:
        write_templates(args.outdir, args.count)
        return
    for seed in range(args.count):
        name, data, truth = variant_form(seed)
        write(args.outdir, name, data, truth)


if __name__ == "__main__":
    main()
