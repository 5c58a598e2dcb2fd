"""Finding labels in text: which canonical field a piece of text names, and where.

A :class:`LabelMatcher` is built from a :class:`~parsers.vocabulary.Vocabulary`; it finds every
label variant in a line (case- and accent-insensitive, longest variant first) and tells what
follows it: a separator (colon, dotted leader, a short qualifier ending in a colon), a value
written straight after the label, or nothing (the value is in the next cell or line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from parsers.vocabulary import FUNCTION_WORDS, Vocabulary, fold, fold_aligned

__all__ = ["fold_aligned"]

STOP = "_stop"  # pseudo-field of labels that end a value but are not returned

_SEPARATOR = re.compile(
    r"^\s*(?:\((?P<paren>[^()]{0,60})\))?\s*\*?\s*(?P<sep>[:：=]|\.{2,}|…+|_{2,}|-{1,2}>|–|—)?"
)
# a short lowercase qualifier between a label and its colon: "Referente per i tavoli:"
_FILLER_COLON = re.compile(r"^\s*(?:[a-zà-ù'’/.]+\s+){0,6}[a-zà-ù'’/.]*\s*:")
_LEADERS = re.compile(r"^[\s.…_:*]+|\s*(?:[.…_]{2,}|[…_*])[\s.…_*]*$|\s+$")
_SAME_PERSON = re.compile(r"(?<![\w])(?:stess[oa]|medesim[oa]|idem|come sopra|sottoscritt[oa]|"
                          r"legale rappresentante|rappresentante legale|presidente|vedi sopra)")
_FUNCTION_WORD = re.compile(
    r"^(?:di|del|della|dello|dell'|dei|degli|delle|in|a|al|alla|ai|per|e|ed|con|che|il|la|"
    r"lo|le|gli|da|dal|su|sul|come|quale|o|non|nel|nella|si|se|è)\b",
)


@dataclass(frozen=True)
class Hit:
    """A label found in a text: the field it names and its span."""

    field: str
    start: int
    end: int
    weak: bool

    def group_key(self) -> str:
        return self.field


@dataclass(frozen=True)
class Following:
    """What comes after a label inside the same piece of text."""

    value: str  # the text after the separator (leaders stripped); may be empty
    separated: bool  # a colon, a dotted leader or a qualifier ending in a colon came first
    qualifier: str = ""  # folded words between the label and its colon: "(pec)", "certificata"


def _variant_pattern(variant: str) -> str:
    folded = fold(variant).strip()
    parts = []
    for char in folded:
        if char == " ":
            parts.append(r"\s*")
        elif char == "-":
            parts.append(r"[-\s]?")
        elif char == "'":
            parts.append(r"'\s*")
        elif char == ".":
            parts.append(r"\.\s*")
        else:
            parts.append(re.escape(char))
    return "".join(parts).removesuffix(r"\s*")


@lru_cache(maxsize=16)
def _compile(entries: tuple[tuple[str, str], ...], weak_labels: tuple[str, ...],
             ) -> tuple[tuple[str, ...], tuple[bool, ...], re.Pattern[str]]:
    """The fields, weak flags and regular expression of (field, variant) label entries, the
    longest variant first. Kept for the few vocabularies a process uses (configuration, not
    documents): building the expression costs more than reading a short form."""
    ordered = sorted(entries, key=lambda e: len(fold(e[1])), reverse=True)
    weak = {fold(w) for w in weak_labels}
    body = "|".join(f"({_variant_pattern(v)})" for _, v in ordered)
    guard = _first_character([v for _, v in ordered])
    return (tuple(field for field, _ in ordered),
            tuple(fold(v).strip() in weak for _, v in ordered),
            re.compile(rf"(?<![\w.@]){guard}(?:{body})(?![\w@])"))


def _first_character(variants: list[str]) -> str:
    """A lookahead for the characters variants begin with: the expression skips the other
    places before trying each alternative there. Empty when some variant may begin anywhere
    (an empty one, or one whose leading hyphen is optional)."""
    folded = [fold(v).strip() for v in variants]
    firsts = {f[0] for f in folded if f}
    if not all(folded) or "-" in firsts:
        return ""
    return f"(?=[{re.escape(''.join(sorted(firsts)))}])"


class LabelMatcher:
    """All label variants of a vocabulary in one regular expression.

    Make one per document: it remembers the hits of each text it has seen (the extractor's
    passes ask about the same lines again and again), and forgets them with the document."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        entries = tuple(
            (field, variant)
            for field, variants in vocabulary.labels.items() for variant in variants
        ) + tuple((STOP, variant) for variant in vocabulary.stop_labels)
        self._fields, self._weak, self._regex = _compile(entries, tuple(vocabulary.weak_labels))
        self._seen: dict[str, tuple[Hit, ...]] = {}

    def hits(self, text: str) -> list[Hit]:
        """Every label in ``text``, left to right, not overlapping."""
        found = self._seen.get(text)
        if found is None:
            found = self._seen[text] = tuple(self._find(text))
        return list(found)

    def _find(self, text: str) -> list[Hit]:
        found = []
        for match in self._regex.finditer(fold_aligned(text)):
            index = (match.lastindex or 1) - 1
            found.append(Hit(self._fields[index], match.start(), match.end(), self._weak[index]))
        return found

    def leading(self, text: str) -> Hit | None:
        """The label that starts ``text`` (after numbering such as ``1.`` or ``a)``), if any."""
        stripped = re.match(r"^\s*(?:[\dA-Za-z][.)]\s+|[-•*]\s*)?", text)
        offset = stripped.end() if stripped else 0
        for hit in self.hits(text[: offset + 120]):
            if hit.start == offset:
                return hit
            break
        return None


def following(text: str, weak: bool = False) -> Following:
    """Split what follows a label into separator and value.

    A weak label ("indirizzo", "ente", "comune"...) takes no filler words before its colon:
    "Indirizzo di residenza:", "Ente capofila:", "Comune di nascita:" are other labels.
    """
    match = _SEPARATOR.match(text)
    rest = text[match.end():] if match else text
    separated = bool(match and match.group("sep"))
    qualifier = (match.group("paren") or "") if match else ""
    if not separated and not weak:
        filler = _FILLER_COLON.match(rest)
        if filler:
            qualifier = f"{qualifier} {rest[:filler.end()]}"
            rest, separated = rest[filler.end():], True
    value = _LEADERS.sub("", rest)
    return Following(value=" ".join(value.split()), separated=separated,
                     qualifier=fold(qualifier).strip())


_CERTIFIED = re.compile(r"(?<![\w])(?:pec|p\.\s*e\.\s*c|certificat[ao])(?![\w])")


def qualified_fields(fields: tuple[str, ...], qualifier: str) -> tuple[str, ...]:
    """ "Indirizzo e-mail (PEC):", "E-mail certificata:": the qualifier makes it the PEC."""
    if "email" in fields and "pec" not in fields and _CERTIFIED.search(qualifier):
        return tuple("pec" if f == "email" else f for f in fields)
    return fields


def starts_with_function_word(text: str) -> bool:
    """Whether ``text`` goes on as a sentence ("di ...", "in ...") rather than a value.

    Only lowercase words count: "Il Girasole" is a name, "il legale rappresentante" is not.
    """
    text = text.strip()
    return bool(_FUNCTION_WORD.match(text)) or text.startswith("dell'")


def same_person(text: str) -> bool:
    """Whether a "Referente" value says "the representative" ("lo stesso", "idem"...)."""
    return bool(_SAME_PERSON.search(fold(text)))


_TOKEN = re.compile(r"[^\W\d_]+|\d+")


def is_form_text(text: str, vocabulary: Vocabulary) -> bool:
    """Whether ``text`` is the form's own words (a label, a hint, a placeholder), not a value.

    True when more than half of its words (articles and prepositions aside) are label, hint or
    placeholder vocabulary: "cognome e nome", "Città", "(se posseduta)", "indicare un recapito".
    """
    if text.lstrip().startswith(("\u2610", "\u2612")):
        return True  # a checkbox caption ("☐ SUE") is the form's
    words = [w for w in _TOKEN.findall(fold(text)) if w not in FUNCTION_WORDS]
    if not words:
        return False
    own = sum(1 for w in words if w in vocabulary.form_words)
    return own * 2 > len(words)  # numbers (house number, CAP) are the applicant's writing
