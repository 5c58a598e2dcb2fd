"""Forms in wordings and layouts the reader was not written for (pec_ingest.samples.variants:
narrative prose, comune before the street, dotted leaders with hints, the office's contacts in
the header, a proxy's or a partner's section, Cognome/Nome rows, hints left in blanks), as
real DOCX and PDF files: no wrong value, and nearly every field right."""

from __future__ import annotations

from parsers.form import parse_form
from pec_ingest.config import Config
from pec_ingest.samples.variants import LAYOUTS, variant_form
from pec_ingest.scoring import score_field

COUNT = 2 * len(LAYOUTS)  # every layout twice (DOCX or PDF chosen by the seed)


def test_unseen_variants_hold_no_wrong_value_and_nearly_every_right_one() -> None:
    vocabulary = Config().vocabulary  # the office's own contacts from the defaults
    outcomes: dict[str, int] = {"right": 0, "missing": 0, "wrong": 0}
    wrong = []
    for seed in range(COUNT):
        name, data, truth = variant_form(seed)
        result = parse_form(data, name, vocabulary)
        for field, want in truth["fields"].items():
            outcome = score_field(field, result.fields[field], want, review=False)
            outcomes[outcome] += 1
            if outcome == "wrong":
                wrong.append(f"{name} {field}: {result.fields[field]!r} != {want!r}")
    assert not wrong, wrong
    assert outcomes["right"] >= 0.97 * sum(outcomes.values()), outcomes
