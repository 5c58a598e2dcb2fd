"""The field extractor on hand-written FormContent lines: layouts, wordings and traps."""

from __future__ import annotations

import pytest

from parsers.allegato import FIELDS, Tavolo, extract
from parsers.content import FormContent

ORG_CF = "01849590250"
OTHER_CF = "00341310498"
REP_CF = "MRAGPP58M22H501W"


def lines(*text: str, ocr: bool = False) -> FormContent:
    return FormContent(format="docx", lines=tuple(text), has_ocr_layer=ocr)


TABLE = (
    "Denominazione ente\tAssociazione Il Ponte ODV",
    "Natura giuridica\tOrganizzazione di volontariato",
    f"Codice fiscale\t{ORG_CF}",
    "Partita IVA\t",
    "Sede legale\tVia Roma 12, 20063 Cernusco sul Naviglio (MI)",
    "Legale rappresentante\tMarco Rossi",
    "Referente\tGiulia Sala",
    "Telefono\t02 9292075",
    "E-mail\tinfo@ilponte.it",
    "PEC\tilponte@legalmail.it",
    "☒ Area Promozione del benessere familiare",
    "☐ Area Contrasto alla povertà",
    "☒ Area Promozione delle autonomie",
)


def test_table_layout_gives_every_field_and_complete_status() -> None:
    result = extract(lines(*TABLE))
    assert dict(result.fields) == {
        "denominazione": "Associazione Il Ponte ODV", "natura_giuridica": "odv",
        "codice_fiscale": ORG_CF, "partita_iva": None,
        "sede_legale": "Via Roma 12, 20063 Cernusco sul Naviglio (MI)",
        "comune": "Cernusco sul Naviglio", "legale_rappresentante": "Marco Rossi",
        "referente": "Giulia Sala", "telefono": "02 9292075", "email": "info@ilponte.it",
        "pec": "ilponte@legalmail.it",
    }
    assert result.tavoli == (Tavolo("famiglia", None), Tavolo("autonomie", None))
    assert result.status == "complete"


def test_fields_mapping_always_has_the_eleven_keys_and_is_read_only() -> None:
    result = extract(lines("nulla di utile"))
    assert tuple(result.fields) == FIELDS
    assert all(v is None for v in result.fields.values())
    assert result.status == "incomplete"
    with pytest.raises(TypeError):
        result.fields["pec"] = "x@y.it"  # type: ignore[index]


def test_empty_piva_row_does_not_take_the_next_label_as_value() -> None:
    result = extract(lines("P.IVA:", "Sede legale: Via Roma 1, 20064 Gorgonzola (MI)"))
    assert result.fields["partita_iva"] is None
    assert result.fields["sede_legale"] == "Via Roma 1, 20064 Gorgonzola (MI)"
    result = extract(lines("Partita IVA\t", f"Codice fiscale\t{ORG_CF}"))
    assert result.fields["partita_iva"] is None
    assert result.fields["codice_fiscale"] == ORG_CF


def test_narrative_never_gives_the_personal_codice_fiscale_to_the_ente() -> None:
    text = (f"Il/La sottoscritto/a Giuseppe Mauri nato/a a Roma il 22/08/1958 codice fiscale "
            f"{REP_CF} in qualità di legale rappresentante dell'ente Gruppo Anziani Attivi "
            "(natura giuridica: Associazione non riconosciuta) con sede legale in Viale Assunta "
            f"7, 20040 Cambiago (MI), codice fiscale {ORG_CF}, telefono 3275652512, e-mail "
            "anziani@anzianiattivi.it, PEC anzianiattivi@legalmail.it")
    result = extract(lines(text))
    assert result.fields["codice_fiscale"] == ORG_CF
    assert result.fields["legale_rappresentante"] == "Giuseppe Mauri"
    assert result.fields["denominazione"] == "Gruppo Anziani Attivi"
    assert result.fields["natura_giuridica"] == "associazione"
    assert result.fields["comune"] == "Cambiago"
    assert result.fields["pec"] == "anzianiattivi@legalmail.it"
    assert result.fields["email"] == "anziani@anzianiattivi.it"


def test_narrative_without_organisation_code_returns_none_not_the_personal_one() -> None:
    text = (f"Il sottoscritto Mario Rossi, C.F. {REP_CF}, in qualità di Presidente "
            "dell'Associazione La Rete con sede legale in Via Verdi 3, 20064 Gorgonzola (MI)")
    result = extract(lines(text))
    assert result.fields["codice_fiscale"] is None
    assert result.fields["denominazione"] == "Associazione La Rete"
    assert result.fields["legale_rappresentante"] == "Mario Rossi"


def test_narrative_wrapped_over_lines_like_a_pdf() -> None:
    result = extract(lines(
        "Il/La sottoscritto/a Roberta Sala nato/a a Monza il 27/04/1970 codice fiscale",
        "SLARRT70D67F704Q in qualità di legale rappresentante dell'ente Azienda",
        "Speciale Consortile L'Abbraccio (natura giuridica: Azienda speciale",
        "consortile) con sede legale in Viale Assunta 60, 20040 Cambiago (MI),",
        f"codice fiscale {ORG_CF}, Partita IVA {OTHER_CF}, telefono +39 341",
        "7358385, e-mail segreteria@labbraccio.it, PEC labbraccio@postecert.it",
    ))
    assert result.fields["denominazione"] == "Azienda Speciale Consortile L'Abbraccio"
    assert result.fields["natura_giuridica"] == "ente_pubblico"
    assert result.fields["codice_fiscale"] == ORG_CF
    assert result.fields["partita_iva"] == OTHER_CF
    assert result.fields["telefono"] == "+39 341 7358385"


def test_personal_code_in_a_representative_row_is_not_the_organisations() -> None:
    result = extract(lines("Legale rappresentante\tMarco Rossi", f"Codice fiscale\t{REP_CF}"))
    assert result.fields["codice_fiscale"] is None
    assert any("persona fisica" in w for w in result.warnings)


def test_invalid_check_digit_gives_null_and_a_warning_and_incomplete() -> None:
    rows = [r for r in TABLE if not r.startswith("Codice fiscale")]
    result = extract(lines(*rows, "Codice fiscale\t01849590251"))
    assert result.fields["codice_fiscale"] is None
    assert result.status == "incomplete"
    assert any("cifra di controllo errata" in w and "01849590251" in w for w in result.warnings)


def test_ocr_letter_o_for_zero_is_refused() -> None:
    result = extract(lines("Codice fiscale: 0184959O250"))
    assert result.fields["codice_fiscale"] is None
    assert any("0184959O250" in w for w in result.warnings)


def test_two_different_valid_codes_are_a_contradiction() -> None:
    result = extract(lines(*TABLE, f"C.F.: {OTHER_CF}"))
    assert result.fields["codice_fiscale"] is None
    assert result.status == "needs_review"


@pytest.mark.parametrize("placeholder", [
    "Fare clic o toccare qui per immettere il testo.", "Click or tap here to enter text.",
    "....................", "__________",
])
def test_placeholder_text_is_empty(placeholder: str) -> None:
    result = extract(lines(f"Referente: {placeholder}", f"Partita IVA\t{placeholder}"))
    assert result.fields["referente"] is None
    assert result.fields["partita_iva"] is None


def test_label_line_followed_by_value_line() -> None:
    result = extract(lines("Denominazione ente", "Cooperativa Sociale Porte Aperte",
                           "Codice fiscale", ORG_CF, "Partita IVA", "Sede legale",
                           "Via Roma 1, 20061 Carugate (MI)"))
    assert result.fields["denominazione"] == "Cooperativa Sociale Porte Aperte"
    assert result.fields["codice_fiscale"] == ORG_CF
    assert result.fields["partita_iva"] is None
    assert result.fields["comune"] == "Carugate"
    assert result.fields["natura_giuridica"] == "coop_sociale"


@pytest.mark.parametrize("line", [
    "DENOMINAZIONE: Circolo Futura APS", "denominazione circolo futura aps",
    "Ragione sociale ........ Circolo Futura APS", "Nome dell'organizzazione\tCircolo Futura APS",
    "Denominazione: «Circolo Futura APS»",
])
def test_label_variants_case_colon_and_leaders(line: str) -> None:
    result = extract(lines(line))
    assert (result.fields["denominazione"] or "").casefold() == "circolo futura aps"
    assert result.fields["natura_giuridica"] == "aps"


def test_email_and_pec_follow_their_labels_only() -> None:
    result = extract(lines("E-mail: Futura@Legalmail.IT"))
    assert result.fields["email"] == "futura@legalmail.it"
    assert result.fields["pec"] is None
    result = extract(lines("Posta elettronica certificata: futura@pec.it"))
    assert result.fields["pec"] == "futura@pec.it"
    assert result.fields["email"] is None


def test_referente_lo_stesso_is_the_representative_and_absent_is_none() -> None:
    result = extract(lines("Legale rappresentante: Anna Sala", "Referente: lo stesso"))
    assert result.fields["referente"] == "Anna Sala"
    result = extract(lines("Legale rappresentante: Anna Sala"))
    assert result.fields["referente"] is None


@pytest.mark.parametrize(("text", "code"), [
    ("Associazione di promozione sociale", "aps"), ("APS", "aps"),
    ("Cooperativa sociale", "coop_sociale"), ("Società cooperativa sociale", "coop_sociale"),
    ("Istituzione scolastica", "scuola"), ("Istituto comprensivo", "scuola"),
    ("Azienda speciale consortile", "ente_pubblico"), ("Comune", "ente_pubblico"),
    ("Ente pubblico", "ente_pubblico"), ("Organizzazione di volontariato (ODV)", "odv"),
    ("ODV", "odv"), ("Associazione non riconosciuta", "associazione"),
    ("Fondazione di partecipazione", "fondazione"), ("Impresa sociale S.r.l.", "impresa_sociale"),
    ("Ente religioso", "ente_religioso"), ("Altro", "altro"),
])
def test_natura_giuridica_maps_free_text_to_one_code(text: str, code: str) -> None:
    assert extract(lines(f"Natura giuridica: {text}")).fields["natura_giuridica"] == code


def test_natura_unknown_is_null_and_not_guessed_from_a_plain_name() -> None:
    result = extract(lines("Natura giuridica: boh", "Denominazione: Gruppo Amici"))
    assert result.fields["natura_giuridica"] is None
    result = extract(lines("Denominazione: Gruppo Amici"))
    assert result.fields["natura_giuridica"] is None
    assert extract(lines("Denominazione: Fondazione Orizzonti")).fields[
        "natura_giuridica"] == "fondazione"


@pytest.mark.parametrize(("rows", "expected"), [
    (("X Area Promozione del benessere familiare", "Area Contrasto alla povertà",
      "x Promozione delle autonomie"), ["famiglia", "autonomie"]),
    (("[X] Famiglia", "[ ] Povertà", "[ ] Autonomie"), ["famiglia"]),
    (("Famiglia\tSI", "Povertà\tNO", "Autonomie\tNO"), ["famiglia"]),
    (("✔ Contrasto alla povertà", "□ Benessere familiare", "■ Autonomie"),
     ["poverta", "autonomie"]),
    (("☐ SI ☒ NO Area famiglia",), []),
    (("Area Promozione delle autonomie ☒", "Area Contrasto alla povertà ☐"), ["autonomie"]),
])
def test_checkbox_markers(rows: tuple[str, ...], expected: list[str]) -> None:
    result = extract(lines(*rows))
    assert [t.code for t in result.tavoli] == expected
    assert all(t.rank is None for t in result.tavoli)


def test_ranked_tables_are_ordered_by_rank() -> None:
    result = extract(lines("indicando l'ordine di preferenza (1 = prima scelta):",
                           "–  Area Promozione del benessere familiare",
                           "2  Area Contrasto alla povertà", "1  Area Promozione delle autonomie"))
    assert result.tavoli == (Tavolo("autonomie", 1), Tavolo("poverta", 2))


def test_numbered_list_is_not_a_ranking() -> None:
    result = extract(lines("Tavoli d'area:", "1. Area Promozione del benessere familiare",
                           "2. Area Contrasto alla povertà", "3. Area Promozione delle autonomie"))
    assert result.tavoli == ()
    assert result.status == "incomplete"


def test_tables_mentioned_without_marks_are_not_chosen() -> None:
    result = extract(lines("Tavoli: famiglia, povertà e autonomie"))
    assert result.tavoli == ()


def test_scan_is_needs_review_with_no_values() -> None:
    result = extract(FormContent(format="pdf", lines=(), is_scan=True, image_pages=2))
    assert result.status == "needs_review"
    assert all(v is None for v in result.fields.values())
    assert result.tavoli == ()


def test_ocr_layer_goes_to_review_even_when_complete() -> None:
    assert extract(lines(*TABLE, ocr=True)).status == "needs_review"


def test_missing_contact_makes_the_form_incomplete() -> None:
    rows = [r for r in TABLE if not r.startswith(("E-mail", "PEC"))]
    result = extract(lines(*rows))
    assert result.status == "incomplete"
    assert any("e-mail o PEC" in w for w in result.warnings)


def test_combined_cf_piva_label() -> None:
    result = extract(lines(f"C.F./P.IVA: {ORG_CF}"))
    assert result.fields["codice_fiscale"] == ORG_CF
    assert result.fields["partita_iva"] == ORG_CF
    result = extract(lines(f"Codice fiscale / Partita IVA\t{ORG_CF} / {OTHER_CF}"))
    assert result.fields["codice_fiscale"] == ORG_CF
    assert result.fields["partita_iva"] == OTHER_CF


def test_several_labels_on_one_line() -> None:
    result = extract(lines("Telefono: 02 9292075   E-mail: info@x.it   PEC: x@pec.it"))
    assert result.fields["telefono"] == "02 9292075"
    assert result.fields["email"] == "info@x.it"
    assert result.fields["pec"] == "x@pec.it"


def test_residence_of_the_signer_is_not_the_sede() -> None:
    text = ("Il sottoscritto Luca Riva nato a Milano il 1/1/1970 residente in Via Po 1, 20121 "
            "Milano (MI) in qualità di legale rappresentante della Fondazione Orizzonti")
    result = extract(lines(text))
    assert result.fields["sede_legale"] is None
    assert result.fields["comune"] is None
    assert result.fields["denominazione"] == "Fondazione Orizzonti"


def test_natura_from_a_ticked_list() -> None:
    result = extract(lines("Natura giuridica (barrare): ☐ ODV ☒ APS ☐ Cooperativa sociale ☐ Altro"))
    assert result.fields["natura_giuridica"] == "aps"
    result = extract(lines("Natura giuridica:", "☐ Organizzazione di volontariato",
                           "☒ Cooperativa sociale", "☐ Altro", f"Codice fiscale: {ORG_CF}"))
    assert result.fields["natura_giuridica"] == "coop_sociale"
    assert result.fields["codice_fiscale"] == ORG_CF
    assert extract(lines("Natura giuridica: ☐ ODV ☐ APS")).fields["natura_giuridica"] is None


def test_address_in_separate_rows_is_joined() -> None:
    result = extract(lines("Indirizzo: Via Roma 1", "CAP: 20063",
                           "Comune: Cernusco sul Naviglio", "Provincia: MI"))
    assert result.fields["sede_legale"] == "Via Roma 1, 20063 Cernusco sul Naviglio (MI)"
    assert result.fields["comune"] == "Cernusco sul Naviglio"


def test_name_rows_under_person_headings() -> None:
    result = extract(lines("Dati del legale rappresentante", "Nome e cognome: Mario Rossi",
                           f"Codice fiscale: {REP_CF}", "Dati del referente",
                           "Nominativo\tAnna Sala", "Dati dell'ente", f"Codice fiscale: {ORG_CF}"))
    assert result.fields["legale_rappresentante"] == "Mario Rossi"
    assert result.fields["referente"] == "Anna Sala"
    assert result.fields["codice_fiscale"] == ORG_CF


@pytest.mark.parametrize("rows", [
    ("Tavolo\tScelta", "Area Promozione del benessere familiare\tX",
     "Area Contrasto alla povertà\t", "Area Promozione delle autonomie\tX"),
    ("Famiglia\tPovertà\tAutonomie", "X\t\tX"),
    ("☒ Famiglia   ☐ Povertà   ☒ Autonomie",),
    ("Famiglia ☒   Povertà ☐   Autonomie ☒",),
    ("☒ Area Promozione del benessere familiare (famiglie, minori, pari opportunità)",
     "☐ Area Contrasto alla povertà (lavoro, inclusione dei soggetti fragili, casa)",
     "☒ Area Promozione delle autonomie (disabilità, anziani, caregiver familiari)"),
])
def test_tables_in_grids_rows_and_with_descriptions(rows: tuple[str, ...]) -> None:
    assert [t.code for t in extract(lines(*rows)).tavoli] == ["famiglia", "autonomie"]


def test_rank_in_a_preference_column() -> None:
    result = extract(lines("Tavolo\tPreferenza", "Area Promozione del benessere familiare\t2",
                           "Area Contrasto alla povertà\t1", "Area Promozione delle autonomie\t"))
    assert result.tavoli == (Tavolo("poverta", 1), Tavolo("famiglia", 2))
