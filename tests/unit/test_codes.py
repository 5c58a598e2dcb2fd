"""Normalisation and validation of codes, contacts, names and addresses."""

from __future__ import annotations

import pytest

from parsers.codes import (
    find_comune,
    normalise_codice_fiscale,
    normalise_comune,
    normalise_denominazione,
    normalise_email,
    normalise_name,
    normalise_partita_iva,
    normalise_phone,
    normalise_sede,
)


def test_codice_fiscale_of_an_organisation_and_of_a_person() -> None:
    assert normalise_codice_fiscale(" 018 4959 0250 ") == ("01849590250", None)
    assert normalise_codice_fiscale("mragpp58m22h501w") == ("MRAGPP58M22H501W", None)
    assert normalise_codice_fiscale("") == (None, None)


@pytest.mark.parametrize(("text", "reason"), [
    ("01849590251", "cifra di controllo errata"),
    ("0184959O250", "non sono cifre"),
    ("0184959025", "lunghezza"),
    ("MRAGPP58M22H501X", "controllo"),
    ("01849590999", "cifra di controllo"),
])
def test_invalid_codice_fiscale_gives_none_and_the_reason(text: str, reason: str) -> None:
    value, warning = normalise_codice_fiscale(text)
    assert value is None
    assert warning is not None and reason in warning and text in warning


def test_partita_iva() -> None:
    assert normalise_partita_iva("IT 01849590250") == ("01849590250", None)
    value, warning = normalise_partita_iva("MRAGPP58M22H501W")
    assert value is None and warning is not None and "11 cifre" in warning


def test_email() -> None:
    assert normalise_email("mailto:Info@Futura.IT") == ("info@futura.it", None)
    assert normalise_email("segreteria@comunitàaperta.it")[0] == "segreteria@comunitàaperta.it"
    assert normalise_email("non so")[0] is None
    value, warning = normalise_email("sangiuseppe@pec.csvlombardi")
    assert value is None and warning is not None and "dominio" in warning


@pytest.mark.parametrize("phone", ["02 9292075", "+39 338 4860684", "02/940.17.334", "3275652512"])
def test_phone_is_kept_as_written(phone: str) -> None:
    assert normalise_phone(f" {phone} ") == (phone, None)


def test_phone_with_too_few_digits_is_refused() -> None:
    assert normalise_phone("tel 123")[0] is None


@pytest.mark.parametrize(("text", "name"), [
    ("Marco Rossi", "Marco Rossi"), ("MARIA GRAZIA DE LUCA", "Maria Grazia De Luca"),
    ("Dott.ssa Anna Sala", "Anna Sala"), ("Sig. Luca D'Angelo", "Luca D'Angelo"),
])
def test_names(text: str, name: str) -> None:
    assert normalise_name(text) == (name, None)


@pytest.mark.parametrize("text", ["Rossi", "lo stesso", "Via Roma 1", "nato a Milano il 1970"])
def test_not_names(text: str) -> None:
    assert normalise_name(text)[0] is None


def test_denominazione_drops_guillemets_and_keeps_abbreviations() -> None:
    assert normalise_denominazione("  «Circolo   Futura APS» ") == ("Circolo Futura APS", None)
    assert normalise_denominazione("Naviglio Solidale Coop. Soc.")[0] == \
        "Naviglio Solidale Coop. Soc."


@pytest.mark.parametrize(("text", "comune"), [
    ("Via Roma 12, 20063 Cernusco sul Naviglio (MI)", "Cernusco sul Naviglio"),
    ("Via Torino 100, 20051 Cassina de’ Pecchi (MI)", "Cassina de' Pecchi"),
    ("Via Milano 3 - Gorgonzola", "Gorgonzola"),
    ("Piazza Matteotti 30, 20129 MILANO", "Milano"),
    ("Via Roma 3", None),
    ("Bussero (20060), Piazza Matteotti 43", "Bussero"),
    ("Bussero, Piazza Matteotti 43", "Bussero"),
    ("Via Torino 49 – 20060 Bellinzago Lombardo (MI)", "Bellinzago Lombardo"),
    ("Via Dante 4 Gessate", "Gessate"),
    ("Via Garibaldi 3 39100 Bolzano BZ", "Bolzano"),
    ("Corso Italia 2, 09040 Villasalto (SU)", "Villasalto"),
    ("Via Milano 2, Gorgonzola - Bussero", None),
])
def test_comune_of_an_address(text: str, comune: str | None) -> None:
    assert find_comune(text) == comune
    sede, found, warning = normalise_sede(text)
    assert sede is not None and found == comune
    assert (warning is None) == (comune is not None)


def test_comune_alone() -> None:
    assert normalise_comune("PESSANO CON BORNAGO (MI)") == ("Pessano con Bornago", None)
    assert normalise_comune("Atlantide")[0] is None
    assert normalise_comune("20060 Bellinzago Lombardo") == ("Bellinzago Lombardo", None)
    assert normalise_comune("Ittiri") == ("Ittiri", None)  # far from Milan: the full list
