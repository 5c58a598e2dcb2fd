"""Validation of the values staff type, with the parser's own normalisation
(:mod:`parsers.codes`, :mod:`parsers.natura`): a value the parser would refuse is refused.

Pure functions: text in, the normalised value (or :class:`CorrectionRefused`) out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from parsers import codes
from parsers.natura import map_natura
from parsers.vocabulary import NATURA_CODES, TAVOLO_CODES, Vocabulary, fold
from pec_ingest.desk.errors import CorrectionRefused
from store.base import CANONICAL_FIELDS

FIELDS = CANONICAL_FIELDS
# Names staff may type for a table, folded (accents and case ignored).
_TAVOLO_WORDS = {"famiglia": "famiglia", "poverta": "poverta", "autonomie": "autonomie",
                 "autonomia": "autonomie", "benessere familiare": "famiglia",
                 "contrasto alla poverta": "poverta", "promozione delle autonomie": "autonomie"}
_RANKED = re.compile(r"^(?P<name>[^:=]+?)\s*[:=]\s*(?P<rank>\d+)$")


@dataclass(frozen=True)
class Checked:
    """A validated value (``None`` clears the field) and a notice worth showing."""

    value: str | None
    notice: str | None = None


def _simple(normalise: Callable[[str | None], tuple[str | None, str | None]]
            ) -> Callable[[str, Vocabulary], Checked]:
    def check(text: str, vocabulary: Vocabulary) -> Checked:
        value, warning = normalise(text)
        if value is None:
            raise CorrectionRefused(warning or f"valore non valido: {text!r}")
        return Checked(value)
    return check


def _natura(text: str, vocabulary: Vocabulary) -> Checked:
    code = text.strip().lower()
    if code in NATURA_CODES:
        return Checked(code)
    value, warning = map_natura(text, vocabulary)
    if value is None:
        raise CorrectionRefused(f"{warning}; codici ammessi: {', '.join(NATURA_CODES)}")
    return Checked(value, f"natura giuridica «{text.strip()}» registrata come {value}")


def _sede(text: str, vocabulary: Vocabulary) -> Checked:
    sede, comune, warning = codes.normalise_sede(text)
    if sede is None:
        raise CorrectionRefused(warning or f"indirizzo non valido: {text!r}")
    if comune is None:
        return Checked(sede, f"{warning}: il comune resta da indicare con «comune»")
    return Checked(sede, f"comune riconosciuto nell'indirizzo: {comune} (il campo «comune» "
                         "si corregge a parte)")


_CHECKS: dict[str, Callable[[str, Vocabulary], Checked]] = {
    "denominazione": _simple(codes.normalise_denominazione),
    "natura_giuridica": _natura,
    "codice_fiscale": _simple(codes.normalise_codice_fiscale),
    "partita_iva": _simple(codes.normalise_partita_iva),
    "sede_legale": _sede,
    "comune": _simple(codes.normalise_comune),
    "legale_rappresentante": _simple(codes.normalise_name),
    "referente": _simple(codes.normalise_name),
    "email": _simple(codes.normalise_email),
    "pec": _simple(codes.normalise_email),
    "telefono": _simple(codes.normalise_phone),
}


def check_field(field: str, text: str, vocabulary: Vocabulary) -> Checked:
    """The normalised value of ``text`` for ``field``; an empty text clears the field."""
    if field not in _CHECKS:
        raise CorrectionRefused(f"campo sconosciuto {field!r}; campi: {', '.join(FIELDS)}")
    if not text.strip():
        return Checked(None, "campo svuotato")
    return _CHECKS[field](text, vocabulary)


def parse_tavoli(text: str) -> list[tuple[str, int | None]]:
    """``famiglia,poverta`` (plain choice) or ``autonomie:1,poverta:2`` (preference ranks).

    Codes or table names, accents and case ignored; every table at most once; either every
    table has a rank or none has, and ranks are distinct numbers from 1.
    """
    parts = [p.strip() for p in re.split(r"[,;]", text) if p.strip()]
    if not parts:
        raise CorrectionRefused("indicare almeno un tavolo: " + ", ".join(TAVOLO_CODES))
    chosen: list[tuple[str, int | None]] = []
    for part in parts:
        match = _RANKED.match(part)
        name, rank = (match["name"], int(match["rank"])) if match else (part, None)
        code = _TAVOLO_WORDS.get(" ".join(fold(name).removeprefix("area ").split()))
        if code is None:
            raise CorrectionRefused(f"tavolo sconosciuto «{name}»; tavoli: "
                                    + ", ".join(TAVOLO_CODES))
        chosen.append((code, rank))
    _check_choice(chosen)
    return sorted(chosen, key=lambda c: (c[1] is None, c[1] or 0, c[0]))


def _check_choice(chosen: list[tuple[str, int | None]]) -> None:
    codes_ = [c for c, _ in chosen]
    if len(set(codes_)) != len(codes_):
        raise CorrectionRefused("lo stesso tavolo è indicato due volte")
    ranks = [r for _, r in chosen if r is not None]
    if ranks and len(ranks) != len(chosen):
        raise CorrectionRefused("indicare la preferenza per tutti i tavoli o per nessuno "
                                "(es. autonomie:1,poverta:2)")
    if ranks and sorted(ranks) != list(range(1, len(ranks) + 1)):
        raise CorrectionRefused("le preferenze vanno numerate da 1 senza ripetizioni "
                                "(es. autonomie:1,poverta:2)")
