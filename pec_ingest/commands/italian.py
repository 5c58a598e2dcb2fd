"""argparse in Italian: usage, section titles, help and error messages staff read.

argparse looks its words up through the module-level gettext functions ``_`` and ``ngettext``
at the time it prints; :func:`install` points them at this catalogue (anything not listed, such
as messages for programming mistakes, stays as argparse writes it).
"""

from __future__ import annotations

import argparse

CATALOGUE = {
    "usage: ": "uso: ",
    "positional arguments": "argomenti",
    "options": "opzioni",
    "show this help message and exit": "mostra questo aiuto ed esce",
    "show program's version number and exit": "mostra la versione ed esce",
    "%(prog)s: error: %(message)s\n": "%(prog)s: errore: %(message)s\n",
    "argument %(argument_name)s: %(message)s": "argomento %(argument_name)s: %(message)s",
    "the following arguments are required: %s": "argomenti obbligatori mancanti: %s",
    "invalid choice: %(value)r (choose from %(choices)s)":
        "scelta non valida: %(value)r (ammessi: %(choices)s)",
    "invalid %(type)s value: %(value)r": "valore non valido (%(type)s): %(value)r",
    "unrecognized arguments: %s": "argomenti non riconosciuti: %s",
    "ambiguous option: %(option)s could match %(matches)s":
        "opzione ambigua: %(option)s può essere %(matches)s",
    "expected one argument": "serve un valore",
    "expected at least one argument": "serve almeno un valore",
    "expected at most one argument": "al massimo un valore",
    "not allowed with argument %s": "non ammesso insieme a %s",
    "one of the arguments %s is required": "serve uno degli argomenti %s",
    "ignored explicit argument %r": "valore %r ignorato",
    "unknown parser %(parser_name)r (choices: %(choices)s)":
        "comando sconosciuto %(parser_name)r (ammessi: %(choices)s)",
    "can't open '%(filename)s': %(error)s": "impossibile aprire '%(filename)s': %(error)s",
    "expected %s argument": "servono %s valori",
    "expected %s arguments": "servono %s valori",
}


def translate(text: str) -> str:
    return CATALOGUE.get(text, text)


def translate_plural(singular: str, plural: str, n: int) -> str:
    return translate(singular if n == 1 else plural)


def install() -> None:
    """Make argparse speak Italian (idempotent)."""
    argparse._ = translate  # type: ignore[attr-defined]
    argparse.ngettext = translate_plural  # type: ignore[attr-defined]
