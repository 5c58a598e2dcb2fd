"""Legal form: free text ("Associazione di promozione sociale", "Coop. soc.") to one code.

From the "Natura giuridica" value, the longest keywords of the vocabulary win; a generic word
gives way to a specific one found with it ("Associazione ... di volontariato" is ``odv``). When
the form has no such value, the code is inferred from the name only on unambiguous marks of
a legal form ("APS", "ODV", "Cooperativa sociale", "Fondazione ...", "Parrocchia ...",
"Istituto Comprensivo", "Azienda speciale", "Comune di ..."): a plain "Associazione",
"Gruppo" or "Circolo" could be any of several forms and gives nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache

from parsers.content import CHECKED, UNCHECKED
from parsers.vocabulary import Vocabulary, fold

# A generic code gives way when a more specific one is found in the same text.
_YIELDS = {"associazione": ("odv", "aps", "fondazione", "ente_religioso", "scuola"),
           "impresa_sociale": ("coop_sociale",),
           "altro": ("odv", "aps", "coop_sociale", "fondazione", "impresa_sociale",
                     "ente_religioso", "associazione", "scuola", "ente_pubblico"),
           "ente_pubblico": ("scuola",)}

_FROM_NAME = (
    ("aps", r"(?<![\w.])(?:aps|a\.\s*p\.\s*s\.?)(?![\w])|promozione sociale"),
    ("odv", r"(?<![\w.])(?:odv|o\.\s*d\.\s*v\.?)(?![\w])|organizzazione di volontariato"),
    ("coop_sociale", r"cooperativa sociale|coop\.?\s*soc(?:\.|iale)"),
    ("impresa_sociale", r"impresa sociale"),
    ("fondazione", r"^fondazione\b"),
    ("ente_religioso", r"^parrocchia\b"),
    ("scuola", r"istituto comprensivo|^i\.\s*c\.\s|^istituto (?:di istruzione|scolastico|tecnico|"
               r"professionale|superiore)|^liceo\b|^scuola\b|^direzione didattica"),
    ("ente_pubblico", r"azienda speciale|^comune di\b|^unione dei comuni"),
)


@lru_cache(maxsize=16)
def _keywords(natura: tuple[tuple[str, tuple[str, ...]], ...],
              ) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(code, expression) of every keyword, longest first. Kept for the few vocabularies a
    process uses (configuration, not documents)."""
    entries = sorted(((code, fold(k)) for code, words in natura for k in words),
                     key=lambda e: len(e[1]), reverse=True)
    return tuple((code, re.compile(rf"(?<![\w]){re.escape(keyword)}(?![\w])"))
                 for code, keyword in entries)


def natura_codes(text: str, vocabulary: Vocabulary) -> set[str]:
    """The codes whose keywords occur in ``text`` (longest keywords first, no overlap)."""
    folded = fold(text)
    taken = [False] * len(folded)
    codes: set[str] = set()
    for code, keyword in _keywords(tuple((c, tuple(w)) for c, w in vocabulary.natura.items())):
        for match in keyword.finditer(folded):
            if any(taken[match.start(): match.end()]):
                continue
            taken[match.start(): match.end()] = [True] * (match.end() - match.start())
            codes.add(code)
    for generic, specific in _YIELDS.items():
        if generic in codes and codes & set(specific):
            codes.discard(generic)
    return codes


def map_natura(text: str, vocabulary: Vocabulary) -> tuple[str | None, str | None]:
    """``(code, warning)`` for the declared legal form (or the ticked one of a list)."""
    if CHECKED in text or UNCHECKED in text:
        ticked = _ticked_options(text)
        if ticked is None:
            return None, f"natura giuridica: non si capisce a quale voce si riferiscono le " \
                         f"caselle, da verificare: {text.strip()}"
        if not ticked:
            return None, None
        text = " ".join(ticked)
    codes = natura_codes(text, vocabulary)
    if len(codes) == 1:
        return codes.pop(), None
    if not codes:
        return None, f"natura giuridica non riconosciuta: {text.strip()}"
    return None, f"natura giuridica ambigua ({', '.join(sorted(codes))}): {text.strip()}"


def _ticked_options(text: str) -> list[str] | None:
    """The options whose box is ticked, whether boxes come before ("☒ APS") or after
    ("APS ☒") their labels; None when the side cannot be told."""
    parts = [p.strip() for p in re.split(f"([{CHECKED}{UNCHECKED}])", text)]
    pieces, boxes = parts[0::2], parts[1::2]  # pieces[i] before boxes[i], pieces[i+1] after
    before = not pieces[0] and bool(pieces[-1])
    after = bool(pieces[0]) and not pieces[-1]
    if before == after:
        return None
    labels = pieces[1:] if before else pieces[:-1]
    return [label for label, box in zip(labels, boxes, strict=True) if box == CHECKED]


def natura_from_name(denominazione: str) -> str | None:
    """The code when the name states a legal form unambiguously, else None."""
    folded = fold(denominazione)
    codes = {code for code, pattern in _FROM_NAME if re.search(pattern, folded)}
    if "impresa_sociale" in codes and "coop_sociale" in codes:
        codes.discard("impresa_sociale")
    return codes.pop() if len(codes) == 1 else None
