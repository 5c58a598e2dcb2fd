"""Lines that speak of another party than the applicant: never read for the applicant's values.

Two kinds, found by the form's structure rather than by their wording:

* the **addressee block** at the head of a letter ("Spett.le Comune di ...", "Al Servizio
  ...") with the office's address, PEC, phone and codice fiscale, up to a blank line, the
  "Oggetto", the signer's sentence or the applicant's own data;
* a **second party's section**: a heading naming a proxy, a delegate, an intermediary
  ("DATI DEL DELEGATO", "Procuratore:") and the rows under it, up to the next heading.

The lines are blanked (kept in place, so line numbers stay), and the extractor reads the rest.
"""

from __future__ import annotations

import re

from parsers.content import CELL_SEPARATOR
from parsers.labels import STOP, LabelMatcher, following
from parsers.vocabulary import fold

MAX_HEAD = 25  # lines at the top of a form where an addressee block may stand
MAX_BLOCK = 8  # lines of one addressee block
# "Spett.le ...", or "Al/Alla/All'/Ai ..." followed by a capitalised name ("Al Comune di ...",
# not "Al fine di ...", "Ai sensi ...")
_ADDRESSEE = re.compile(r"^\s*(?:(?:spett\.?\s*(?:le|li)\b|spettabile|egregi[oa]?|"
                        r"alla\s+c\.\s*a\.|c\.\s*a\.|all'attenzione|destinatari[oa]?)|"
                        r"(?:(?:al|alla|agli|ai)\s+|all')(?=(?-i:[A-ZÀ-Ý])))", re.IGNORECASE)
_BLOCK_END = re.compile(r"^\s*(?:oggetto|ogg\.)|sottoscritt|dichiara|chiede")
_OTHER_PARTY = re.compile(r"\b(?:delegat[oa]|procurator[ei]|procura|intermediari[oa]|"
                          r"mandatari[oa]|incaricat[oa]|consulente|second[oa]\s+ente|"
                          r"ente\s+partner|partners?|altr[oi]\s+ent[ei])\b")
_HEADING_START = re.compile(r"^\s*(?:dati|sezione|parte|quadro|[a-z]\)|[a-z]\.|\d+[.)])\s")
# a label of the applicant's own identity: the addressee block never reaches it
_APPLICANT_FIELDS = frozenset({"denominazione", "legale_rappresentante", "referente",
                               "natura_giuridica"})


def foreign_lines(lines: list[str], matcher: LabelMatcher) -> set[int]:
    """Indexes of the lines that belong to the addressee or to a second party."""
    return _addressee(lines, matcher) | _second_party(lines, matcher)


def _addressee(lines: list[str], matcher: LabelMatcher) -> set[int]:
    for index, line in enumerate(lines[:MAX_HEAD]):
        folded = fold(line)
        if _BLOCK_END.search(folded) or _applicant_label(line, matcher):
            return set()
        if _ADDRESSEE.match(line.replace("’", "'")):
            return _block(lines, index, matcher)
    return set()


def _block(lines: list[str], start: int, matcher: LabelMatcher) -> set[int]:
    found = {start}
    for index in range(start + 1, min(len(lines), start + MAX_BLOCK)):
        line = lines[index]
        if not line.strip() or _BLOCK_END.search(fold(line)) or _applicant_label(line, matcher):
            break
        found.add(index)
    return found


def _applicant_label(line: str, matcher: LabelMatcher) -> bool:
    return any(hit.field in _APPLICANT_FIELDS for hit in matcher.hits(line))


def is_heading(line: str, matcher: LabelMatcher) -> bool:
    """A section heading: a short line of its own, not a row and not "label: value"."""
    text = line.strip()
    if not text or CELL_SEPARATOR in text or len(text) > 90:
        return False
    hit = matcher.leading(text)
    after = following(text[hit.end:], hit.weak) if hit is not None else None
    if hit is not None and hit.field != STOP and after and after.value and (
            after.separated or not hit.weak):
        return False
    letters = [c for c in text.split("(")[0] if c.isalpha()]  # a "(note)" aside
    upper = sum(1 for c in letters if c.isupper())
    return (bool(letters) and upper * 10 >= len(letters) * 6) or text.endswith(":") or \
        bool(_HEADING_START.match(fold(text)))


def _second_party(lines: list[str], matcher: LabelMatcher) -> set[int]:
    found: set[int] = set()
    inside = False
    for index, line in enumerate(lines):
        if is_heading(line, matcher):
            inside = bool(_OTHER_PARTY.search(fold(line)))
        elif inside and line.strip() and CELL_SEPARATOR not in line and \
                matcher.leading(line.strip()) is None:
            inside = False  # prose again: the section is over
        if inside:
            found.add(index)
    return found
