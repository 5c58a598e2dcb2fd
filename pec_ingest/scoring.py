"""Score the form parser against files with ``NAME.truth.json`` beside them.

Rules from ``allegato1.md``: a field is right when its normalised value equals the truth
(phone: same digits; sede_legale: street-and-number and comune both present; names: same
words in any order). A file expected to go to review (a scan) is right when its status is
``needs_review`` and it holds no wrong value: its empty fields count as right, not missing.
Tables are right when the chosen codes (and their order, for ranked forms) match.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parsers.allegato import FIELDS

Outcome = str  # "right" | "missing" | "wrong"


def _words(value: str) -> list[str]:
    return sorted(re.sub(r"[^\w@.+-]+", " ", value.casefold()).split())


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _plain(value: str) -> str:
    return " ".join(value.replace("«", "").replace("»", "").split()).casefold()


def _sede_right(got: str, truth: str) -> bool:
    street = truth.split(",")[0]
    comune = re.sub(r"\s*\(\w\w\)\s*$", "", truth.split(",")[-1]).strip()
    comune = re.sub(r"^\d{5}\s+", "", comune)
    low = _plain(got)
    return _plain(street) in low and _plain(comune) in low


def field_equal(name: str, got: str, truth: str) -> bool:
    """Whether ``got`` counts as the truth for field ``name``."""
    if name == "telefono":
        return _digits(got).removeprefix("39") == _digits(truth).removeprefix("39") or (
            _digits(got) == _digits(truth))
    if name == "sede_legale":
        return _sede_right(got, truth)
    if name in ("legale_rappresentante", "referente"):
        return _words(got) == _words(truth)
    return _plain(got) == _plain(truth)


def score_field(name: str, got: str | None, truth: str | None, *, review: bool) -> Outcome:
    if got is None:
        return "right" if truth is None or review else "missing"
    if truth is None:
        return "wrong"
    return "right" if field_equal(name, got, truth) else "wrong"


@dataclass
class FileScore:
    file: str
    fields: dict[str, Outcome]
    tavoli_right: bool
    status: str
    expect_review: bool
    notes: list[str] = field(default_factory=list)

    @property
    def review_right(self) -> bool:
        return (self.status == "needs_review") == self.expect_review or (
            not self.expect_review and self.status != "needs_review")


def score_one(name: str, result: dict[str, Any] | None, truth: dict[str, Any],
              error: str | None = None) -> FileScore:
    """Compare one parse result (the ``parse --json`` shape) with its truth."""
    review = bool(truth.get("expect_review"))
    if result is None:
        return FileScore(name, {f: ("right" if review or truth["fields"].get(f) is None
                                    else "missing") for f in FIELDS},
                         tavoli_right=review, status="error", expect_review=review,
                         notes=[error or "unreadable"])
    got_fields = result["fields"]
    outcomes = {f: score_field(f, got_fields.get(f), truth["fields"].get(f),
                               review=review and result["status"] == "needs_review")
                for f in FIELDS}
    got_codes = [t["code"] for t in result["tavoli"]]
    want = list(truth.get("tavoli") or [])
    if review:
        tavoli_right = result["status"] == "needs_review" and (not got_codes or got_codes == want
                                                                or set(got_codes) == set(want))
    elif truth.get("ranked"):
        tavoli_right = got_codes == want
    else:
        tavoli_right = sorted(got_codes) == sorted(want)
    notes = [f"{f}: got {got_fields.get(f)!r}, want {truth['fields'].get(f)!r}"
             for f, o in outcomes.items() if o != "right"]
    if not tavoli_right:
        notes.append(f"tavoli: got {got_codes}, want {want}")
    return FileScore(name, outcomes, tavoli_right, result["status"], review, notes)


@dataclass
class Report:
    files: list[FileScore]

    def totals(self) -> dict[str, dict[str, int]]:
        out = {f: {"right": 0, "missing": 0, "wrong": 0} for f in FIELDS}
        for fs in self.files:
            for f, o in fs.fields.items():
                out[f][o] += 1
        return out

    def summary(self) -> dict[str, Any]:
        totals = self.totals()
        right = sum(t["right"] for t in totals.values())
        allf = sum(sum(t.values()) for t in totals.values())
        wrong = sum(t["wrong"] for t in totals.values())
        non_scan = [fs for fs in self.files if not fs.expect_review]
        return {
            "files": len(self.files),
            "fields_right": right,
            "fields_total": allf,
            "fields_wrong": wrong,
            "accuracy": right / allf if allf else 0.0,
            "tavoli_right": sum(fs.tavoli_right for fs in non_scan),
            "tavoli_total": len(non_scan),
            "scans_wrong_values": sum(1 for fs in self.files if fs.expect_review
                                      and "wrong" in fs.fields.values()),
            "status_right": sum(fs.review_right for fs in self.files),
        }


def truth_files(folder: Path) -> list[tuple[Path, Path]]:
    """(document, truth) pairs of a folder, in name order."""
    pairs = []
    for truth in sorted(folder.glob("*.truth.json")):
        doc = truth.with_name(truth.name.removesuffix(".truth.json"))
        if doc.exists():
            pairs.append((doc, truth))
    return pairs


def score_folder(folder: Path,
                 parse: Callable[[Path], tuple[dict[str, Any] | None, str | None]]) -> Report:
    """Run ``parse`` (path -> (json result or None, error)) on every file with a truth."""
    files = []
    for doc, truth_path in truth_files(folder):
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        result, error = parse(doc)
        files.append(score_one(doc.name, result, truth, error))
    return Report(files)


def format_report(report: Report, verbose: bool = True) -> Iterable[str]:
    totals = report.totals()
    yield f"{'campo':<24}{'right':>7}{'missing':>9}{'wrong':>7}"
    for f, t in totals.items():
        yield f"{f:<24}{t['right']:>7}{t['missing']:>9}{t['wrong']:>7}"
    s = report.summary()
    yield (f"TOTAL fields: {s['fields_right']}/{s['fields_total']} right "
           f"({s['accuracy']:.1%}), {s['fields_wrong']} wrong")
    yield f"tavoli right on non-scan files: {s['tavoli_right']}/{s['tavoli_total']}"
    yield f"scans holding a wrong value: {s['scans_wrong_values']}"
    yield f"status right: {s['status_right']}/{s['files']}"
    if verbose:
        for fs in report.files:
            if fs.notes:
                yield f"- {fs.file} [{fs.status}]: " + "; ".join(fs.notes)
