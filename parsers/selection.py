"""Choosing one value per field among the candidates found, with validation.

Structured candidates (table cells, "Label: value" lines) come before prose ones. Two different
valid values for a code or the PEC are a contradiction: the field stays empty and the form
goes to review. A 16-character (personal) codice fiscale is never taken as the
organisation's unless its label says it is the ente's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from parsers import codes
from parsers.labels import is_form_text
from parsers.natura import map_natura
from parsers.recipient import is_recipients, recipient_warning
from parsers.structured import Candidate
from parsers.vocabulary import Vocabulary, fold

STRICT_FIELDS = ("codice_fiscale", "partita_iva", "pec")
# fields whose value is free text the applicant writes: never the form's own words
_PEOPLE = ("legale_rappresentante", "referente")
_WRITTEN_FIELDS = ("denominazione", "sede_legale", "comune", "legale_rappresentante",
                   "referente")
_NAME_END = re.compile(
    r"\s*(?:,|;|\(|\bnat[oa]\b|\bc\.\s*f\.|\bcodice\s+fiscale|\bresidente|\btel\b|\btel\.|"
    r"\btelefono|\bcell|\be-?mail|\bpec\b|\s[-–—]\s|$)",
    re.IGNORECASE,
)
_PEC_DOMAIN = re.compile(r"@(?:[\w-]+\.)*(?:pec|legalmail|postecert|arubapec|cert|"
                         r"pecimprese|sicurezzapostale|gigapec|mypec|casellapec)\b")
_CODE_PIECE = re.compile(r"(?:IT)?[A-Za-z0-9]{11,16}")
_EMAIL_PIECE = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_PERSONAL_CODE = re.compile(r"^[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z]"
                            r"[0-9LMNPQRSTUV]{3}[A-Z]$")


@dataclass
class Selection:
    """The outcome of choosing: values, warnings, and which fields were invalid or disputed."""

    values: dict[str, str | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    invalid: set[str] = field(default_factory=set)
    disputed: set[str] = field(default_factory=set)


def split_combined(candidate: Candidate) -> str | None:
    """The part of a combined label's value that belongs to this candidate's field.

    E-mail and PEC in one cell are told apart by the domain (a certified-mail provider or
    not), never by the order of the labels; when that cannot decide, nothing is returned.
    """
    fields = [f for f in candidate.fields if f in ("codice_fiscale", "partita_iva", "email",
                                                   "pec")]
    if len(fields) < 2 or candidate.field not in fields:
        return candidate.text
    if candidate.field in ("email", "pec"):
        return _address_for(candidate.field, _EMAIL_PIECE.findall(candidate.text))
    found = _CODE_PIECE.findall(candidate.text)
    if len(found) == 1:
        return str(found[0])
    position = fields.index(candidate.field)
    return str(found[position]) if position < len(found) else None


def _address_for(field_name: str, found: list[str]) -> str | None:
    """The one address of ``found`` whose kind (certified or not) matches the field."""
    mine = [a for a in found if is_pec_address(a) == (field_name == "pec")]
    return mine[0] if len(mine) == 1 else None


def is_pec_address(address: str) -> bool:
    """Whether the address's domain is a certified-mail (PEC) provider's."""
    return bool(_PEC_DOMAIN.search(address.lower()))


def _split_warning(candidate: Candidate) -> str | None:
    """Why a combined e-mail/PEC value gave nothing for this field, when it held addresses."""
    if not {"email", "pec"} <= set(candidate.fields):
        return None
    found = _EMAIL_PIECE.findall(candidate.text)
    if not found or (len(found) == 1 and candidate.field == ("email" if is_pec_address(found[0])
                                                             else "pec")):
        return None
    return ("e-mail e PEC nella stessa casella non distinguibili dal dominio, "
            f"da verificare: {candidate.text.strip()}")


def _normaliser(name: str, vocabulary: Vocabulary) -> Callable[[str], tuple[str | None,
                                                                            str | None]]:
    table: dict[str, Callable[[str], tuple[str | None, str | None]]] = {
        "denominazione": codes.normalise_denominazione,
        "codice_fiscale": codes.normalise_codice_fiscale,
        "partita_iva": codes.normalise_partita_iva,
        "email": codes.normalise_email,
        "pec": codes.normalise_email,
        "telefono": codes.normalise_phone,
        "comune": codes.normalise_comune,
        "legale_rappresentante": lambda t: codes.normalise_name(_cut_name(
            codes.labelled_name(t))),
        "referente": lambda t: codes.normalise_name(_cut_name(codes.labelled_name(t))),
        "natura_giuridica": lambda t: map_natura(t, vocabulary),
        "sede_legale": lambda t: codes.normalise_sede(t)[::2],
    }
    return table[name]


def _organisation_name(text: str, vocabulary: Vocabulary) -> bool:
    words = set(re.findall(r"[^\W\d_]+", fold(_cut_name(codes.labelled_name(text)))))
    return bool(words & vocabulary.organisation_words)


def _cut_name(text: str) -> str:
    end = _NAME_END.search(text)
    return text[: end.start()] if end else text


def _valid(candidate: Candidate, vocabulary: Vocabulary,
           selection: Selection) -> str | None:
    text = split_combined(candidate)
    if text is None and (warning := _split_warning(candidate)):
        selection.warnings.append(warning)
    if text is None or fold(text).strip(" .") in {fold(p).strip(" .")
                                                  for p in vocabulary.placeholders}:
        return None
    if candidate.field in _WRITTEN_FIELDS and is_form_text(text, vocabulary):
        selection.warnings.append(f"{candidate.field.replace('_', ' ')}: «{text.strip()}» è "
                                  "testo del modulo (etichetta o suggerimento), non un valore")
        return None
    if candidate.field in _PEOPLE and _organisation_name(text, vocabulary):
        selection.warnings.append(f"{candidate.field.replace('_', ' ')}: «{text.strip()}» è il "
                                  "nome di un ente, non di una persona")
        return None
    value, warning = _normaliser(candidate.field, vocabulary)(text)
    if candidate.field == "codice_fiscale" and value and _PERSONAL_CODE.match(value) \
            and not candidate.org_label:
        selection.warnings.append(
            f"codice fiscale di persona fisica non attribuito all'ente: {value}")
        return None
    if value is not None and is_recipients(candidate.field, value, vocabulary):
        selection.warnings.append(recipient_warning(candidate.field, value))
        return None
    if warning and value is None and not candidate.tentative:
        selection.invalid.add(candidate.field)
        selection.warnings.append(warning)
    return value


def choose(name: str, candidates: list[Candidate], vocabulary: Vocabulary,
           selection: Selection) -> None:
    """Set ``selection.values[name]`` from the candidates for that field."""
    mine = [c for c in candidates if c.field == name]
    structured = _distinct(c for c in mine if c.kind != "narrative")
    narrative = _distinct(c for c in mine if c.kind == "narrative")
    values: list[str] = []
    for group in (structured, narrative):
        valid = list(dict.fromkeys(v for c in group if (v := _valid(c, vocabulary, selection))))
        if valid and not values:
            values = valid
        elif valid and name in STRICT_FIELDS and _key(valid[0]) != _key(values[0]):
            values = values + valid
    unique = list(dict.fromkeys(_key(v) for v in values))
    if len(unique) > 1 and name in STRICT_FIELDS:
        selection.disputed.add(name)
        selection.warnings.append(f"valori discordanti per {name.replace('_', ' ')}: "
                                  f"{', '.join(dict.fromkeys(values))}")
        selection.values[name] = None
        return
    selection.values[name] = values[0] if values else None
    if values:
        selection.invalid.discard(name)


def _distinct(items: Iterable[Candidate]) -> list[Candidate]:
    return list(dict.fromkeys(items))


def _key(value: str) -> str:
    return fold(value).replace(" ", "")

