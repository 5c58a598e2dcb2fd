"""Regression tests for wrong values found in review: each would have put a value in the
database that the form does not state (a wrong value is worse than a missing one)."""

from __future__ import annotations

import pytest

from parsers.allegato import Extraction, extract
from parsers.content import FormContent
from parsers.labels import LabelMatcher
from parsers.structured import label_groups
from parsers.vocabulary import DEFAULT_VOCABULARY

CF = "97512340155"
HEAD = ("Denominazione: Associazione Il Ponte APS", f"Codice fiscale: {CF}",
        "Legale rappresentante: Mario Rossi")
TAVOLI = ("Tavoli:", "☒ Area Promozione del benessere familiare",
          "☐ Area Contrasto alla povertà", "☐ Area Promozione delle autonomie")


def run(*text: str) -> Extraction:
    return extract(FormContent(format="docx", lines=tuple(text)))


def test_email_and_pec_in_one_cell_are_split_by_domain_not_by_position() -> None:
    for line in ("E-mail / PEC\tilponte@pec.it - info@ilponte.it",
                 "PEC/E-mail: info@ilponte.it, ilponte@pec.it",
                 "E-mail/PEC: ilponte@pec.it; info@ilponte.it"):
        result = run(*HEAD, line, *TAVOLI)
        assert result.fields["email"] == "info@ilponte.it", line
        assert result.fields["pec"] == "ilponte@pec.it", line


def test_email_and_pec_in_one_cell_undecidable_gives_null_and_warning() -> None:
    result = run(*HEAD, "E-mail/PEC: uno@ilponte.it, due@ilponte.it", *TAVOLI)
    assert result.fields["email"] is None
    assert result.fields["pec"] is None
    assert any("non distinguibili" in w for w in result.warnings)


def test_pec_or_certificata_qualifier_after_an_email_label_makes_it_the_pec() -> None:
    for line, address in (("Indirizzo e-mail (PEC): ilponte@pec.it", "ilponte@pec.it"),
                          ("E-mail certificata: ilponte@legalmail.it", "ilponte@legalmail.it"),
                          ("Indirizzo e-mail (PEC)\tilponte@pec.it", "ilponte@pec.it")):
        result = run(line, *HEAD, *TAVOLI)
        assert result.fields["pec"] == address, line
        assert result.fields["email"] is None, line


def test_home_address_of_the_representative_is_not_the_sede_legale() -> None:
    result = run("DATI DEL LEGALE RAPPRESENTANTE", "Nome e cognome: Mario Rossi",
                 "Indirizzo di residenza: Via Verdi 3, 20121 Milano",
                 "Domicilio: Via Bianchi 4, 20121 Milano", "DATI DELL'ENTE", *HEAD,
                 "E-mail: info@ilponte.it", *TAVOLI)
    assert result.fields["sede_legale"] is None
    assert result.fields["comune"] is None


def test_birthplace_is_neither_the_comune_nor_appended_to_the_address() -> None:
    result = run("Nome e cognome del legale rappresentante: Mario Rossi",
                 "Comune di nascita: Milano", *HEAD[:2],
                 "Sede legale: Via Roma 1, 20080 Zelo Surrigone (MI)",
                 "E-mail: info@ilponte.it", *TAVOLI)
    assert result.fields["sede_legale"] == "Via Roma 1, 20080 Zelo Surrigone (MI)"
    assert result.fields["comune"] is None
    assert any("comune della sede legale non riconosciuto" in w for w in result.warnings)


def test_a_comune_row_is_not_appended_to_an_address_that_names_its_place() -> None:
    result = run(*HEAD, "Sede legale: Via Roma 1, 20080 Zelo Surrigone (MI)", "Comune: Milano",
                 "E-mail: info@ilponte.it", *TAVOLI)
    assert result.fields["sede_legale"] == "Via Roma 1, 20080 Zelo Surrigone (MI)"


def test_weak_label_with_filler_words_is_not_a_label() -> None:
    result = run("Ente capofila: Comune di Cernusco sul Naviglio",
                 "ALLEGATO 1 - Manifestazione di interesse", *HEAD,
                 "E-mail: info@ilponte.it", *TAVOLI)
    assert result.fields["denominazione"] == "Associazione Il Ponte APS"
    assert result.fields["natura_giuridica"] == "aps"


def test_comune_is_never_a_prefix_or_a_word_of_the_place_after_the_cap() -> None:
    for address, comune in (("Via Roma 1, 19028 Varese Ligure (SP)", "Varese Ligure"),
                            ("Via Roma 1, 33050 Pavia di Udine (UD)", "Pavia di Udine"),
                            ("Via Dante 2, 66020 Torino di Sangro (CH)", "Torino di Sangro"),
                            ("Piazzetta Milano 1, 24030 Brembate di Sopra (BG)",
                             "Brembate di Sopra"),
                            ("Via Roma 1, Varese Ligure (SP)", "Varese Ligure")):
        result = run(*HEAD, f"Sede legale: {address}", "E-mail: info@ilponte.it", *TAVOLI)
        assert result.fields["sede_legale"] == address
        assert result.fields["comune"] == comune, address


def test_a_place_missing_from_the_istat_list_is_not_a_comune() -> None:
    for address in ("Via Roma 1, 19028 Varese Marina (SP)", "Via Roma 1, Atlantide (SP)"):
        result = run(*HEAD, f"Sede legale: {address}", "E-mail: info@ilponte.it", *TAVOLI)
        assert result.fields["sede_legale"] == address
        assert result.fields["comune"] is None, address
        assert any("comune della sede legale non riconosciuto" in w for w in result.warnings)


def test_comune_after_the_cap_still_found_when_exact() -> None:
    result = run(*HEAD, "Sede legale: Via Roma 1, 20063 Cernusco sul Naviglio MI",
                 "E-mail: info@ilponte.it", *TAVOLI)
    assert result.fields["comune"] == "Cernusco sul Naviglio"


def test_a_mark_in_the_no_column_means_not_chosen() -> None:
    for yes, no in (("☒", "☐"), ("X", "")):
        result = run(*HEAD, "E-mail: info@ilponte.it", "Chiede di partecipare ai seguenti tavoli:",
                     "Tavolo\tSI\tNO", f"Area Promozione del benessere familiare\t{yes}\t{no}",
                     f"Area Contrasto alla povertà\t{no}\t{yes}",
                     f"Area Promozione delle autonomie\t{no}\t{yes}")
        assert [t.code for t in result.tavoli] == ["famiglia"], (yes, no)


def test_marks_in_both_si_and_no_columns_are_a_contradiction() -> None:
    result = run(*HEAD, "E-mail: info@ilponte.it", "Tavolo\tSI\tNO",
                 "Area Promozione del benessere familiare\t☒\t☒",
                 "Area Contrasto alla povertà\t☒\t☐")
    assert [t.code for t in result.tavoli] == ["poverta"]
    assert any("contraddittoria per il tavolo famiglia" in w for w in result.warnings)


def test_leading_list_number_is_not_a_preference_rank() -> None:
    result = run(*HEAD, "E-mail: info@ilponte.it",
                 "Tavoli d'area (indicare l'ordine di preferenza):",
                 "1. Area Promozione del benessere familiare\t2",
                 "2. Area Contrasto alla povertà\t", "3. Area Promozione delle autonomie\t1")
    assert [(t.code, t.rank) for t in result.tavoli] == [("autonomie", 1), ("famiglia", 2)]


def test_a_number_inside_a_description_is_not_a_rank() -> None:
    result = run(*HEAD, "E-mail: info@ilponte.it", "Indicare l'ordine di preferenza:",
                 "Area Promozione del benessere familiare (famiglie, minori, 3 fasce d'età) 1")
    assert [(t.code, t.rank) for t in result.tavoli] == [("famiglia", 1)]


def test_a_signer_who_is_not_the_representative_is_not_taken_as_one() -> None:
    result = run("Il sottoscritto Luca Bianchi, nato a Milano il 02/03/1975, in qualità di "
                 "coordinatore della Cooperativa Sociale Il Sole, con sede legale in Via Roma 1, "
                 f"20063 Cernusco sul Naviglio (MI), codice fiscale {CF}, e-mail info@ilsole.it",
                 "MANIFESTA il proprio interesse", *TAVOLI)
    assert result.fields["legale_rappresentante"] is None
    assert any("non si dichiara legale rappresentante" in w for w in result.warnings)
    assert result.status == "incomplete"


def test_a_delegate_signer_names_the_representative() -> None:
    result = run("Il sottoscritto Luca Bianchi, delegato dal legale rappresentante Mario Rossi, "
                 "per conto della Cooperativa Sociale Il Sole", *TAVOLI)
    assert result.fields["legale_rappresentante"] == "Mario Rossi"
    result = run("Il sottoscritto Luca Bianchi, delegato dal legale rappresentante, "
                 "per conto della Cooperativa Sociale Il Sole", *TAVOLI)
    assert result.fields["legale_rappresentante"] is None
    assert any("legale rappresentante da verificare" in w for w in result.warnings)


def test_a_signer_who_is_presidente_is_the_representative() -> None:
    result = run("Il sottoscritto Mario Rossi, in qualità di Presidente dell'associazione "
                 "Il Ponte APS", *TAVOLI)
    assert result.fields["legale_rappresentante"] == "Mario Rossi"


def test_natura_boxes_after_their_labels() -> None:
    result = run("Denominazione: Il Ponte", *HEAD[1:], "E-mail: info@ilponte.it",
                 "Natura giuridica: ODV ☐ APS ☒ Cooperativa sociale ☐", *TAVOLI)
    assert result.fields["natura_giuridica"] == "aps"
    result = run("Denominazione: Il Ponte", *HEAD[1:], "E-mail: info@ilponte.it",
                 "Natura giuridica: ☐ ODV ☒ APS ☐ Cooperativa sociale", *TAVOLI)
    assert result.fields["natura_giuridica"] == "aps"


def test_natura_boxes_on_both_sides_give_null_and_warning() -> None:
    result = run("Denominazione: Il Ponte", *HEAD[1:], "E-mail: info@ilponte.it",
                 "Natura giuridica: ☐ ODV ☒ APS ☐", *TAVOLI)
    assert result.fields["natura_giuridica"] is None
    assert any("natura giuridica" in w for w in result.warnings)


def test_many_unclosed_parentheses_take_linear_time() -> None:
    import time

    text = tuple(f"(E-mail: a@b.it {i:012d}" for i in range(8000))
    start = time.perf_counter()
    result = run(*text)
    assert time.perf_counter() - start < 20  # quadratic took 57 s; linear ~1 s
    assert result.status != "complete"
    flow = "\n".join(text)  # the narrative reader's single flow, beyond the extractor's bound
    start = time.perf_counter()
    groups = label_groups(flow, LabelMatcher(DEFAULT_VOCABULARY))
    assert time.perf_counter() - start < 20  # quadratic took 57 s; linear ~1 s
    assert len(groups) == 8000


def test_a_document_beyond_the_bound_is_cut_and_never_complete() -> None:
    filler = tuple("Testo della dichiarazione senza dati." for _ in range(2500))
    result = run(*HEAD, "E-mail: info@ilponte.it", *TAVOLI, *filler)
    assert result.fields["denominazione"] == "Associazione Il Ponte APS"
    assert result.status == "needs_review"
    assert any("documento troppo lungo" in w for w in result.warnings)
    short = run(*HEAD, "E-mail: info@ilponte.it", *TAVOLI, *filler[:100])
    assert short.status == "complete"


def test_both_readers_use_one_symbol_font_table() -> None:
    from parsers.content import CHECKED, UNCHECKED
    from parsers.docx_text import _symbol_text
    from parsers.glyphs import WINGDINGS, WINGDINGS2, wingdings_glyph
    from parsers.pdf_checkbox import glyph_state

    for font, table in (("Wingdings", WINGDINGS), ("Wingdings 2", WINGDINGS2)):
        for code, on in table.items():
            expected = CHECKED if on else UNCHECKED
            assert glyph_state(chr(code), font) == expected, (font, hex(code))
            assert _symbol_text(chr(code), font.lower()) == expected, (font, hex(code))
            assert wingdings_glyph(f"F0{code:02X}", font) == expected, (font, hex(code))
    assert glyph_state("\uf0fe", "Calibri") == CHECKED
    assert glyph_state("\uf0fe", "Symbol") is None
    assert wingdings_glyph("F0FE") == CHECKED and wingdings_glyph("F0A8") == UNCHECKED


@pytest.mark.parametrize(("statement", "representative"), [
    ("in qualità di dirigente scolastico dell'Istituto Comprensivo Futura", "Mario Rossi"),
    ("in qualità di direttore e legale rappresentante della Fondazione Futura", "Mario Rossi"),
    ("in qualità di parroco della Parrocchia San Giuseppe", "Mario Rossi"),
    ("in qualità di coordinatore della Cooperativa Futura", None),
])
def test_offices_that_carry_legal_representation(statement: str,
                                                 representative: str | None) -> None:
    lines = (f"Il sottoscritto Mario Rossi, {statement}", "Denominazione: Ente Futura",
             "Codice fiscale: 96923220535", "E-mail: info@futura.it",
             "☒ Area Promozione del benessere familiare")
    got = extract(FormContent(format="docx", lines=lines, text_chars=300))
    assert got.fields["legale_rappresentante"] == representative
