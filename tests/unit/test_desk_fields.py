"""Staff input: validated with the parser's own rules (text in, value or refusal out)."""

from __future__ import annotations

from datetime import date

import pytest

from parsers.vocabulary import DEFAULT_VOCABULARY
from pec_ingest.desk.attachments import safe_name
from pec_ingest.desk.errors import CorrectionRefused, DeskError
from pec_ingest.desk.fields import check_field, parse_tavoli
from pec_ingest.desk.staff import actor, parse_day


@pytest.mark.parametrize(("field", "text", "value"), [
    ("codice_fiscale", " 800 150 101 52 ", "80015010152"),
    ("codice_fiscale", "IT80015010152", "80015010152"),
    ("partita_iva", "IT 80015010152", "80015010152"),
    ("email", "Info@Prova.IT", "info@prova.it"),
    ("pec", "mailto:ente@pec.prova.it", "ente@pec.prova.it"),
    ("telefono", "tel. 02 9278 434", "02 9278 434"),
    ("legale_rappresentante", "dott. MARIO ROSSI", "Mario Rossi"),
    ("comune", "cernusco sul naviglio (MI)", "Cernusco sul Naviglio"),
    ("natura_giuridica", "aps", "aps"),
    ("natura_giuridica", "Organizzazione di volontariato", "odv"),
    ("denominazione", "«Il Faro» APS", "Il Faro APS"),
    ("referente", "", None),
])
def test_accepted_values_are_normalised(field: str, text: str, value: str | None) -> None:
    assert check_field(field, text, DEFAULT_VOCABULARY).value == value


@pytest.mark.parametrize(("field", "text", "why"), [
    ("codice_fiscale", "80015010154", "cifra di controllo"),
    ("codice_fiscale", "12345", "lunghezza"),
    ("partita_iva", "8001501015", "11 cifre"),
    ("email", "non-un-indirizzo", "non valido"),
    ("email", "ente@prova.xyz", "dominio insolito"),
    ("telefono", "123", "non valido"),
    ("legale_rappresentante", "Associazione", "non riconosciuto"),
    ("comune", "Atlantide", "non riconosciuto"),
    ("natura_giuridica", "qualcosa", "codici ammessi"),
    ("colore", "blu", "campo sconosciuto"),
])
def test_bad_values_are_refused_with_the_reason(field: str, text: str, why: str) -> None:
    with pytest.raises(CorrectionRefused, match=why):
        check_field(field, text, DEFAULT_VOCABULARY)


def test_the_sede_names_the_comune_it_recognised() -> None:
    checked = check_field("sede_legale", "Via Roma 1, 20063 Cernusco sul Naviglio (MI)",
                          DEFAULT_VOCABULARY)
    assert checked.value == "Via Roma 1, 20063 Cernusco sul Naviglio (MI)"
    assert checked.notice is not None and "Cernusco sul Naviglio" in checked.notice


@pytest.mark.parametrize(("text", "chosen"), [
    ("famiglia,poverta", [("famiglia", None), ("poverta", None)]),
    ("poverta; famiglia", [("famiglia", None), ("poverta", None)]),
    ("autonomie:1,poverta:2", [("autonomie", 1), ("poverta", 2)]),
    ("povertà=2, Area Promozione delle autonomie=1", [("autonomie", 1), ("poverta", 2)]),
    ("Benessere familiare", [("famiglia", None)]),
])
def test_table_choices(text: str, chosen: list[tuple[str, int | None]]) -> None:
    assert parse_tavoli(text) == chosen


@pytest.mark.parametrize(("text", "why"), [
    ("", "almeno un tavolo"), ("famiglia,famiglia", "due volte"),
    ("famiglia:1,poverta", "tutti i tavoli o per nessuno"), ("famiglia:1,poverta:1", "da 1"),
    ("famiglia:0", "da 1"), ("cultura", "sconosciuto"),
])
def test_bad_table_choices(text: str, why: str) -> None:
    with pytest.raises(CorrectionRefused, match=why):
        parse_tavoli(text)


def test_days_and_actor() -> None:
    assert parse_day("2019-09-30") == parse_day("30/09/2019") == date(2019, 9, 30)
    with pytest.raises(DeskError, match="data non valida"):
        parse_day("31/02/2019")
    assert actor("  anna ") == "anna"
    assert actor(None)  # the operating-system user


@pytest.mark.parametrize(("name", "safe"), [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\x\\modulo.pdf", "modulo.pdf"),
    (".nascosto", "nascosto"), ("a\x00b:c.pdf", "a_b_c.pdf"), (None, "allegato-1"),
    ("..", "allegato-1"),
])
def test_attachment_names_are_made_harmless(name: str | None, safe: str) -> None:
    assert safe_name(name, "allegato-1") == safe


def test_unranked_table_order_is_no_change() -> None:
    from pec_ingest.desk.corrections import tavoli_value
    from store.model import Submission, SubmissionTavolo

    one = Submission(tavoli=[SubmissionTavolo(code="poverta"), SubmissionTavolo(code="famiglia")])
    two = Submission(tavoli=[SubmissionTavolo(code="famiglia"), SubmissionTavolo(code="poverta")])
    assert tavoli_value(one) == tavoli_value(two)
    ranked = Submission(tavoli=[SubmissionTavolo(code="famiglia", rank=2),
                                SubmissionTavolo(code="poverta", rank=1)])
    assert [t["code"] for t in tavoli_value(ranked)] == ["poverta", "famiglia"]
