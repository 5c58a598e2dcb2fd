"""Generated DOCX forms in every layout, wording and marker style: the extractor returns the
organisation's truth (pec_ingest.samples.docx_forms + people)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from parsers.allegato import FIELDS, extract
from parsers.docx_form import read_docx
from pec_ingest.samples.docx_forms import (
    LAYOUTS,
    MARKERS,
    STRUCTURAL_MARKERS,
    build_docx,
    expected,
)
from pec_ingest.samples.people import make_organisation
from pec_ingest.scoring import field_equal

ALL_MARKERS = (*MARKERS, *STRUCTURAL_MARKERS)


def random_options(seed: int) -> dict[str, Any]:
    rng = random.Random(seed * 7 + 1)
    return {
        "seed": seed, "case": rng.choice(["as_is", "upper", "lower"]), "colon": rng.random() < 0.6,
        "marker": rng.choice(ALL_MARKERS), "marker_after": rng.random() < 0.3,
        "names": rng.choice(["full", "short", "shortest"]), "reorder": rng.random() < 0.5,
        "referente": rng.choice(["name", "same", "absent"]), "empty_piva": rng.random() < 0.6,
        "placeholder": rng.choice(["none", "word", "libreoffice"]),
        "rep_cf_row": rng.random() < 0.3, "tracked": rng.random() < 0.3,
    }


def assert_matches_truth(data: bytes, truth: dict[str, Any]) -> None:
    result = extract(read_docx(data))
    for name in FIELDS:
        got, want = result.fields[name], truth["fields"][name]
        if want is None:
            assert got is None, f"{name}: got {got!r}, want nothing"
        else:
            assert got is not None and field_equal(name, got, want), f"{name}: {got!r} != {want!r}"
    codes = [t.code for t in result.tavoli]
    if truth["ranked"]:
        assert codes == list(truth["tavoli"])
        assert [t.rank for t in result.tavoli] == list(range(1, len(codes) + 1))
    else:
        assert sorted(codes) == sorted(truth["tavoli"])
        assert all(t.rank is None for t in result.tavoli)
    assert result.status == "complete"


@pytest.mark.parametrize("seed", range(120))
def test_random_variant(seed: int) -> None:
    org = make_organisation(seed)
    options = random_options(seed)
    layout = LAYOUTS[seed % len(LAYOUTS)]
    assert_matches_truth(build_docx(org, layout, **options), expected(org, **options))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("marker", ALL_MARKERS)
def test_every_layout_with_every_marker(layout: str, marker: str) -> None:
    org = make_organisation(hash((layout, marker)) % 10_000)
    options = {"marker": marker, "ranked": False, "seed": len(layout)}
    assert_matches_truth(build_docx(org, layout, **options), expected(org, **options))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_ranked_short_reordered_names(layout: str) -> None:
    org = make_organisation(500 + len(layout))
    options = {"ranked": True, "names": "shortest", "reorder": True}
    assert_matches_truth(build_docx(org, layout, **options), expected(org, **options))


@pytest.mark.parametrize("layout", ["table", "label_lines", "split_lines", "controls"])
def test_representative_code_row_never_becomes_the_organisations(layout: str) -> None:
    org = make_organisation(77)
    data = build_docx(org, layout, rep_cf_row=True, labels={"codice_fiscale": "Codice fiscale"})
    result = extract(read_docx(data))
    assert result.fields["codice_fiscale"] == org.codice_fiscale
    assert org.rappresentante_cf not in result.fields.values()


def test_unknown_layout_or_marker_is_refused() -> None:
    org = make_organisation(1)
    with pytest.raises(ValueError, match="layout"):
        build_docx(org, "origami")
    with pytest.raises(ValueError, match="marker"):
        build_docx(org, "table", marker="?")
