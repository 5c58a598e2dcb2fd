"""Generated PDF -> read_pdf -> extract: the organisation's truth comes back (end to end)."""

from __future__ import annotations

from typing import Any

import pytest

from parsers.pdf_form import read_pdf
from pec_ingest.samples.pdf_forms import build_pdf
from pec_ingest.samples.people import make_organisation

allegato = pytest.importorskip("parsers.allegato")

VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("text", {}),
    ("table", {}),
    ("narrative", {}),
    ("acroform_named", {}),
    ("acroform_generic", {}),
    ("acroform_generic", {"label_above": True}),
    ("drawn_checkboxes", {}),
    ("glyph_checkboxes", {}),
    ("multi-page", {}),
    ("table", {"tavoli_table": True, "marks": "drawn", "labels": "variant", "short_names": True}),
    ("text", {"labels": "upper", "reorder": True}),
    ("table", {"rep_cf": True}),
]
SEEDS = (3, 4, 7)  # ranked with no P.IVA, checkboxes with a P.IVA, and one more


def extracted(data: bytes) -> dict[str, Any]:
    result = allegato.extract(read_pdf(data))
    return {"fields": dict(result.fields), "tavoli": [t.code for t in result.tavoli],
            "status": result.status}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("layout", "options"), VARIANTS,
                         ids=[f"{lay}-{'-'.join(opts) or 'plain'}" for lay, opts in VARIANTS])
def test_generated_form_extracts_to_its_truth(layout: str, options: dict[str, Any],
                                              seed: int) -> None:
    org = make_organisation(seed)
    truth = org.truth()
    got = extracted(build_pdf(org, layout, **options))
    assert got["fields"] == truth["fields"]
    if org.ranked:
        assert got["tavoli"] == truth["tavoli"]
    else:
        assert sorted(got["tavoli"]) == sorted(truth["tavoli"])
    assert got["status"] == "complete"


def test_scan_goes_to_review_with_no_values() -> None:
    got = extracted(build_pdf(make_organisation(4), "scan"))
    assert got["status"] == "needs_review"
    assert not any(got["fields"].values()) and got["tavoli"] == []


def test_ocr_scan_holds_no_wrong_value() -> None:
    org = make_organisation(4)
    got = extracted(build_pdf(org, "ocr_scan"))
    truth = org.truth()["fields"]
    assert all(v is None or v == truth[k] for k, v in got["fields"].items())
