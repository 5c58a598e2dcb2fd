"""The proof gate: which values read by OCR may be trusted, and why. Pure logic.

OCR is "very confident and very wrong" often enough that a reading alone is never a value.
Each field read from a scan becomes either a PROVED value (stored as the submission's data) or
a SUGGESTION (shown to staff with its crop, never stored as data):

* codice fiscale / partita IVA: proved when the check digit validates AND every word carrying
  it was read with high confidence, or when it equals an independent source (the signer's
  certificate, the earlier version of the same organisation); a 16-character personal code
  (also the representative's, printed on the form and on the identity document) only by
  an independent source;
* PEC / e-mail: proved only when equal to the certified sender, to the earlier version's
  address, or to an address seen in the message itself; never "corrected";
* comune: proved when it is a name of the ISTAT list read with high confidence and the CAP
  read beside it is one of that comune's CAP codes in the same list (a CAP that disagrees, or none,
  leaves a suggestion);
* every other field (names, denominazione, address, legal form, phone): a suggestion.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from parsers.codes import normalise_codice_fiscale, normalise_comune, normalise_partita_iva
from parsers.comuni import lookup
from parsers.ocr_text import Located

MIN_CONFIDENCE = 90.0  # tesseract word confidence (0-100) below which a reading is not proof
PROVED = "ocr_proved"
SUGGESTION = "ocr_suggestion"
CERTIFICATE = "certificate"
EARLIER = "earlier_version"
SENDER = "certified_sender"
MESSAGE = "message"
_CAP = re.compile(r"(?<!\d)(\d{5})(?!\d)")


@dataclass(frozen=True)
class Evidence:
    """What is known about the sender independently of the scan."""

    certified_sender: str | None = None
    earlier: Mapping[str, str | None] = field(default_factory=dict)
    signer_codes: tuple[str, ...] = ()
    message_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """One field's fate: ``source`` is one of the constants above; ``reason`` is Italian."""

    field: str
    value: str
    source: str
    reason: str
    where: Located | None = None

    @property
    def proved(self) -> bool:
        return self.source != SUGGESTION


def judge(readings: Mapping[str, str | None], where: Mapping[str, Located | None],
          evidence: Evidence, min_confidence: float = MIN_CONFIDENCE) -> dict[str, Verdict]:
    """A verdict for every field the reader found in the OCR text."""
    out: dict[str, Verdict] = {}
    for name, value in readings.items():
        if not value:
            continue
        located = where.get(name)
        if name in ("codice_fiscale", "partita_iva"):
            verdict = _code(name, value, located, evidence, min_confidence)
        elif name in ("pec", "email"):
            verdict = _address(name, value, located, evidence)
        elif name == "comune":
            verdict = _comune(value, located, readings.get("sede_legale"), min_confidence)
        else:
            verdict = Verdict(name, value, SUGGESTION, "letto da scansione: da confermare",
                              located)
        out[name] = verdict
    return out


def _code(name: str, value: str, located: Located | None, evidence: Evidence,
          min_confidence: float) -> Verdict:
    code = value.strip().upper()
    earlier = {evidence.earlier.get("codice_fiscale"), evidence.earlier.get("partita_iva")}
    if code in earlier:
        return Verdict(name, code, EARLIER, "uguale alla versione precedente dell'ente", located)
    if code in evidence.signer_codes:
        return Verdict(name, code, CERTIFICATE, "uguale al certificato del firmatario", located)
    normalise = normalise_codice_fiscale if name == "codice_fiscale" else normalise_partita_iva
    valid, problem = normalise(code)
    if valid != code:
        return Verdict(name, value, SUGGESTION, problem or "codice non valido", located)
    if len(code) == 16:  # a person's code on a scan is as likely the representative's
        return Verdict(name, code, SUGGESTION, "codice fiscale di persona fisica letto da "
                                               "scansione: potrebbe essere del rappresentante",
                       located)
    if located is None or located.confidence < min_confidence:
        shown = "sconosciuta" if located is None else f"{located.confidence:.0f}"
        return Verdict(name, code, SUGGESTION, f"cifra di controllo valida ma lettura incerta "
                                               f"(confidenza {shown})", located)
    return Verdict(name, code, PROVED, f"cifra di controllo valida, lettura sicura "
                                       f"(confidenza {located.confidence:.0f})", located)


def _address(name: str, value: str, located: Located | None, evidence: Evidence) -> Verdict:
    address = value.strip().lower()
    if evidence.certified_sender and address == evidence.certified_sender.strip().lower():
        return Verdict(name, address, SENDER, "uguale al mittente certificato", located)
    earlier = {(evidence.earlier.get(k) or "").lower() for k in ("pec", "email")}
    if address in earlier:
        return Verdict(name, address, EARLIER, "uguale alla versione precedente dell'ente",
                       located)
    if address in {a.strip().lower() for a in evidence.message_addresses}:
        return Verdict(name, address, MESSAGE, "uguale a un indirizzo presente nel messaggio",
                       located)
    return Verdict(name, value, SUGGESTION, "indirizzo letto da scansione, non confermato da "
                                            "altre fonti: da verificare", located)


def _comune(value: str, located: Located | None, sede: str | None,
            min_confidence: float) -> Verdict:
    name, problem = normalise_comune(value)
    if name is None:
        return Verdict("comune", value, SUGGESTION, problem or "comune non nell'elenco", located)
    if located is None or located.confidence < min_confidence:
        return Verdict("comune", name, SUGGESTION, "comune nell'elenco ISTAT ma lettura incerta",
                       located)
    caps = _CAP.findall(sede or "")
    if not caps:
        return Verdict("comune", name, SUGGESTION, "CAP non letto: comune da confermare",
                       located)
    if not cap_matches(name, caps[-1]):
        return Verdict("comune", name, SUGGESTION, f"CAP {caps[-1]} non verificabile o non "
                                                   f"coerente con {name}", located)
    return Verdict("comune", name, PROVED, f"comune dell'elenco ISTAT coerente con il CAP "
                                           f"{caps[-1]}", located)


def cap_matches(comune: str, cap: str) -> bool:
    """True when ``cap`` is one of the CAP codes of ``comune`` in the ISTAT list."""
    return any(cap in found.caps for found in lookup(comune))
