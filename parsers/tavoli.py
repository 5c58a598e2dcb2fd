"""Which Tavoli d'area the form chooses, and in which order of preference.

A table is named by one of the vocabulary's phrases (full or shortened) and marked by what
stands next to it: ☒ (or X, x, SI) for chosen, ☐ (or NO, –, nothing) for not chosen, or a rank
1-3. Whether markers come before or after the names is read per line from the first item.
Nothing is marked chosen when the marks contradict each other or cannot be told from a
numbered list: the table is left out and a warning says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parsers.content import CELL_SEPARATOR, CHECKED, UNCHECKED
from parsers.labels import LabelMatcher, fold_aligned
from parsers.vocabulary import TAVOLO_CODES, Vocabulary, fold

ON, OFF = "on", "off"
_MARKER = re.compile(
    rf"(?P<on>{CHECKED}|(?<![\w'’])[xX](?![\w'’])|(?<![\w])(?:SI|SÌ|SÍ|Si|Sì)'?(?![\w]))"
    rf"|(?P<off>{UNCHECKED}|(?<![\w])NO(?![\w])|(?<![\w\d])[–—-](?![\w\d]))"
    r"|(?<![\w.,/:°])(?P<rank>[1-9])\s*(?:°|º|\^)?\s*[.)]?(?![\w.,/:°])(?!\s*[^\W\d_])"
)
# "1. Area ..." / "a) ...": the list's own numbering at the start of a line, never a mark
_LIST_NUMBER = re.compile(r"^\s*(?:[1-9]|[a-c])\s*[.)](?=\s)")
_NUMBERING = re.compile(r"(?:tavolo|area|n\.|nr\.?|numero)\s*$")
_RANKED_FORM = re.compile(r"preferenz|priorit|ordine di|1\s*=\s*prima|graduatori|in ordine")
_CELL_MARK = {"si": ON, "sì": ON, "sí": ON, "x": ON, "no": OFF, "-": OFF, "–": OFF}


@dataclass(frozen=True)
class Mark:
    code: str
    state: str  # on | off | none | rank
    rank: int | None
    line: int


@dataclass(frozen=True)
class Choice:
    codes: tuple[tuple[str, int | None], ...]  # (code, rank) ordered
    ranked: bool
    warnings: tuple[str, ...]


def _phrase_regex(vocabulary: Vocabulary) -> tuple[re.Pattern[str], list[str]]:
    entries = sorted(((code, fold(p)) for code, phrases in vocabulary.tavoli.items()
                      for p in phrases), key=lambda e: len(e[1]), reverse=True)
    body = "|".join(f"({re.escape(p)})" for _, p in entries)
    return re.compile(rf"(?<![\w])(?:{body})(?![\w])"), [code for code, _ in entries]


def _markers(text: str, ranked: bool) -> list[tuple[int, str, int | None]]:
    found: list[tuple[int, str, int | None]] = []
    for match in _MARKER.finditer(text):
        if match.group("rank"):
            if not ranked or _NUMBERING.search(fold(text[: match.start()])):
                continue
            found.append((match.start(), "rank", int(match.group("rank"))))
        else:
            found.append((match.start(), ON if match.group("on") else OFF, None))
    for cell in text.split(CELL_SEPARATOR):
        state = _CELL_MARK.get(fold(cell.strip()))
        if state and not any(m[1] != "rank" for m in found):
            found.append((text.find(cell), state, None))
    return sorted(found)


def _line_marks(index: int, text: str, phrases: re.Pattern[str], codes: list[str],
                ranked: bool) -> list[Mark]:
    folded = fold_aligned(text)
    hits = [(m.start(), m.end(), codes[(m.lastindex or 1) - 1]) for m in phrases.finditer(folded)]
    if not hits:
        return []
    masked = "".join(" " if any(s <= i < e for s, e, _ in hits) else c
                     for i, c in enumerate(text))
    masked = _LIST_NUMBER.sub(lambda m: " " * len(m.group(0)), masked)
    markers = _markers(_pair_yes_no(masked), ranked)
    if len(markers) <= 1 or len({code for _, _, code in hits}) == 1:
        longest = max(hits, key=lambda h: h[1] - h[0])
        if len({c for s, e, c in hits if e - s == longest[1] - longest[0]}) > 1:
            return []
        return [_mark(longest[2], _strongest(markers), index)]
    prefix = markers[0][0] < hits[0][0]
    out = []
    for number, (start, end, code) in enumerate(hits):
        if prefix:
            low = hits[number - 1][1] if number else 0
            zone = [m for m in markers if low <= m[0] < start]
            out.append(_mark(code, zone[-1] if zone else None, index))
        else:
            high = hits[number + 1][0] if number + 1 < len(hits) else len(text)
            zone = [m for m in markers if end <= m[0] < high]
            out.append(_mark(code, zone[0] if zone else None, index))
    return out


def _pair_yes_no(text: str) -> str:
    """ "☒ SI ☐ NO" and "SI ☐ NO ☒": a box labelled SI or NO means what its label says."""
    def box_first(match: re.Match[str]) -> str:
        yes = fold(match.group(2)).startswith("s")
        return (CHECKED if yes else UNCHECKED) if match.group(1) == CHECKED else " "

    def word_first(match: re.Match[str]) -> str:
        yes = fold(match.group(1)).startswith("s")
        return (CHECKED if yes else UNCHECKED) if match.group(2) == CHECKED else " "

    text = re.sub(rf"({CHECKED}|{UNCHECKED})\s*(SI|SÌ|Sì|Si|NO|No)'?(?![\w])", box_first, text)
    return re.sub(rf"(?<![\w])(SI|SÌ|Sì|Si|NO|No)'?\s*:?\s*({CHECKED}|{UNCHECKED})",
                  word_first, text)


def _strongest(markers: list[tuple[int, str, int | None]]) -> tuple[int, str, int | None] | None:
    """Among several marks of one table, a box or X wins over a number, ON over OFF."""
    for state in (ON, OFF, "rank"):
        for marker in markers:
            if marker[1] == state:
                return marker
    return None


def _mark(code: str, marker: tuple[int, str, int | None] | None, line: int) -> Mark:
    if marker is None:
        return Mark(code, "none", None, line)
    return Mark(code, marker[1], marker[2], line)


def find_tavoli(lines: list[str], vocabulary: Vocabulary, matcher: LabelMatcher) -> Choice:
    """The chosen tables from the document's lines."""
    phrases, codes = _phrase_regex(vocabulary)
    ranked = bool(_RANKED_FORM.search(fold(" ".join(lines))))
    marks, done = _yes_no_marks(lines, phrases, codes)
    for index, line in enumerate(lines):
        if index in done or len(line) > 300 or _has_field_label(line, matcher):
            continue
        marks += _line_marks(index, line, phrases, codes, ranked)
    marks += _column_marks(lines, phrases, codes)
    return _decide(marks)


def _yes_no_header(line: str) -> tuple[int, int] | None:
    """The (SI, NO) column indexes of a header row such as "Tavolo | SI | NO"."""
    cells = [fold(c).strip(" '.:") for c in line.split(CELL_SEPARATOR)]
    yes = [i for i, c in enumerate(cells) if c in ("si", "sì")]
    no = [i for i, c in enumerate(cells) if c == "no"]
    return (yes[0], no[0]) if len(yes) == 1 and len(no) == 1 else None


def _yes_no_marks(lines: list[str], phrases: re.Pattern[str],
                  codes: list[str]) -> tuple[list[Mark], set[int]]:
    """Rows under a SI/NO header: a mark in the NO column means "not chosen"."""
    marks: list[Mark] = []
    done: set[int] = set()
    for index, line in enumerate(lines):
        columns = _yes_no_header(line)
        if columns is None:
            continue
        width = len(line.split(CELL_SEPARATOR))
        for row in range(index + 1, len(lines)):
            cells = lines[row].split(CELL_SEPARATOR)
            if len(cells) != width:
                break
            found = {codes[(m.lastindex or 1) - 1] for m in phrases.finditer(fold(lines[row]))}
            if len(found) != 1:
                continue
            done.add(row)
            code = found.pop()
            yes, no = (_ticked(cells[c]) for c in columns)
            states = [ON] * yes + [OFF] * no or ["none"]
            marks += [Mark(code, state, None, row) for state in states]
    return marks, done


def _ticked(cell: str) -> bool:
    return any(m[1] == ON for m in _markers(cell, False))


def _has_field_label(line: str, matcher: LabelMatcher) -> bool:
    return any(not hit.weak and hit.field != "_stop" for hit in matcher.hits(line))


def _column_marks(lines: list[str], phrases: re.Pattern[str], codes: list[str]) -> list[Mark]:
    out = []
    for index, line in enumerate(lines[:-1]):
        cells = line.split(CELL_SEPARATOR)
        below = lines[index + 1].split(CELL_SEPARATOR)
        if len(cells) < 2 or len(below) != len(cells):
            continue
        named = [phrases.search(fold(c)) for c in cells]
        if sum(1 for m in named if m) < 2 or _markers(lines[index + 1], True) == []:
            continue
        for match, cell in zip(named, below, strict=True):
            if match:
                found = _markers(cell, True)
                code = codes[(match.lastindex or 1) - 1]
                out.append(_mark(code, found[0] if found else None, index + 1))
    return out


def _decide(marks: list[Mark]) -> Choice:
    warnings: list[str] = []
    explicit = [m for m in marks if m.state != "none"]
    if not explicit:
        if marks:
            warnings.append("tavoli d'area elencati ma nessuno risulta barrato")
        return Choice((), False, tuple(warnings))
    chosen: list[tuple[str, int | None]] = []
    ranked = any(m.state == "rank" for m in explicit)
    for code in TAVOLO_CODES:
        states = {(m.state, m.rank) for m in explicit if m.code == code}
        on = {s for s in states if s[0] in (ON, "rank")}
        if (on and any(s[0] == OFF for s in states)) or len(on) > 1:
            warnings.append(f"indicazione contraddittoria per il tavolo {code}: da verificare")
        elif on:
            chosen.append((code, next(iter(on))[1]))
    ranks = [r for _, r in chosen if r is not None]
    if len(ranks) != len(set(ranks)):
        warnings.append("lo stesso ordine di preferenza è indicato per più tavoli")
    if ranked:
        chosen.sort(key=lambda c: (c[1] is None, c[1] or 0))
    return Choice(tuple(chosen), ranked, tuple(warnings))
