"""Normalisation and validation of the declared values. Pure functions, no state.

Each ``normalise_*`` function takes the raw text found next to a label and returns
``(value, warning)``: the canonical value or ``None``, and an Italian, staff-readable reason
when the text was present but not usable. Codes are checked with python-stdnum; nothing is
"repaired" by guessing (an OCR ``O`` for ``0`` stays invalid).
"""

from __future__ import annotations

import re

from stdnum import luhn
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.it import codicefiscale

from parsers import comuni
from parsers.vocabulary import fold

Result = tuple[str | None, str | None]

_CODE_JUNK = re.compile(r"[\s.\-/_]")
_EMAIL = re.compile(r"(?:mailto:)?([\w.+'-]+@[\w-]+(?:\.[\w-]+)+)", re.UNICODE)
_TLDS = frozenset((
    "it", "com", "org", "net", "eu", "info", "biz", "coop", "edu", "gov", "int", "ch", "sm",
    "va", "fr", "de", "es", "uk", "at", "be", "nl", "pt", "us", "me", "io", "email", "online",
    "srl", "social", "onlus", "ngo", "ong", "bio", "eco", "church", "school", "education",
))
_PHONE = re.compile(r"(?:\+|00)?\d[\d\s./()-]*\d")
_TITLES = re.compile(
    r"^(?:(?:sig\.?r?a?|sig\.ra|signora|signor|dott\.?(?:ssa)?|dr\.?(?:ssa)?|prof\.?(?:ssa)?|"
    r"avv\.?|ing\.?|arch\.?|rag\.?|geom\.?|don|suor|padre|mons\.?|rev\.?|p\.)\s+)+",
    re.IGNORECASE,
)
_NAME_WORD = re.compile(r"^[^\W\d_]+(?:['’.-][^\W\d_]*)*\.?$", re.UNICODE)
_NOT_NAME = ("nato", "nata", "legale", "rappresentante", "codice", "fiscale", "c.f", "residente",
             "presidente", "referente", "sede", "via", "piazza", "tel", "email", "e-mail", "pec",
             "stesso", "stessa", "sottoscritto", "sottoscritta", "firma", "associazione", "ente",
             "cognome", "nome", "nominativo", "pro", "tempore", "protempore", "sig", "sig.ra")
_STREET = re.compile(
    r"\b(?:via|viale|v\.le|piazza|p\.za|p\.zza|piazzale|corso|c\.so|largo|vicolo|strada|"
    r"contrada|localita|loc\.|frazione|fraz\.|borgo|alzaia|vicolo|galleria|passaggio|str\.)\s*$",
    re.IGNORECASE,
)


def _compact(text: str) -> str:
    return _CODE_JUNK.sub("", text).upper()


def _code_problem(code: str) -> str | None:
    """Why an 11-digit or 16-character code is not valid, or None when it is."""
    if len(code) == 11 and not code.isdigit():
        return "contiene caratteri che non sono cifre"
    if len(code) == 11 and not luhn.is_valid(code):
        return "cifra di controllo errata"
    try:
        codicefiscale.validate(code)
    except InvalidChecksum:
        return "carattere di controllo errato"
    except InvalidComponent:
        return "codice dell'ufficio provinciale non valido" if len(code) == 11 else \
            "data di nascita o comune non validi"
    except InvalidLength:
        return f"lunghezza errata ({len(code)} caratteri invece di 11 o 16)"
    except (InvalidFormat, StdnumError):
        return "formato non valido"
    return None


def normalise_codice_fiscale(text: str | None) -> Result:
    """11 digits (organisations) or 16 characters (persons), validated; else a warning."""
    if not text or not text.strip():
        return None, None
    code = _compact(text)
    if code.startswith("IT") and len(code) == 13 and code[2:].isdigit():
        code = code[2:]
    problem = _code_problem(code)
    if problem:
        return None, f"codice fiscale non valido ({problem}): {text.strip()}"
    return code, None


def normalise_partita_iva(text: str | None) -> Result:
    """11 digits (an ``IT`` prefix is dropped), check digit and office code validated."""
    if not text or not text.strip():
        return None, None
    code = _compact(text)
    if code.startswith("IT"):
        code = code[2:]
    if len(code) != 11:
        return None, f"partita IVA non valida (deve avere 11 cifre): {text.strip()}"
    problem = _code_problem(code)
    if problem:
        return None, f"partita IVA non valida ({problem}): {text.strip()}"
    return code, None


def normalise_email(text: str | None) -> Result:
    """One e-mail address, lowercase; a domain with an unusual ending is refused."""
    if not text or not text.strip():
        return None, None
    found = _EMAIL.findall(text.replace(" @", "@").replace("@ ", "@"))
    if not found:
        return None, f"indirizzo e-mail non valido: {text.strip()}"
    address = found[0].lower().strip(".'-")
    tld = address.rsplit(".", 1)[-1]
    if tld not in _TLDS:
        return None, f"indirizzo e-mail con dominio insolito, da verificare: {address}"
    return address, None


def normalise_phone(text: str | None) -> Result:
    """The number as written (digits, spaces, +39, / . - kept), 6 to 13 digits."""
    if not text or not text.strip():
        return None, None
    match = _PHONE.search(text)
    if not match:
        return None, f"numero di telefono non valido: {text.strip()}"
    number = " ".join(match.group(0).split()).strip(" ./-")
    digits = re.sub(r"\D", "", number)
    if not 6 <= len(digits) <= 13:
        return None, f"numero di telefono non valido: {text.strip()}"
    return number, None


def normalise_name(text: str | None) -> Result:
    """A person's name, "Nome Cognome": titles dropped, capitalised when written in capitals."""
    if not text or not text.strip():
        return None, None
    name = " ".join(text.replace("\u2019", "'").split()).strip(" ,;:.-_…")
    name = labelled_name(name)
    name = _TITLES.sub("", name).strip(" ,;:")
    words = name.split()
    low = {fold(w).strip(".,") for w in words}
    if not 2 <= len(words) <= 6 or low & set(_NOT_NAME) or \
            not all(_NAME_WORD.match(w) for w in words):
        return None, f"nome di persona non riconosciuto: {text.strip()}"
    if name.isupper() or name.islower():
        name = " ".join(_capitalise(w) for w in words)
    return name, None


_SURNAME_FIRST = re.compile(r"^cognome\s*[:.]?\s*(?P<last>.+?)\s*[,;]?\s*\bnome\s*[:.]?\s*"
                            r"(?P<first>.+)$", re.IGNORECASE)
_NAME_FIRST = re.compile(r"^nome\s*[:.]?\s*(?P<first>.+?)\s*[,;]?\s*\bcognome\s*[:.]?\s*"
                         r"(?P<last>.+)$", re.IGNORECASE)


def labelled_name(name: str) -> str:
    """ "Cognome Marchetti Nome Monica" -> "Monica Marchetti": the labels are not the name."""
    for pattern in (_SURNAME_FIRST, _NAME_FIRST):
        match = pattern.match(name)
        if match:
            return f"{match.group('first')} {match.group('last')}"
    return name


def _capitalise(word: str) -> str:
    parts = re.split(r"(['-])", word.lower())
    return "".join(p[:1].upper() + p[1:] for p in parts)


def normalise_denominazione(text: str | None) -> Result:
    """The name as written: whitespace collapsed, «» and surrounding quotes removed."""
    if not text or not text.strip():
        return None, None
    name = " ".join(text.replace("«", " ").replace("»", " ").split())
    name = name.strip(" ,;:_").strip()
    if len(name) > 2 and name[0] in "\"“'" and name[-1] in "\"”'":
        name = name[1:-1].strip()
    if len(name) < 2 or len(name) > 200 or not re.search(r"[^\W\d_]", name):
        return None, f"denominazione non riconosciuta: {text.strip()}"
    return name, None


_SEGMENTS = re.compile(r"[,;\n]|\s[-–—]\s")
_CAP_WORD = re.compile(r"(?<![\w.])(?:c\.?\s*a\.?\s*p\.?\s*[:.]?\s*)?\(?(\d{5})\)?(?!\d)")
_PROVINCE_TAIL = re.compile(r"\s*(?:\(\s*([a-z]{2})\s*\)|[-–]?\s*\b(?:prov\.?\s*)?([a-z]{2})\.?)"
                            r"\s*$")
_STREET_WORD = re.compile(r"\b(?:via|viale|piazza|piazzale|corso|largo|vicolo|strada|"
                          r"contrada|localita|frazione|borgo)\b")
_AFTER_NUMBER = re.compile(r"\d+\s*[a-z]?(?:/\s*[a-z0-9]+)?\s+(?:(?:a|in)\s+)?"
                           r"(?P<place>[a-z' ]+?)\s*(?:\(\s*[a-z]{2}\s*\))?\s*$")


def find_comune(text: str) -> str | None:
    """The ISTAT name of the comune in an address, or None when none is recognised.

    The comune stands before or after the street, with or without CAP and province:
    "Via Roma 1, 20060 Bussero (MI)", "Bussero (20060), Piazza Matteotti 43",
    "Via Milano 3 - Gorgonzola". One whole part of the address (between commas or dashes,
    CAP and province aside) must be a listed comune, or the words after a CAP or after the
    house number; a listed name that is only a word of the place never counts
    ("19028 Varese Ligure" is not Varese). Two different comuni named: None.
    """
    folded = fold(text).replace("\u2013", " - ")
    found: dict[str, None] = {}
    for segment in _SEGMENTS.split(folded):
        name = _segment_comune(segment)
        if name:
            found[name] = None
    return next(iter(found)) if len(found) == 1 else None


def _segment_comune(segment: str) -> str | None:
    cap = _CAP_WORD.search(segment)
    places = [segment]
    if cap:
        places = [segment[cap.end():], segment[: cap.start()]]
        if places[0].strip(" .()-"):
            places = places[:1]  # after a CAP, the place is what follows it
    for place in places:
        name = _exact_comune(place)
        if name:
            return name
    street = _STREET_WORD.search(segment)
    if street and street.start() > 0 and _exact_comune(segment[: street.start()]):
        return _exact_comune(segment[: street.start()])  # "Gessate via Roma 12"
    after = _AFTER_NUMBER.search(segment) if cap is None else None
    return _exact_comune(after.group("place")) if after else None


def _exact_comune(place: str) -> str | None:
    name = " ".join(place.split()).strip(" .()-")
    if not name or not name[0].isalpha():
        return None
    for candidate in (name, _PROVINCE_TAIL.sub("", name).strip(" .()-")):
        found = comuni.lookup(candidate) if candidate else ()
        if found:
            return found[0].name
    return None


def normalise_sede(text: str | None) -> tuple[str | None, str | None, str | None]:
    """``(sede, comune, warning)``: the address on one line and its comune's ISTAT name."""
    if not text or not text.strip():
        return None, None, None
    sede = " ".join(text.split()).strip(" ,;:.")
    sede = re.sub(r"\s+,", ",", sede)
    if len(sede) < 5 or not re.search(r"[^\W\d_]{2}", sede):
        return None, None, f"indirizzo della sede legale non riconosciuto: {text.strip()}"
    comune = find_comune(sede)
    if comune is None:
        return sede, None, f"comune della sede legale non riconosciuto: {sede}"
    return sede, comune, None


def normalise_comune(text: str | None) -> Result:
    """A comune name alone (a "Comune" field), checked against the ISTAT list."""
    if not text or not text.strip():
        return None, None
    place = re.sub(r"^\s*\d{5}\s+", "", " ".join(text.split()).strip(" ,.;"))
    name = _exact_comune(fold(place))
    if name:
        return name, None
    return None, f"comune non riconosciuto nell'elenco ISTAT: {text.strip()}"
