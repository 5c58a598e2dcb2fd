"""The Allegato 1 field extractor: a :class:`~parsers.content.FormContent` in, the eleven
canonical fields, the chosen Tavoli d'area and a status out.

Reading order of the evidence: structured label/value pairs (:mod:`parsers.structured`), then
prose (:mod:`parsers.narrative`); tables from :mod:`parsers.tavoli`; validation and choice in
:mod:`parsers.selection`. A wrong value is worse than a missing one: whatever is uncertain is
left empty with an Italian warning, and the status tells staff whether to look.

Checkbox glyphs: readers should already emit ☒/☐ (see :mod:`parsers.content`); the extractor
maps the other glyphs (✔, ■, [X] ...) again itself, so any reader's output is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from parsers.codes import find_comune
from parsers.content import CELL_SEPARATOR, FormContent
from parsers.glyphs import canonical_glyphs
from parsers.labels import LabelMatcher, same_person
from parsers.narrative import narrative_evidence
from parsers.natura import natura_from_name
from parsers.parties import foreign_lines
from parsers.selection import Selection, choose
from parsers.structured import Candidate, structured_candidates
from parsers.tavoli import find_tavoli
from parsers.template import template_candidates
from parsers.vocabulary import DEFAULT_VOCABULARY, FIELD_NAMES, Vocabulary, fold, fold_aligned

FIELDS: tuple[str, ...] = FIELD_NAMES
MAX_LINES = 2000  # paragraphs read: an Allegato 1 has a few hundred at most
MAX_CHARS = 200_000  # characters read, over all lines
REQUIRED = ("denominazione", "codice_fiscale", "legale_rappresentante")
_LEADER_ONLY = re.compile(r"^[\s.…_\-–—/]*$")
_LEADER_RUN = re.compile(r"[.…_]{4,}")
_READABLE = {
    "denominazione": "denominazione", "codice_fiscale": "codice fiscale",
    "legale_rappresentante": "legale rappresentante", "tavoli": "tavolo d'area scelto",
    "contatto": "indirizzo e-mail o PEC",
}


@dataclass(frozen=True)
class Tavolo:
    """A chosen Tavolo d'area; ``rank`` is the preference (1 = first) on ranked forms."""

    code: str
    rank: int | None


@dataclass(frozen=True)
class Extraction:
    """What the form says, normalised; every field key is always present."""

    fields: Mapping[str, str | None]
    tavoli: tuple[Tavolo, ...]
    status: str  # complete | incomplete | needs_review
    warnings: tuple[str, ...]


def extract(content: FormContent, vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> Extraction:
    """Read the canonical fields, the chosen tables and the status from a form's text."""
    if content.is_scan:
        return Extraction(MappingProxyType(dict.fromkeys(FIELDS)), (), "needs_review",
                          ("documento scansionato senza testo leggibile: "
                           "serve la lettura di una persona",))
    raw, cut = _bounded(content.lines)
    matcher = LabelMatcher(vocabulary)
    lines = _readable(raw, vocabulary, matcher)
    prose, signer_warnings = narrative_evidence(lines, matcher)
    blank, reader_warnings = template_candidates(
        vocabulary.templates, vocabulary.template_labels, lines, matcher,
        lambda blank_lines: _readable(blank_lines, vocabulary, matcher))
    selection = _select(blank + structured_candidates(lines, matcher) + prose, vocabulary,
                        lines)
    if selection.values["legale_rappresentante"] is None:
        selection.warnings += signer_warnings
    choice = find_tavoli(lines, vocabulary, matcher)
    tavoli = tuple(Tavolo(code, rank) for code, rank in choice.codes)
    warnings = [*reader_warnings, *selection.warnings, *choice.warnings]
    status = _status(selection, tavoli, content, warnings)
    if cut:
        warnings.append(f"documento troppo lungo: letti solo i primi {len(raw)} paragrafi "
                        f"({MAX_CHARS} caratteri al massimo), il resto non è stato esaminato")
        status = "needs_review"
    return Extraction(MappingProxyType(dict(selection.values)), tavoli, status,
                      tuple(dict.fromkeys(warnings)))


def _readable(raw: tuple[str, ...] | list[str], vocabulary: Vocabulary,
              matcher: LabelMatcher) -> list[str]:
    """Prepared lines with the addressee's and other parties' lines blanked."""
    lines = prepare_lines(raw, vocabulary)
    for index in foreign_lines(lines, matcher):
        lines[index] = ""  # the addressee's or a second party's data: not the applicant's
    return lines


def _bounded(lines: tuple[str, ...] | list[str]) -> tuple[list[str], bool]:
    """At most MAX_LINES lines and MAX_CHARS characters: an Allegato 1 is a few pages."""
    out: list[str] = []
    total = 0
    for line in lines[:MAX_LINES]:
        if total + len(line) > MAX_CHARS:
            out.append(line[: MAX_CHARS - total])
            return out, True
        total += len(line)
        out.append(line)
    return out, len(lines) > MAX_LINES


def prepare_lines(raw: tuple[str, ...] | list[str], vocabulary: Vocabulary) -> list[str]:
    """Canonical checkbox glyphs; placeholder texts and bare leader runs emptied."""
    long_placeholders = [fold(p) for p in vocabulary.placeholders if " " in p.strip()]
    whole = {fold(p).strip(" .") for p in vocabulary.placeholders}
    out = []
    for line in raw:
        cells = []
        for cell in canonical_glyphs(line).split(CELL_SEPARATOR):
            folded = fold_aligned(cell)
            for placeholder in long_placeholders:
                if placeholder in folded:
                    cell, folded = _remove(cell, folded, placeholder)
            if fold(cell).strip(" .") in whole or _LEADER_ONLY.match(cell):
                cell = ""
            cell = _over_dots(cell)
            cells.append(" ".join(_overtyped(word) for word in cell.split()))
        out.append(CELL_SEPARATOR.join(cells))
    return out


_DOTS_RUN = re.compile(r"\.{4,}")
_DOUBLE_DOT_INSIDE = re.compile(r"[^\W_]\.{2,}(?=[^\W_])")


def _over_dots(cell: str) -> str:
    """Text typed over a dotted leader in a PDF editor comes out interleaved with the dots
    ("....A..s.s..o..c"): the dots from the leader on are the blank's, not the value's.
    Detected by several double dots between letters, which values do not have ("A.P.S.",
    "www.x.it" keep theirs)."""
    leader = _DOTS_RUN.search(cell)
    if leader is None:
        return cell
    tail = cell[leader.start():]
    if len(_DOUBLE_DOT_INSIDE.findall(tail)) < 3:
        return cell
    # where the leader ends inside a typed word, the reader saw a gap: "Gessa. te" is "Gessate"
    tail = re.sub(r"(?<=[^\W\d_])\. (?=[a-zà-ù])", "", tail)
    return cell[: leader.start()] + " " + tail.replace(".", "")


def _overtyped(word: str) -> str:
    """A word typed over an underscored blank ("__M_a_r_i_o___") without the underscores; an
    e-mail address keeps its own."""
    if "_" not in word or not any(c.isalnum() for c in word):
        return word
    return word.strip("_") if "@" in word else word.replace("_", "")


def _remove(cell: str, folded: str, placeholder: str) -> tuple[str, str]:
    index = folded.find(placeholder)
    end = index + len(placeholder)
    return cell[:index] + cell[end:], folded[:index] + folded[end:]


_CAP = re.compile(r"(?<![\w.])c\.?\s*a\.?\s*p\.?\s*[:\t.]?\s*(\d{5})(?!\d)", re.IGNORECASE)
_PROVINCE = re.compile(r"(?<![\w])prov(?:incia|\.)?\s*[:\t]?\s*\(?([A-Za-z]{2})\)?\s*$",
                       re.IGNORECASE)


_PLACE_GIVEN = re.compile(r"(?<!\d)\d{5}(?!\d)|,\s*[^\W\d_][^,]*$")


def _complete_sede(sede: str, comune: str | None, lines: list[str]) -> str:
    """ "Via Roma 1" + separate CAP, Comune and Provincia rows -> one address line.

    Only a bare street address is completed: one that already names a CAP or a place keeps
    its own (a comune from another label, e.g. a birthplace, is never appended).
    """
    if comune is None or find_comune(sede) is not None or _PLACE_GIVEN.search(sede):
        return sede
    text = "\n".join(lines)
    cap = _CAP.search(text)
    province = next((m.group(1).upper() for line in lines
                     if (m := _PROVINCE.search(line.replace(CELL_SEPARATOR, " ")))), None)
    return (f"{sede}, {cap.group(1) + ' ' if cap else ''}{comune}"
            f"{f' ({province})' if province else ''}")


def _select(candidates: list[Candidate], vocabulary: Vocabulary,
            lines: list[str]) -> Selection:
    selection = Selection()
    referente = [c for c in candidates if c.field == "referente"]
    ordinary = [c for c in candidates if not (c.field == "referente" and same_person(c.text))]
    for name in FIELDS:
        choose(name, ordinary, vocabulary, selection)
    values = selection.values
    if values["denominazione"] and values["legale_rappresentante"] and same_words(
            values["denominazione"], values["legale_rappresentante"]):
        selection.warnings.append(f"denominazione «{values['denominazione']}» è il nome del "
                                  "legale rappresentante, non dell'ente: da verificare")
        values["denominazione"] = None
    if values["referente"] is None and values["legale_rappresentante"] and any(
            same_person(c.text) for c in referente):
        values["referente"] = values["legale_rappresentante"]
    if values["sede_legale"]:
        values["sede_legale"] = _complete_sede(values["sede_legale"], values["comune"], lines)
        values["comune"] = find_comune(values["sede_legale"]) or values["comune"]
        if values["comune"] is None:
            selection.warnings.append("comune della sede legale non riconosciuto: "
                                      f"{values['sede_legale']}")
    if values["natura_giuridica"] is None and values["denominazione"] and \
            "natura_giuridica" not in selection.invalid:
        values["natura_giuridica"] = natura_from_name(values["denominazione"])
    return selection


def same_words(one: str, other: str) -> bool:
    """The same words in any order: "Rossi Mario" is "Mario Rossi"."""
    return sorted(fold(one).split()) == sorted(fold(other).split())


def _status(selection: Selection, tavoli: tuple[Tavolo, ...], content: FormContent,
            warnings: list[str]) -> str:
    values = selection.values
    missing = [name for name in REQUIRED if not values[name]]
    if not tavoli:
        missing.append("tavoli")
    if not (values["email"] or values["pec"]):
        missing.append("contatto")
    if missing:
        warnings.append("dati obbligatori mancanti o non validi: "
                        + ", ".join(_READABLE[m] for m in missing))
    if selection.disputed:
        return "needs_review"
    if content.has_ocr_layer:
        warnings.append("testo ottenuto da riconoscimento ottico (OCR): verificare i dati")
        return "needs_review"
    return "incomplete" if missing else "complete"
