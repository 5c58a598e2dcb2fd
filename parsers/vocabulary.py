"""Every word the field extractor looks for, in one place.

The Allegato 1 has no fixed wording: next year's notice will name its fields differently. All
label variants, legal-form keywords, table names and placeholder strings live in
:class:`Vocabulary`, so that staff can add a wording from the configuration file
(:meth:`Vocabulary.extended`) without touching code. Matching is case-insensitive and
accent-tolerant (see :func:`fold`); longer phrases win over shorter ones.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from types import MappingProxyType

FIELD_NAMES = (
    "denominazione", "natura_giuridica", "codice_fiscale", "partita_iva", "sede_legale",
    "comune", "legale_rappresentante", "referente", "email", "pec", "telefono",
)
NATURA_CODES = (
    "odv", "aps", "coop_sociale", "fondazione", "impresa_sociale", "ente_religioso",
    "associazione", "scuola", "ente_pubblico", "altro",
)
TAVOLO_CODES = ("famiglia", "poverta", "autonomie")
FUNCTION_WORDS = frozenset((
    "di", "del", "della", "dello", "dell", "dei", "degli", "delle", "in", "a", "al", "alla",
    "ai", "per", "e", "ed", "con", "il", "la", "lo", "le", "gli", "i", "l", "da", "dal", "su",
    "un", "una", "uno", "o", "se", "n", "nr", "es",
))
_WORD = re.compile(r"[^\W\d_]+")
SECTIONS = ("labels", "natura", "tavoli", "placeholders", "stop_labels", "weak_labels", "hints")


def _fold_slow(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _fold_char(char: str) -> str:
    folded = _fold_slow(char)
    return folded if len(folded) == 1 else char.lower()


# Latin letters folded one for one (same length), for fast matching with aligned positions.
_FOLD_TABLE = MappingProxyType({code: _fold_char(chr(code)) for code in
                                (*range(0x41, 0x5B), *range(0xC0, 0x250), 0x2018, 0x2019, 0x60)})


def fold(text: str) -> str:
    """Lowercase, strip accents and unify apostrophes: the form used for matching."""
    folded = text.translate(_FOLD_TABLE)
    if folded.isascii():
        return folded
    return _fold_slow(text)


def fold_aligned(text: str) -> str:
    """:func:`fold` keeping one character per character, so positions match the original."""
    folded = text.translate(_FOLD_TABLE)
    if folded.isascii():
        return folded
    return "".join(_fold_char(c) if ord(c) > 0x7F else c for c in folded)


_LABELS: dict[str, tuple[str, ...]] = {
    "denominazione": (
        "denominazione", "denominazione ente", "denominazione dell'ente",
        "denominazione sociale", "denominazione dell'organizzazione", "ragione sociale",
        "nome dell'organizzazione", "nome organizzazione", "nome dell'ente", "nome ente",
        "ente", "organizzazione", "soggetto proponente", "ente proponente",
    ),
    "natura_giuridica": (
        "natura giuridica", "forma giuridica", "tipologia di ente", "tipologia ente",
        "tipologia dell'ente", "tipo di ente", "tipo ente", "forma associativa",
        "qualifica giuridica", "natura dell'ente", "forma giuridica dell'ente",
    ),
    "codice_fiscale": (
        "codice fiscale", "c.f.", "c. f.", "cod. fisc.", "cod. fiscale", "codice fiscale ente",
        "codice fiscale dell'ente", "c.f. ente", "c.f. dell'ente", "cf",
    ),
    "partita_iva": (
        "partita iva", "partita i.v.a.", "p.iva", "p. iva", "p.i.", "p. i.v.a.", "p.i.v.a.",
        "piva", "partita iva dell'ente",
    ),
    "sede_legale": (
        "sede legale", "indirizzo sede legale", "sede legale in", "indirizzo della sede legale",
        "sede legale (indirizzo)", "indirizzo", "sede", "via/piazza", "via e numero civico",
        "via e n. civico", "via/piazza e n. civico", "via/piazza e numero civico",
        "indirizzo (via e n. civico)", "via, piazza e numero civico",
    ),
    "comune": ("comune", "comune sede legale", "comune della sede legale", "citta", "località"),
    "legale_rappresentante": (
        "legale rappresentante", "rappresentante legale", "presidente",
        "legale rappresentante pro tempore", "nome e cognome del legale rappresentante",
        "legale rappresentante (nome e cognome)",
    ),
    "referente": (
        "referente", "persona di riferimento", "referente per i tavoli",
        "referente per la partecipazione ai tavoli", "nominativo referente",
        "persona referente", "referente da contattare", "contatto referente",
    ),
    "email": (
        "e-mail", "email", "e mail", "mail", "posta elettronica", "indirizzo e-mail",
        "indirizzo email", "indirizzo di posta elettronica", "e-mail ordinaria",
        "posta elettronica ordinaria",
    ),
    "pec": (
        "pec", "p.e.c.", "posta elettronica certificata", "indirizzo pec", "e-mail pec",
        "email pec", "casella pec", "indirizzo di posta elettronica certificata",
    ),
    "telefono": (
        "telefono", "tel.", "tel", "recapito telefonico", "cellulare", "cell.", "cell",
        "numero di telefono", "n. telefono", "recapito tel.", "telefono/cellulare", "tel/cell",
        "telefono fisso",
    ),
}

# Labels of things that are not canonical fields: they end the value of the label before.
_STOP_LABELS: tuple[str, ...] = (
    "fax", "sito web", "sito internet", "sito", "nato a", "nata a", "nato/a", "nato/a a",
    "residente", "residenza", "residente in", "indirizzo di residenza", "domicilio",
    "domiciliato", "domiciliata", "domiciliato/a", "comune di nascita", "luogo e data",
    "data", "firma", "iscrizione", "iscritta", "iscritto",
    "numero di iscrizione", "n. iscrizione", "registro", "runts", "data di nascita",
    "luogo di nascita", "provincia", "prov.", "in qualita di", "codice ateco",
    "sede operativa", "indirizzo sede operativa", "sedi operative", "c.a.p.", "cap",
    "iban", "codice iban", "partita iva/codice fiscale del legale",
)

# Labels too common as ordinary words to count without a separator (colon, cell boundary).
_WEAK_LABELS: tuple[str, ...] = (
    "ente", "organizzazione", "sede", "indirizzo", "comune", "mail", "citta",
    "località", "cf", "tel", "cell", "data", "firma", "registro", "cap", "sito", "provincia",
)

_NATURA: dict[str, tuple[str, ...]] = {
    "odv": ("organizzazione di volontariato", "organizzazione del volontariato", "odv", "o.d.v.",
            "associazione di volontariato", "volontariato"),
    "aps": ("associazione di promozione sociale", "promozione sociale", "aps", "a.p.s."),
    "coop_sociale": ("cooperativa sociale", "societa cooperativa sociale", "coop. sociale",
                     "coop. soc.", "coop sociale", "consorzio di cooperative sociali",
                     "cooperativa sociale onlus", "consorzio cooperativo sociale"),
    "fondazione": ("fondazione", "fondazione di partecipazione", "fondazione onlus"),
    "impresa_sociale": ("impresa sociale",),
    "ente_religioso": ("ente religioso", "ente ecclesiastico", "parrocchia", "ente di culto",
                       "ente religioso civilmente riconosciuto", "diocesi", "caritas",
                       "congregazione religiosa", "istituto religioso"),
    "associazione": ("associazione non riconosciuta", "associazione riconosciuta",
                     "associazione", "associazione culturale", "associazione sportiva",
                     "associazione sportiva dilettantistica", "asd", "a.s.d.",
                     "comitato"),
    "scuola": ("istituzione scolastica", "istituto comprensivo", "scuola", "i.c.",
               "istituto scolastico", "istituto di istruzione superiore", "liceo",
               "scuola paritaria", "istituto tecnico", "istituto professionale", "cfp",
               "centro di formazione professionale"),
    "ente_pubblico": ("azienda speciale", "azienda speciale consortile", "ente pubblico",
                      "comune", "comune di", "azienda pubblica", "asst", "ats",
                      "azienda sociosanitaria", "consorzio pubblico", "ente locale",
                      "azienda servizi alla persona", "asp", "unione dei comuni",
                      "pubblica amministrazione"),
    "altro": ("altro", "altra forma", "ente del terzo settore (altro)"),
}

_TAVOLI: dict[str, tuple[str, ...]] = {
    "famiglia": (
        "area promozione del benessere familiare", "promozione del benessere familiare",
        "benessere familiare", "benessere della famiglia", "benessere delle famiglie",
        "area famiglia", "famiglia", "famiglie", "tavolo famiglia", "area famiglia e minori",
        "famiglia e minori",
    ),
    "poverta": (
        "area contrasto alla poverta", "contrasto alla poverta", "contrasto della poverta",
        "poverta", "area poverta", "tavolo poverta", "poverta e inclusione",
        "inclusione sociale",
    ),
    "autonomie": (
        "area promozione delle autonomie", "promozione delle autonomie", "autonomie",
        "area autonomie", "tavolo autonomie", "autonomia", "promozione dell'autonomia",
    ),
}

_PLACEHOLDERS: tuple[str, ...] = (
    "Fare clic o toccare qui per immettere il testo.",
    "Fare clic qui per immettere testo.",
    "Fare clic qui per immettere il testo.",
    "Fare clic o toccare qui per immettere una data.",
    "Fare clic qui per immettere una data.",
    "Scegliere un elemento.",
    "Click or tap here to enter text.",
    "Click here to enter text.",
    "Click or tap to enter a date.",
    "Choose an item.",
    "Inserire testo",
    "Inserire il testo",
    "Inserisci testo",
    "Testo",
)


# Words a form prints in or under its blanks: never values ("cognome e nome", "città"...).
_HINTS: tuple[str, ...] = (
    "cognome e nome", "nome e cognome", "cognome", "nome", "nominativo", "citta", "comune",
    "via", "piazza", "numero civico", "n. civico", "civico", "indicare", "inserire",
    "specificare", "compilare", "scrivere", "barrare", "selezionare", "se posseduta",
    "se posseduto", "se presente", "se diversa", "se diverso", "eventuale", "eventualmente",
    "facoltativo", "obbligatorio", "in stampatello", "stampatello", "abbreviazione", "sigla",
    "acronimo", "timbro", "firma", "luogo", "data", "allegare", "recapito", "indirizzo",
    "completo", "estremi", "campo", "qui", "testo", "esempio", "es.", "ecc.", "etc.",
    "numero", "telefonico", "riportare", "dati", "richiedente", "dichiarante",
)


# legal suffixes and kinds of bodies: a name holding one is an organisation's, not a person's
_ORG_WORDS: tuple[str, ...] = (
    "srl", "s.r.l.", "spa", "s.p.a.", "snc", "sas", "onlus", "ets", "scs", "coop", "societa",
    "gruppo", "circolo", "comitato", "centro", "consorzio", "istituto", "federazione",
    "cooperativa", "associazione", "fondazione", "parrocchia", "oratorio", "cooperativa",
    "azienda", "ufficio", "servizi", "impresa", "ditta",
)


@dataclass(frozen=True)
class Vocabulary:
    """Label variants per canonical field, legal-form and table phrases, placeholders.

    ``stop_labels`` are labels of things the extractor does not return (fax, web site,
    birth place...): they end a value the way a field label does. ``weak_labels`` are
    labels too common as ordinary words to count unless a colon or a cell boundary follows.
    """

    labels: Mapping[str, tuple[str, ...]]
    natura: Mapping[str, tuple[str, ...]]
    tavoli: Mapping[str, tuple[str, ...]]
    placeholders: tuple[str, ...]
    stop_labels: tuple[str, ...] = _STOP_LABELS
    weak_labels: tuple[str, ...] = _WEAK_LABELS
    hints: tuple[str, ...] = _HINTS
    own_addresses: tuple[str, ...] = ()  # the recipient's e-mail/PEC addresses
    own_domains: tuple[str, ...] = ()  # the recipient's own mail domains (and subdomains)
    own_phones: tuple[str, ...] = ()  # the recipient's phone numbers
    own_codes: tuple[str, ...] = ()  # the recipient's codice fiscale / partita IVA
    # the office's blank forms, (name, lines as a reader gives them), and the admin's mapping
    # of their labels to fields, (label, field): see parsers.template
    templates: tuple[tuple[str, tuple[str, ...]], ...] = ()
    template_labels: tuple[tuple[str, str], ...] = ()

    @cached_property
    def form_words(self) -> frozenset[str]:
        """Every word of the form's own text: labels, stop labels, hints, placeholders."""
        phrases = [*(v for variants in self.labels.values() for v in variants),
                   *self.stop_labels, *self.weak_labels, *self.hints, *self.placeholders]
        return frozenset(w for phrase in phrases for w in _WORD.findall(fold(phrase))
                         if w not in FUNCTION_WORDS)

    @cached_property
    def organisation_words(self) -> frozenset[str]:
        """Words that make a name an organisation's: legal forms and bodies' kinds."""
        phrases = [*(p for phrases in self.natura.values() for p in phrases), *_ORG_WORDS]
        words = {w for phrase in phrases for w in _WORD.findall(fold(phrase))}
        return frozenset(w for w in words if len(w) > 2 and w not in FUNCTION_WORDS
                         and w not in ("altro", "altra", "forma"))

    def with_templates(self, templates: Sequence[tuple[str, Sequence[str]]],
                       labels: Sequence[tuple[str, str]] = ()) -> Vocabulary:
        """A copy that reads submissions against the office's blank forms."""
        return replace(self, templates=tuple((n, tuple(lines)) for n, lines in templates),
                       template_labels=tuple((label, f) for label, f in labels))

    def with_recipient(self, *, addresses: Sequence[str] = (), domains: Sequence[str] = (),
                       phones: Sequence[str] = (), codes: Sequence[str] = ()) -> Vocabulary:
        """A copy that knows the recipient's own data: never the applicant's values."""
        return replace(
            self,
            own_addresses=tuple(dict.fromkeys((*self.own_addresses,
                                               *(a.strip().lower() for a in addresses)))),
            own_domains=tuple(dict.fromkeys((*self.own_domains,
                                             *(d.strip().lower().lstrip("@.") for d in domains)))),
            own_phones=tuple(dict.fromkeys((*self.own_phones, *phones))),
            own_codes=tuple(dict.fromkeys((*self.own_codes, *(c.strip().upper() for c in codes)))),
        )

    def extended(self, extra: Mapping[str, Mapping[str, Sequence[str]]]) -> Vocabulary:
        """A copy with more wordings, e.g. ``{"labels": {"referente": ["Delegato ai tavoli"]}}``.

        Sections: ``labels`` (keys: field names), ``natura`` (keys: natura codes), ``tavoli``
        (keys: table codes); ``placeholders``, ``stop_labels`` and ``weak_labels`` take any
        key (e.g. ``{"placeholders": {"add": ["Scrivere qui"]}}``).
        Unknown sections or keys raise :class:`ValueError`, all problems reported at once.
        """
        problems = [f"sezione sconosciuta nel vocabolario: {name!r} "
                    f"(ammesse: {', '.join(SECTIONS)})" for name in extra if name not in SECTIONS]
        allowed = {"labels": FIELD_NAMES, "natura": NATURA_CODES, "tavoli": TAVOLO_CODES}
        for section, keys in allowed.items():
            problems += [f"voce sconosciuta nella sezione {section!r}: {key!r} "
                         f"(ammesse: {', '.join(keys)})"
                         for key in extra.get(section, {}) if key not in keys]
        for section, mapping in extra.items():
            problems += [f"la voce {section}.{key} deve essere una lista di testi"
                         for key, words in mapping.items()
                         if isinstance(words, str) or not all(isinstance(w, str) for w in words)]
        if problems:
            raise ValueError("; ".join(problems))
        return replace(
            self,
            labels=_merge(self.labels, extra.get("labels", {})),
            natura=_merge(self.natura, extra.get("natura", {})),
            tavoli=_merge(self.tavoli, extra.get("tavoli", {})),
            placeholders=_append(self.placeholders, extra.get("placeholders", {})),
            stop_labels=_append(self.stop_labels, extra.get("stop_labels", {})),
            weak_labels=_append(self.weak_labels, extra.get("weak_labels", {})),
            hints=_append(self.hints, extra.get("hints", {})),
        )


def _merge(base: Mapping[str, tuple[str, ...]],
           extra: Mapping[str, Sequence[str]]) -> Mapping[str, tuple[str, ...]]:
    merged = {key: tuple(dict.fromkeys((*words, *extra.get(key, ()))))
              for key, words in base.items()}
    return MappingProxyType(merged)


def _append(base: tuple[str, ...], extra: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    words = [w for group in extra.values() for w in group]
    return tuple(dict.fromkeys((*base, *words)))


DEFAULT_VOCABULARY = Vocabulary(
    labels=MappingProxyType(dict(_LABELS)),
    natura=MappingProxyType(dict(_NATURA)),
    tavoli=MappingProxyType(dict(_TAVOLI)),
    placeholders=_PLACEHOLDERS,
)
