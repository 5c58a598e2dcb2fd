"""The recipient's own data, which is never the applicant's (principle: never the recipient).

A form often prints the office it is addressed to: its PEC, e-mail, phone, codice fiscale.
The configuration names them (:meth:`~parsers.vocabulary.Vocabulary.with_recipient`); a value
equal to one of them, or an address in one of the office's own domains, is refused with a
warning, and the next candidate (the applicant's) is taken instead.
"""

from __future__ import annotations

import re

from parsers.vocabulary import Vocabulary


def _digits(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    return digits[2:] if digits.startswith("39") and len(digits) > 10 else digits


def is_recipients(field: str, value: str, vocabulary: Vocabulary) -> bool:
    """Whether ``value`` (already normalised) for ``field`` is the recipient's own."""
    if field in ("email", "pec"):
        address = value.lower()
        domain = address.rpartition("@")[2]
        return address in vocabulary.own_addresses or any(
            domain == own or domain.endswith("." + own) for own in vocabulary.own_domains)
    if field == "telefono":
        digits = _digits(value)
        return any(digits == _digits(own) for own in vocabulary.own_phones if _digits(own))
    if field in ("codice_fiscale", "partita_iva"):
        return value.upper() in vocabulary.own_codes
    return False


def recipient_warning(field: str, value: str) -> str:
    return (f"{field.replace('_', ' ')} {value} è un recapito dell'ufficio destinatario, "
            "non del richiedente: ignorato")
