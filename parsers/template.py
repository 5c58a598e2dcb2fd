"""Template-aware reading: the office's own blank form tells what the applicant wrote.

A *blank* (the published DOCX or PDF, read by the same readers as any submission) has *slots*:
an empty table cell after a label cell, a dotted or underscored leader, a label line whose
value line is empty. Each slot is placed by the label the blank has next to it (before it,
or, for "____ (cognome e nome)", the hint after it) and mapped to a canonical field through
the vocabulary's labels, or through the administrator's explicit mapping.

A filled document *follows* the blank when most of the blank's fixed lines are found in it, in
order. Then the value of each slot is what the filled line holds where the blank had its slot,
and nothing else: the blank's own words (labels, hints, instructions) never become values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from parsers.content import CELL_SEPARATOR
from parsers.labels import STOP, LabelMatcher
from parsers.structured import Candidate, label_groups
from parsers.vocabulary import fold, fold_aligned

MAX_LINE = 800  # characters of a filled line compared with a blank's line
FOLLOW_SHARE = 0.6  # share of the blank's fixed lines a filled form must contain, in order
_LEADER = re.compile(r"[.…_]{3,}(?:\s*[.…_]+)*")
_HINT = re.compile(r"^\s*\(([^()]{2,60})\)")
_SKELETON_JUNK = re.compile(r"[\s.…_:\t]+")


@dataclass(frozen=True)
class Slot:
    """A place of the blank where the applicant writes: line, cell, leader number, label."""

    line: int
    cell: int
    leader: int  # -1: the whole cell (an empty table cell or a bare "Label:" line's next line)
    label: str
    field: str | None  # canonical field, or None when the label maps to none


@dataclass(frozen=True)
class Template:
    """A blank form: its name, its lines (as the readers give them) and its slots."""

    name: str
    lines: tuple[str, ...]
    slots: tuple[Slot, ...]


def skeleton(line: str) -> str:
    """A line without leaders, colons and spaces: what blank and filled lines share."""
    return _SKELETON_JUNK.sub("", fold(line))


def build_template(name: str, lines: list[str] | tuple[str, ...], matcher: LabelMatcher,
                   mapping: Mapping[str, str] | None = None) -> Template:
    """The slots of a blank; ``mapping`` maps label skeletons to fields (the admin's choice)."""
    chosen = {skeleton(k): v for k, v in (mapping or {}).items()}
    slots: list[Slot] = []
    for index, line in enumerate(lines):
        cells = line.split(CELL_SEPARATOR)
        hint = _next_hint(lines, index)
        for position, cell in enumerate(cells):
            if position > 0 and not cell.strip() and cells[position - 1].strip():
                label = _with_hint(cells[position - 1].strip(" :_.…"), hint)
                slots.append(Slot(index, position, -1, label, _field(label, matcher, chosen)))
            for number, leader in enumerate(_LEADER.finditer(cell)):
                label = _with_hint(_leader_label(cell, leader), hint)
                slots.append(Slot(index, position, number, label,
                                  _field(label, matcher, chosen)))
    return Template(name, tuple(lines), tuple(slots))


def _next_hint(lines: list[str] | tuple[str, ...], index: int) -> str:
    """A hint printed under a blank: the next line is only "(cognome e nome)"."""
    if index + 1 < len(lines):
        match = _HINT.match(lines[index + 1])
        if match and not lines[index + 1][match.end():].strip():
            return match.group(1)
    return ""


def _with_hint(label: str, hint: str) -> str:
    return f"{label} ({hint})".strip() if hint else label


def _leader_label(cell: str, leader: re.Match[str]) -> str:
    before = _LEADER.split(cell[: leader.start()])[-1].strip(" :")
    hint = _HINT.match(cell[leader.end():])
    return f"{before} ({hint.group(1)})".strip() if hint else before


def _field(label: str, matcher: LabelMatcher, chosen: Mapping[str, str]) -> str | None:
    if skeleton(label) in chosen:
        return chosen[skeleton(label)]
    for group in label_groups(label, matcher):  # a "(via, CAP, città)" qualifier aside
        fields = [f for f in group.fields if f != STOP]
        if fields:
            return fields[0]
    return None


def follows(template: Template, lines: list[str]) -> bool:
    """Whether ``lines`` contain most of the blank's fixed lines, in the blank's order."""
    slotted = {s.line for s in template.slots}
    fixed = [skeleton(line) for i, line in enumerate(template.lines)
             if i not in slotted and skeleton(line)]
    if len(fixed) < 3:
        return False
    position, found = 0, 0
    filled = [skeleton(line) for line in lines]
    for wanted in fixed:
        try:
            position = filled.index(wanted, position) + 1
            found += 1
        except ValueError:
            continue
    return found >= FOLLOW_SHARE * len(fixed)


def slot_values(template: Template, lines: list[str]) -> list[tuple[Slot, str]]:
    """What the filled ``lines`` hold at each mapped slot of the blank (empty ones left out)."""
    out: list[tuple[Slot, str]] = []
    position = 0
    by_line: dict[int, list[Slot]] = {}
    for slot in template.slots:
        by_line.setdefault(slot.line, []).append(slot)
    for index in sorted(by_line):
        match = _matching_line(template.lines[index], lines, position)
        if match is None:
            continue
        position = match + 1
        for slot in by_line[index]:
            value = _value(template.lines[index], lines[match], slot)
            if value and slot.field:
                out.append((slot, value))
    return out


def _pattern(cell: str) -> re.Pattern[str]:
    """The blank's cell as a pattern: its fixed text literal, each leader a capture."""
    parts = []
    for number, piece in enumerate(_LEADER.split(cell)):
        if number:
            parts.append(r"[\s.…_]*(.*?)[\s.…_]*")
        words = [re.escape(w) for w in fold_aligned(piece).split()]
        parts.append(r"\s*".join(words))
    return re.compile(r"^\s*" + r"\s*".join(parts) + r"\s*$", re.DOTALL)


def _matching_line(blank: str, lines: list[str], start: int) -> int | None:
    cells = blank.split(CELL_SEPARATOR)
    for index in range(start, min(len(lines), start + 60)):
        if len(lines[index]) > MAX_LINE:
            continue  # no blank's line grows that long: not worth a costly match
        filled = lines[index].split(CELL_SEPARATOR)
        if len(cells) > 1:
            if len(filled) == len(cells) and skeleton(filled[0]) == skeleton(cells[0]):
                return index
        elif _pattern(blank).match(fold_aligned(lines[index])):
            return index
    return None


def _value(blank: str, filled: str, slot: Slot) -> str | None:
    cells, values = blank.split(CELL_SEPARATOR), filled.split(CELL_SEPARATOR)
    if len(cells) == 1:  # a fillable field inside a blank's line: one text again
        values = [" ".join(values)]
    if slot.cell >= len(values):
        return None
    if slot.leader < 0:
        value = values[slot.cell].strip()
        return value if skeleton(value) != skeleton(cells[slot.cell]) else None
    folded = fold_aligned(values[slot.cell])
    match = _pattern(cells[slot.cell]).match(folded)
    if match is None or slot.leader >= len(match.groups()):
        return None
    start, end = match.span(slot.leader + 1)
    value = values[slot.cell][start:end]
    if "_" in _LEADER.findall(cells[slot.cell])[slot.leader]:
        value = value.replace("_", "")  # typed over the blank's underscores
    value = " ".join(_LEADER.sub(" ", value).split()).strip(" .…_:")
    return value or None


def template_candidates(templates: tuple[tuple[str, tuple[str, ...]], ...],
                        labels: tuple[tuple[str, str], ...], lines: list[str],
                        matcher: LabelMatcher,
                        prepare: Callable[[tuple[str, ...]], list[str]],
                        ) -> tuple[list[Candidate], list[str]]:
    """Candidates read through the first blank the document follows, and a warning saying
    which reader was used (none when no blank is configured)."""
    if not templates:
        return [], []
    for name, blank in templates:
        template = build_template(name, prepare(blank), matcher, dict(labels))
        if not follows(template, lines):
            continue
        found = [Candidate(slot.field, value, slot.line, "cell", (slot.field,),
                           slot.field == "codice_fiscale" and "ente" in fold(slot.label))
                 for slot, value in slot_values(template, lines) if slot.field]
        return found, [f"letto con il modello dell'ufficio «{name}» "
                       f"({len(found)} campi dal modello, gli altri dal lettore generico)"]
    names = ", ".join(f"«{name}»" for name, _ in templates)
    return [], [f"il documento non segue il modello dell'ufficio ({names}): "
                "letto con il lettore generico"]
