#!/usr/bin/env python3
"""Write every result of the form parser as one JSON snapshot, to prove a change alters none.

Runs ``parsers.form.parse_form`` (the whole result: status, fields, tavoli, document, signature,
warnings, relevance) and the readers under it (``read_pdf``/``read_docx``: every line, count
and flag of the :class:`~parsers.content.FormContent`) over the corpus forms
(``../shared/corpus/forms``), every PDF and DOCX of ``../shared/corpus/realdocs``, and the
forms ``pec_ingest.samples`` generates (the DOCX and PDF layouts of ``scripts/bench_parse.py``
with a signed DOCX, the wording variants and the office template's habits). A file that is
refused is recorded with its exception's class and message. Nothing here measures time.

Generated DOCX files differ from run to run (zip timestamps, document dates): with
``--samples DIR`` the generated files are written to DIR on the first run and read back from it
afterwards, so that two snapshots read the very same bytes.

    python scripts/parse_snapshot.py OUT.json --samples /tmp/samples    # write
    python scripts/parse_snapshot.py OUT.json --samples /tmp/samples --compare BASELINE.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from parsers import cades
from parsers.docx_form import read_docx
from parsers.errors import ParseError
from parsers.form import SIGNED_FORMATS, parse_form
from parsers.pdf_form import read_pdf
from parsers.sniff import detect_format
from pec_ingest.samples.docx_forms import LAYOUTS as DOCX_LAYOUTS
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.p7m import make_signer, sign
from pec_ingest.samples.pdf_forms import LAYOUTS as PDF_LAYOUTS
from pec_ingest.samples.pdf_forms import build_pdf
from pec_ingest.samples.people import make_organisation
from pec_ingest.samples.template_forms import HABITS, template_docx, template_pdf
from pec_ingest.samples.variants import make_applicant, variant_form

SIGNED_AT = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)  # a fixed time: the same snapshot each run
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def corpus_files() -> Iterator[tuple[str, bytes]]:
    forms = SHARED / "forms"
    if forms.is_dir():
        for path in sorted(forms.iterdir()):
            if not path.name.endswith(".truth.json"):
                yield f"forms/{path.name}", path.read_bytes()
    realdocs = SHARED / "realdocs"
    if realdocs.is_dir():
        for path in sorted(realdocs.rglob("*")):
            if path.is_file() and path.suffix.lower() in (".pdf", ".docx"):
                yield f"realdocs/{path.relative_to(realdocs)}", path.read_bytes()


def generated_files() -> Iterator[tuple[str, bytes]]:
    signer = make_signer("Mario Rossi", "RSSMRA80A01F205X")
    for i, layout in enumerate(DOCX_LAYOUTS):
        data = build_docx(make_organisation(100 + i), layout)
        yield f"generated/{layout}.docx", data
        if i == 0:
            yield f"generated/{layout}.docx.p7m", sign(data, [signer], signing_time=SIGNED_AT)
    for i, layout in enumerate(PDF_LAYOUTS):
        data = build_pdf(make_organisation(200 + i), layout)
        yield f"generated/{layout}.pdf", data
        if i == 0:
            yield f"generated/{layout}.pdf.p7m", sign(data, [signer], signing_time=SIGNED_AT)
    for seed in range(60):
        name, data, _ = variant_form(seed)
        yield f"variants/{name}", data
    for seed, habit in enumerate(HABITS):
        app = make_applicant(random.Random(f"template-form-{seed}"))
        yield f"template/{habit}.docx", template_docx(app, habit)
        yield f"template/{habit}.pdf", template_pdf(app, acroform=False, habit=habit)
        yield f"template/{habit}-acroform.pdf", template_pdf(app, acroform=True, habit=habit)


def frozen_files(folder: Path | None) -> Iterator[tuple[str, bytes]]:
    """The generated files, as written to ``folder`` by an earlier run when it has them."""
    if folder is not None and (folder / "index.json").is_file():
        for name in json.loads((folder / "index.json").read_text(encoding="utf-8")):
            yield name, (folder / name).read_bytes()
        return
    names = []
    for name, data in generated_files():
        if folder is not None:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        names.append(name)
        yield name, data
    if folder is not None:
        (folder / "index.json").write_text(json.dumps(names), encoding="utf-8")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    return value


def _failure(exc: Exception) -> dict[str, Any]:
    return {"error": type(exc).__name__, "message": str(exc),
            "filename": getattr(exc, "filename", None)}


def _content(data: bytes) -> Any:
    """The reader's FormContent for the document inside any signature."""
    try:
        fmt = detect_format(data)
        if fmt in SIGNED_FORMATS and cades.is_signed_container(data):
            signed = cades.unwrap(data)
            data, fmt = signed.content, signed.format
        if fmt == "pdf":
            return _plain(read_pdf(data))
        if fmt == "docx":
            return _plain(read_docx(data))
        return {"format": fmt}
    except ParseError as exc:
        return _failure(exc)


def snapshot_one(name: str, data: bytes, seconds: dict[str, float]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        result = parse_form(data, name.rsplit("/", 1)[-1])
        form: Any = _plain(result) | {"looks_like_allegato": result.looks_like_allegato,
                                      "to_json": result.to_json()}
    except ParseError as exc:
        form = _failure(exc)
    seconds[name.split("/", 1)[0]] += time.perf_counter() - start  # printed, never written
    return {"parse_form": form, "content": _content(data)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--compare", type=Path, help="a baseline snapshot: report differences")
    parser.add_argument("--samples", type=Path, help="where the generated files are kept")
    args = parser.parse_args()
    seconds: dict[str, float] = defaultdict(float)
    snapshot = {name: snapshot_one(name, data, seconds)
                for name, data in [*corpus_files(), *frozen_files(args.samples)]}
    text = json.dumps(snapshot, ensure_ascii=False, indent=1, sort_keys=True, default=str)
    for group, total in sorted(seconds.items()):
        print(f"parse_form time, {group}: {total:.2f} s", file=sys.stderr)
    args.out.write_text(text, encoding="utf-8")
    print(f"{len(snapshot)} documents written to {args.out}")
    if args.compare is None:
        return 0
    baseline = json.loads(args.compare.read_text(encoding="utf-8"))
    current = json.loads(text)
    differ = sorted(n for n in baseline.keys() | current.keys()
                    if baseline.get(n) != current.get(n))
    for name in differ:
        print(f"DIFFERS: {name}")
    print("identical" if not differ else f"{len(differ)} documents differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
