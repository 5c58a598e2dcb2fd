"""Label/value pairs from the structured layouts: table rows, "Label: value" lines, dotted
leaders, and a label line followed by its value line (e.g. a label paragraph and a content
control paragraph).

Every pair is a :class:`Candidate`; the extractor validates and chooses among them. An empty
cell or an empty "P.IVA:" is an explicit empty value: the next label is never taken as one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parsers.content import CELL_SEPARATOR, CHECKED, UNCHECKED
from parsers.labels import (
    STOP,
    Hit,
    LabelMatcher,
    following,
    qualified_fields,
    same_person,
    starts_with_function_word,
)

# a value ends where its clause ends: a comma or semicolon right before the next label
_CLAUSE_END = re.compile(r"[,;]\s*$")
MAX_LOOKAHEAD = 2  # blank lines skipped between a label line and its value line
_SEPARATOR_REACH = 200  # characters after a label searched for its colon


@dataclass(frozen=True)
class Candidate:
    """A raw value found for a field, and how it was found."""

    field: str
    text: str
    line: int
    kind: str  # cell | inline | nosep | next | column | narrative
    fields: tuple[str, ...] = ()  # all fields of a combined label ("C.F./P.IVA")
    org_label: bool = False  # the label says the code is the organisation's ("C.F. ente")
    tentative: bool = False  # a guess from sentence structure: dropped silently when invalid


@dataclass(frozen=True)
class Group:
    """One label, or several joined by "/" ("Telefono/Fax", "C.F./P.IVA"), and its span."""

    fields: tuple[str, ...]
    start: int
    end: int
    weak: bool
    org_label: bool


def label_groups(text: str, matcher: LabelMatcher) -> list[Group]:
    """Labels in ``text``, consecutive ones joined by "/", "-" or " e " into one group."""
    groups: list[Group] = []
    depth, scanned = 0, 0  # parentheses open before the hit, counted once left to right
    for hit in matcher.hits(text):
        depth += text.count("(", scanned, hit.start) - text.count(")", scanned, hit.start)
        scanned = hit.start
        if depth > 0 and not following(text[hit.end: hit.end + _SEPARATOR_REACH],
                                       hit.weak).separated:
            continue  # "Sede legale (indirizzo, CAP, comune)": a qualifier, not a label
        if groups and _joins(text[groups[-1].end: hit.start]):
            last = groups[-1]
            groups[-1] = Group((*last.fields, hit.field), last.start, hit.end,
                               last.weak and hit.weak, last.org_label or _org(text, hit))
        else:
            groups.append(Group((hit.field,), hit.start, hit.end, hit.weak, _org(text, hit)))
    return groups


def _qualified(group: Group, qualifier: str) -> Group:
    fields = qualified_fields(group.fields, qualifier)
    if fields == group.fields:
        return group
    return Group(fields, group.start, group.end, group.weak, group.org_label)


def _joins(between: str) -> bool:
    return between.strip() in ("/", "-", "e", "o", "/ ", "\\", "|", "&")


def _org(text: str, hit: Hit) -> bool:
    label = text[hit.start: hit.end].casefold()
    return hit.field == "codice_fiscale" and ("ente" in label or "organizzazione" in label)


def _fields(group: Group) -> tuple[str, ...]:
    return tuple(f for f in group.fields if f != STOP)


def is_label_only(text: str, matcher: LabelMatcher) -> bool:
    """Whether ``text`` is a label and nothing else (a colon or leaders may follow)."""
    groups = label_groups(text, matcher)
    if not groups or text[: groups[0].start].strip(" \t0123456789.)-•*"):
        return False
    return not following(text[groups[-1].end:], groups[-1].weak).value and len(groups) <= 3


_PERSON_ROW = re.compile(r"^\s*(?:nome\s+e\s+cognome|cognome\s+e\s+nome|nominativo)\s*"
                         r"(?:[:\t]|\.{2,})\s*(?P<v>.+)$", re.IGNORECASE)
_PEOPLE = ("legale_rappresentante", "referente")


_NAME_PART = re.compile(r"^\s*(?P<part>cognome|nome)\s*(?:[:\t]|\.{2,})\s*(?P<v>[^\t]+)$",
                        re.IGNORECASE)


def person_rows(lines: list[str], matcher: LabelMatcher) -> list[Candidate]:
    """ "Nome e cognome: X", or "Cognome: X" and "Nome: Y" rows, under a "Dati del legale
    rappresentante" (or referente) heading."""
    found: list[Candidate] = []
    section: str | None = None
    parts: dict[str, str] = {}
    for index, line in enumerate(lines):
        match = _PERSON_ROW.match(line)
        part = _NAME_PART.match(line)
        if match and section:
            found.append(Candidate(section, match.group("v").strip(" \t"), index, "cell",
                                   (section,)))
            continue
        if part and section:
            parts[part.group("part").lower()] = part.group("v").strip(" \t")
            if len(parts) == 2:
                found.append(Candidate(section, f"{parts['nome']} {parts['cognome']}", index,
                                       "cell", (section,)))
            continue
        fields = {h.field for h in matcher.hits(line)}
        people = [f for f in _PEOPLE if f in fields]
        if people and ":" not in line and CELL_SEPARATOR not in line.strip():
            section, parts = people[0], {}
        elif fields - {STOP, *_PEOPLE}:
            section = None
    return found


def structured_candidates(lines: list[str], matcher: LabelMatcher) -> list[Candidate]:
    """All label/value candidates of the structured layouts, in document order."""
    found: list[Candidate] = person_rows(lines, matcher)
    for index, line in enumerate(lines):
        cells = line.split(CELL_SEPARATOR)
        if len(cells) > 1 and _column_header(cells, matcher):
            found += _column_values(lines, index, cells, matcher)
            continue
        for position, cell in enumerate(cells):
            found += _cell_candidates(lines, index, cells, position, cell, matcher)
    return found


def _cell_candidates(lines: list[str], index: int, cells: list[str], position: int, cell: str,
                     matcher: LabelMatcher) -> list[Candidate]:
    groups = label_groups(cell, matcher)
    if not groups or cell[: groups[0].start].strip(" 0123456789.)-•*\u2610\u2612"):
        return _separated_inline(index, cell, groups)
    first = _qualified(groups[0], following(cell[groups[0].end:], groups[0].weak).qualifier)
    out: list[Candidate] = []
    after = following(cell[first.end:])
    if after.value and not after.separated and _filled_next(cells, position):
        # a label cell with words after its label ("CODICE FISCALE DEL SOGGETTO") and the
        # value in the next cell: those words qualify the label, they are not the value
        out += _next_cell(index, cells, position, first, matcher)
    elif after.value:
        out += _inline(index, cell, groups)
    elif position + 1 < len(cells):
        out += _next_cell(index, cells, position, first, matcher)
    elif len(cells) == 1:
        out += _next_line(lines, index, first, matcher)
    return out


def _filled_next(cells: list[str], position: int) -> bool:
    return position + 1 < len(cells) and bool(cells[position + 1].strip())


def _inline(index: int, cell: str, groups: list[Group]) -> list[Candidate]:
    """ "Label: value" (several per cell when each label has its colon)."""
    out = []
    for number, group in enumerate(groups):
        if number > 0 and not following(cell[group.end:], group.weak).separated:
            continue
        end = next((g.start for g in groups[number + 1:]
                    if following(cell[g.end:], g.weak).separated
                    or _CLAUSE_END.search(cell, group.end, g.start)), len(cell))
        after = following(cell[group.end: end], group.weak)
        if not after.value:
            continue
        group = _qualified(group, after.qualifier)
        kind = "inline" if after.separated else "nosep"
        if kind == "nosep" and (number > 0 or group.weak or (
                starts_with_function_word(after.value) and not same_person(after.value))):
            continue
        out += _make(group, after.value, index, kind)
    return out


def _separated_inline(index: int, cell: str, groups: list[Group]) -> list[Candidate]:
    """Labels in the middle of a cell count only with a colon after them."""
    return [c for c in _inline(index, cell, groups) if c.kind == "inline"] if groups else []


def _next_cell(index: int, cells: list[str], position: int, group: Group,
               matcher: LabelMatcher) -> list[Candidate]:
    for cell in cells[position + 1:]:
        if not cell.strip():
            continue
        if matcher.leading(cell) is not None and (is_label_only(cell, matcher) or
                                                  following(cell).separated):
            return []
        return _make(group, cell.strip(), index, "cell")
    return []


def _next_line(lines: list[str], index: int, group: Group,
               matcher: LabelMatcher) -> list[Candidate]:
    for offset in range(1, MAX_LOOKAHEAD + 2):
        if index + offset >= len(lines):
            return []
        line = lines[index + offset].strip()
        if not line:
            continue
        if line.startswith((CHECKED, UNCHECKED)) and "natura_giuridica" in group.fields:
            return _make(group, _option_lines(lines, index + offset), index + offset, "next")
        if CELL_SEPARATOR in line or line.startswith((CHECKED, UNCHECKED)):
            return []
        if matcher.leading(line) is not None:
            return []
        return _make(group, line, index + offset, "next")
    return []


def _option_lines(lines: list[str], start: int) -> str:
    """Consecutive lines of ticked/unticked options, joined ("☐ ODV ☒ APS")."""
    options = []
    for line in lines[start:start + 12]:
        if not line.strip().startswith((CHECKED, UNCHECKED)):
            break
        options.append(line.strip())
    return " ".join(options)


def _column_header(cells: list[str], matcher: LabelMatcher) -> bool:
    filled = [c for c in cells if c.strip()]
    return len(filled) >= 2 and all(is_label_only(c, matcher) for c in filled)


def _column_values(lines: list[str], index: int, cells: list[str],
                   matcher: LabelMatcher) -> list[Candidate]:
    if index + 1 >= len(lines):
        return []
    values = lines[index + 1].split(CELL_SEPARATOR)
    if len(values) != len(cells) or any(matcher.leading(v) for v in values if v.strip()):
        return []
    out = []
    for header, value in zip(cells, values, strict=True):
        groups = label_groups(header, matcher)
        if groups and value.strip():
            out += _make(groups[0], value.strip(), index + 1, "column")
    return out


def _make(group: Group, value: str, line: int, kind: str) -> list[Candidate]:
    fields = _fields(group)
    return [Candidate(field, value, line, kind, fields, group.org_label) for field in fields]
