"""Synthetic organisations with valid Italian codes, reproducible from a seed.

Every value is invented; codes carry correct check digits so validators accept them. The
``truth()`` of an organisation has the shape of ``../shared/corpus/forms/*.truth.json``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from stdnum import luhn
from stdnum.it import codicefiscale

COMUNI = (
    ("Bellinzago Lombardo", "20060"),
    ("Bussero", "20060"),
    ("Cambiago", "20040"),
    ("Carugate", "20061"),
    ("Cassina de' Pecchi", "20051"),
    ("Cernusco sul Naviglio", "20063"),
    ("Gessate", "20060"),
    ("Gorgonzola", "20064"),
    ("Pessano con Bornago", "20042"),
)
FIRST = ("Marco", "Giulia", "Luca", "Francesca", "Paolo", "Chiara", "Andrea", "Silvia",
         "Giorgio", "Elena", "Matteo", "Sara", "Roberto", "Anna", "Davide", "Maria Grazia")
LAST = ("Rossi", "Colombo", "Brambilla", "Villa", "Ferrari", "Galli", "Sala", "Mauri",
        "Fumagalli", "Cattaneo", "Riva", "De Luca", "Pozzi", "Bianchi", "Longoni", "Monti")
STREETS = ("Via Roma", "Via Manzoni", "Piazza Matteotti", "Via Cavour", "Viale Assunta",
           "Via Padre Giuliani", "Via Verdi", "Corso Italia", "Via Don Minzoni")
# (natura code, how people write it, name pattern)
NATURE = (
    ("odv", "Organizzazione di volontariato", "Associazione {w} ODV"),
    ("aps", "Associazione di promozione sociale", "Circolo {w} APS"),
    ("coop_sociale", "Cooperativa sociale", "{w} Società Cooperativa Sociale Onlus"),
    ("fondazione", "Fondazione", "Fondazione {w}"),
    ("impresa_sociale", "Impresa sociale", "{w} Impresa Sociale S.r.l."),
    ("ente_religioso", "Ente religioso", "Parrocchia {w}"),
    ("associazione", "Associazione non riconosciuta", "Gruppo {w}"),
    ("scuola", "Istituzione scolastica", "Istituto Comprensivo {w}"),
    ("ente_pubblico", "Azienda speciale", "Azienda Speciale Consortile {w}"),
)
WORDS = ("Arcobaleno", "Il Girasole", "Primavera", "La Svolta", "Futura", "Insieme",
         "Il Ponte", "Solidarietà", "Comunità Aperta", "San Giuseppe", "Orizzonti", "La Rete")
TAVOLI = ("famiglia", "poverta", "autonomie")
TAVOLO_NAMES = {
    "famiglia": "Area Promozione del benessere familiare",
    "poverta": "Area Contrasto alla povertà",
    "autonomie": "Area Promozione delle autonomie",
}
PEC_DOMAINS = ("legalmail.it", "pec.it", "arubapec.it", "postecert.it", "pec.confcooperative.it")
_MONTHS = "ABCDEHLMPRST"


def organisation_code(rng: random.Random) -> str:
    """An 11-digit codice fiscale / partita IVA with a valid office code and Luhn digit."""
    body = "".join(rng.choice("0123456789") for _ in range(7)) + f"{rng.randint(1, 100):03d}"
    return body + luhn.calc_check_digit(body)


def personal_code(rng: random.Random, first: str, last: str) -> str:
    """A 16-character personal codice fiscale consistent in format (not tied to a real person)."""

    def consonants(s: str) -> str:
        letters = [c for c in s.upper() if c.isalpha()]
        cons = [c for c in letters if c not in "AEIOU"]
        vow = [c for c in letters if c in "AEIOU"]
        return "".join(cons + vow + ["X", "X", "X"])

    cons_first = [c for c in first.upper() if c.isalpha() and c not in "AEIOU"]
    if len(cons_first) >= 4:
        name_part = cons_first[0] + cons_first[2] + cons_first[3]
    else:
        name_part = consonants(first)[:3]
    day = rng.randint(1, 28) + (40 if rng.random() < 0.5 else 0)
    body = (consonants(last)[:3] + name_part + f"{rng.randint(50, 99):02d}"
            + rng.choice(_MONTHS) + f"{day:02d}" + rng.choice("ABCDEFGHLM")
            + f"{rng.randint(1, 999):03d}")
    return body + codicefiscale.calc_check_digit(body)


@dataclass(frozen=True)
class Organisation:
    denominazione: str
    natura_giuridica: str
    natura_text: str
    codice_fiscale: str
    partita_iva: str | None
    street: str
    cap: str
    comune: str
    legale_rappresentante: str
    rappresentante_cf: str
    referente: str
    email: str
    pec: str
    telefono: str
    tavoli: tuple[str, ...]
    ranked: bool
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sede_legale(self) -> str:
        return f"{self.street}, {self.cap} {self.comune} (MI)"

    def truth(self, expect_review: bool = False) -> dict[str, Any]:
        return {
            "fields": {
                "denominazione": self.denominazione,
                "natura_giuridica": self.natura_giuridica,
                "codice_fiscale": self.codice_fiscale,
                "partita_iva": self.partita_iva,
                "sede_legale": self.sede_legale,
                "comune": self.comune,
                "legale_rappresentante": self.legale_rappresentante,
                "referente": self.referente,
                "email": self.email,
                "pec": self.pec,
                "telefono": self.telefono,
            },
            "tavoli": list(self.tavoli),
            "ranked": self.ranked,
            "expect_review": expect_review,
        }


def make_organisation(seed: int) -> Organisation:
    """A reproducible synthetic organisation; the same seed always gives the same one."""
    rng = random.Random(seed)
    code, natura_text, pattern = rng.choice(NATURE)
    word = rng.choice(WORDS)
    slug = "".join(c for c in word.lower() if c.isalnum() and c.isascii())
    first, last = rng.choice(FIRST), rng.choice(LAST)
    ref_first, ref_last = rng.choice(FIRST), rng.choice(LAST)
    comune, cap = rng.choice(COMUNI)
    cf = organisation_code(rng)
    piva = rng.choice((None, cf, organisation_code(rng)))
    tavoli = tuple(rng.sample(TAVOLI, rng.randint(1, 3)))
    phone = rng.choice((
        f"02 {rng.randint(9000000, 9999999)}",
        f"+39 3{rng.randint(10, 49)} {rng.randint(1000000, 9999999)}",
        f"3{rng.randint(10, 49)}{rng.randint(1000000, 9999999)}",
    ))
    return Organisation(
        denominazione=pattern.format(w=word),
        natura_giuridica=code,
        natura_text=natura_text,
        codice_fiscale=cf,
        partita_iva=piva,
        street=f"{rng.choice(STREETS)} {rng.randint(1, 150)}",
        cap=cap,
        comune=comune,
        legale_rappresentante=f"{first} {last}",
        rappresentante_cf=personal_code(rng, first, last),
        referente=rng.choice((f"{first} {last}", f"{ref_first} {ref_last}")),
        email=f"{rng.choice(('info', 'segreteria', 'presidenza'))}@{slug}.it",
        pec=f"{slug}@{rng.choice(PEC_DOMAINS)}",
        telefono=phone,
        tavoli=tavoli,
        ranked=rng.random() < 0.3,
    )
