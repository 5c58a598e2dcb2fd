"""The reader's principles, each on forms it was not written for: a value is what the
applicant wrote (never the form's own words), never the recipient's data, ends where its
clause ends, and names are "Nome Cognome" without their labels."""

from __future__ import annotations

import pytest

from parsers.allegato import Extraction, extract
from parsers.content import CELL_SEPARATOR, FormContent
from parsers.vocabulary import DEFAULT_VOCABULARY, Vocabulary
from pec_ingest.config import parse_config

CF = "97512340155"
HEAD = ("Denominazione: Associazione Il Ponte APS", f"Codice fiscale: {CF}",
        "Legale rappresentante: Mario Rossi")
TAVOLI = ("Tavoli:", "☒ Area Promozione del benessere familiare",
          "☐ Area Contrasto alla povertà", "☐ Area Promozione delle autonomie")
OFFICE = DEFAULT_VOCABULARY.with_recipient(
    addresses=["protocollo@pec.comune.esempio.it"], domains=["comune.esempio.it"],
    phones=["02 1234 567"], codes=["80012345678"])


def run(*text: str, vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> Extraction:
    return extract(FormContent(format="docx", lines=tuple(text)), vocabulary)


def cells(*parts: str) -> str:
    return CELL_SEPARATOR.join(parts)


@pytest.mark.parametrize("hint", ["cognome e nome", "(nome e cognome)", "Città",
                                  "indicare il nominativo", "Nome Cognome"])
def test_the_forms_own_words_are_never_a_name(hint: str) -> None:
    result = run(*HEAD, cells("Referente", hint), "E-mail: info@ilponte.it", *TAVOLI)
    assert result.fields["referente"] is None
    assert hint == "Città" or any("testo del modulo" in w for w in result.warnings)


@pytest.mark.parametrize(("label", "field", "hint"), [
    ("Sede legale", "sede_legale", "via, numero civico, città"),
    ("Ragione sociale", "denominazione", "Abbreviazione / sigla"),
    ("Comune", "comune", "città"),
    ("Presidente", "legale_rappresentante", "(cognome e nome)"),
])
def test_hints_in_blanks_are_not_values(label: str, field: str, hint: str) -> None:
    result = run(cells(label, hint), *HEAD[1:], "E-mail: info@ilponte.it", *TAVOLI)
    assert result.fields[field] in (None, "Mario Rossi")


def test_a_real_value_with_a_label_word_in_it_is_kept() -> None:
    result = run(cells("Denominazione", "Comune di Bussero"), cells("Sede legale",
                 "Piazza Diritti dei Bambini 1, 20041 Bussero (MI)"), f"Codice fiscale: {CF}",
                 "Legale rappresentante: Nome Monica Cognome Marchetti", *TAVOLI)
    assert result.fields["denominazione"] == "Comune di Bussero"
    assert result.fields["comune"] == "Bussero"
    assert result.fields["legale_rappresentante"] == "Monica Marchetti"


@pytest.mark.parametrize("written", ["Cognome Marchetti Nome Monica",
                                     "COGNOME: MARCHETTI NOME: MONICA",
                                     "Nome Monica, Cognome Marchetti"])
def test_name_labels_are_not_part_of_the_name(written: str) -> None:
    result = run(*HEAD[:2], f"Legale rappresentante: {written}", "E-mail: a@ilponte.it", *TAVOLI)
    assert result.fields["legale_rappresentante"] == "Monica Marchetti"


def test_the_recipients_contacts_and_code_are_never_the_applicants() -> None:
    result = run("Informazioni sul bando: Ufficio di Piano",
                 "PEC: protocollo@pec.comune.esempio.it",
                 "Tel. 02 1234567 - e-mail: servizisociali@comune.esempio.it",
                 "C.F. 80012345678", *HEAD, "Telefono: 333 1234567",
                 "E-mail: info@ilponte.it", "PEC: ilponte@pec.it", *TAVOLI, vocabulary=OFFICE)
    assert result.fields["pec"] == "ilponte@pec.it"
    assert result.fields["email"] == "info@ilponte.it"
    assert result.fields["telefono"] == "333 1234567"
    assert result.fields["codice_fiscale"] == CF
    assert any("ufficio destinatario" in w for w in result.warnings)


def test_only_the_recipients_contacts_give_null_not_the_recipients() -> None:
    result = run(*HEAD, "E-mail: servizisociali@comune.esempio.it", *TAVOLI, vocabulary=OFFICE)
    assert result.fields["email"] is None


def test_the_office_section_reaches_the_reader() -> None:
    config = parse_config({"office": {"addresses": ["ufficio@comune.esempio.it"],
                                      "phones": ["02 1234 567"], "domains": [],
                                      "codici_fiscali": ["80012345678"]}})
    vocabulary = config.vocabulary
    assert "ufficio@comune.esempio.it" in vocabulary.own_addresses
    assert config.procedure.address in vocabulary.own_addresses
    result = run(*HEAD, "Telefono: +39 02 1234567", "E-mail: ufficio@comune.esempio.it",
                 *TAVOLI, vocabulary=vocabulary)
    assert result.fields["telefono"] is None
    assert result.fields["email"] is None


def test_a_value_ends_where_its_clause_ends() -> None:
    line = ("sede legale: Via Torino 49 – 20060 Bellinzago Lombardo (MI), codice fiscale "
            f"dell'ente {CF}, recapito telefonico 02 9999999, indirizzo PEC ilponte@pec.it")
    result = run("Denominazione: Associazione Il Ponte APS", "Legale rappresentante: Mario Rossi",
                 line, *TAVOLI)
    assert result.fields["sede_legale"] == "Via Torino 49 – 20060 Bellinzago Lombardo (MI)"
    assert result.fields["comune"] == "Bellinzago Lombardo"
    assert result.fields["codice_fiscale"] == CF
    assert result.fields["pec"] == "ilponte@pec.it"


def test_narrative_prose_read_by_its_sentence_structure() -> None:
    prose = ("Io sottoscritto/a Pietro Lombardi, nato/a a Monza il 12/03/1968, C.F. "
             "LMBPTR68C12F704X, legale rappresentante dell'organizzazione denominata «Passo "
             "dopo Passo APS» avente forma giuridica di associazione di promozione sociale, sede "
             "legale: Via Torino 49 – 20060 Bellinzago Lombardo (MI), codice fiscale dell'ente "
             f"{CF}, Partita IVA non posseduta, recapito telefonico 02 9999999, indirizzo PEC "
             "passo@pec.it, e indica come persona di riferimento per i tavoli Rosa Sironi.")
    result = run(prose, *TAVOLI)
    assert result.fields["denominazione"] == "Passo dopo Passo APS"
    assert result.fields["natura_giuridica"] == "aps"
    assert result.fields["codice_fiscale"] == CF
    assert result.fields["sede_legale"] == "Via Torino 49 – 20060 Bellinzago Lombardo (MI)"
    assert result.fields["legale_rappresentante"] == "Pietro Lombardi"
    assert result.fields["referente"] == "Rosa Sironi"
    assert result.fields["pec"] == "passo@pec.it"


def test_narrative_with_the_comune_before_the_street() -> None:
    prose = ("La sottoscritta Rosa Sironi, in qualità di Presidente pro tempore dell'ente "
             "denominato \"Il Faro\", organizzazione di volontariato, con sede in Bussero "
             f"(20060), Piazza Matteotti 43, codice fiscale dell'ente {CF}, indirizzo PEC "
             "ilfaro@pec.it")
    result = run(prose, *TAVOLI)
    assert result.fields["denominazione"] == "Il Faro"
    assert result.fields["natura_giuridica"] == "odv"
    assert result.fields["comune"] == "Bussero"
    assert result.fields["sede_legale"] == "Bussero (20060), Piazza Matteotti 43"


def test_an_addressee_block_nobody_configured_is_not_the_applicant() -> None:
    result = run("Spett.le Azienda Speciale Consortile Insieme",
                 "Via Roma 10 – 20064 Gorgonzola (MI)",
                 "PEC: protocollo@pec.insieme.it – Tel. 02 9512345", "C.F. 80012345678", "",
                 "OGGETTO: domanda di partecipazione", *HEAD, "Telefono: 333 1234567",
                 "PEC: ilponte@pec.it", *TAVOLI)
    assert result.fields["pec"] == "ilponte@pec.it"
    assert result.fields["telefono"] == "333 1234567"
    assert result.fields["codice_fiscale"] == CF
    assert result.fields["sede_legale"] is None


def test_lines_starting_al_or_ai_in_prose_are_not_an_addressee() -> None:
    result = run("Ai sensi del D.P.R. 445/2000", "Al fine di partecipare ai tavoli", *HEAD,
                 "PEC: ilponte@pec.it", *TAVOLI)
    assert result.fields["codice_fiscale"] == CF
    assert result.fields["pec"] == "ilponte@pec.it"


def test_a_proxys_section_is_not_the_applicants() -> None:
    proxy = ("DATI DEL DELEGATO (procura speciale allegata)",
             cells("Nome e cognome", "Anna Riva"),
             cells("E-mail", "a.riva@studio.it"), cells("PEC", "studio@pec.it"),
             cells("Telefono", "02 8888888"))
    own = ("DATI DELL'ENTE", cells("Denominazione", "Associazione Il Ponte APS"),
           cells("Codice fiscale", CF), cells("Legale rappresentante", "Mario Rossi"),
           cells("E-mail", "info@ilponte.it"), cells("PEC", "ilponte@pec.it"))
    result = run(*proxy, *own, *TAVOLI)
    assert result.fields["email"] == "info@ilponte.it"
    assert result.fields["pec"] == "ilponte@pec.it"
    assert result.fields["telefono"] is None
    assert result.fields["legale_rappresentante"] == "Mario Rossi"


def test_surname_and_name_rows_under_the_representatives_heading() -> None:
    result = run(*HEAD[:2], "DATI DEL LEGALE RAPPRESENTANTE", cells("Cognome", "Marchetti"),
                 cells("Nome", "Monica"), "E-mail: info@ilponte.it", *TAVOLI)
    assert result.fields["legale_rappresentante"] == "Monica Marchetti"


@pytest.mark.parametrize("written", ["Il Melograno Cooperativa Sociale", "Gruppo Volontari ODV",
                                     "Fondazione Aquilone"])
def test_an_organisations_name_is_never_a_person(written: str) -> None:
    result = run(*HEAD[:2], f"Legale rappresentante: {written}", "E-mail: a@ilponte.it",
                 *TAVOLI)
    assert result.fields["legale_rappresentante"] is None
    assert any("nome di un ente" in w for w in result.warnings)


def test_a_persons_name_is_never_the_organisations() -> None:
    result = run(cells("Denominazione", "Mario Rossi"), f"Codice fiscale: {CF}",
                 "Legale rappresentante: Rossi Mario", "E-mail: a@ilponte.it", *TAVOLI)
    assert result.fields["denominazione"] is None
    assert result.fields["legale_rappresentante"] == "Rossi Mario"


def test_a_checkbox_caption_is_not_a_value() -> None:
    result = run(cells("Denominazione", "☐ SUE"), *HEAD[1:], "E-mail: a@ilponte.it", *TAVOLI)
    assert result.fields["denominazione"] is None


def test_words_after_a_label_in_a_label_cell_qualify_it() -> None:
    result = run(cells("DENOMINAZIONE O RAGIONE SOCIALE", "Associazione Il Ponte APS"),
                 cells("CODICE FISCALE DEL SOGGETTO", CF),
                 cells("REFERENTE OPERATIVO", "Anna Riva"), "Legale rappresentante: Mario Rossi",
                 "E-mail: a@ilponte.it", *TAVOLI)
    assert result.fields["denominazione"] == "Associazione Il Ponte APS"
    assert result.fields["codice_fiscale"] == CF
    assert result.fields["referente"] == "Anna Riva"


def test_a_partner_organisations_section_is_not_the_applicants() -> None:
    result = run(*HEAD, cells("PEC", "ilponte@pec.it"),
                 "ENTE PARTNER (in caso di partenariato)",
                 cells("Denominazione", "Comitato Sentieri"),
                 cells("Codice fiscale", "15299490910"),
                 cells("PEC", "sentieri@pec.it"), *TAVOLI)
    assert result.fields["pec"] == "ilponte@pec.it"
    assert result.fields["codice_fiscale"] == CF
    assert result.fields["denominazione"] == "Associazione Il Ponte APS"


def test_quotes_delimit_the_name_after_the_bodys_kind() -> None:
    result = run("Il sottoscritto Mario Rossi, nella sua qualità di Presidente e legale "
                 "rappresentante dell'associazione «Il Ponte», con sede legale in Via Roma 3 a "
                 f"Gessate (MI), C.F. {CF}, PEC ilponte@pec.it", *TAVOLI)
    assert result.fields["denominazione"] == "Il Ponte"
    assert result.fields["comune"] == "Gessate"


def test_a_declaration_typed_into_underscored_blanks() -> None:
    lines = ("Il/La sottoscritto/a __Monica Marchetti__ nato/a a __Monza__ il __12/03/1970__ "
             "residente a __Bussero__ in via __Verdi__ n. __3__",
             "in qualità di __Presidente__ dell'ente __Associazione Il Faro APS__",
             "con sede in __Gessate__ via __Roma__ n. __12__ CAP __20060__",
             f"C.F. __{CF}__ P.IVA ______________ tel. __02 9512345__ PEC __ilfaro@pec.it__",
             "e-mail ____info@ilfaro.org____", *TAVOLI)
    result = run(*lines)
    assert result.fields["denominazione"] == "Associazione Il Faro APS"
    assert result.fields["legale_rappresentante"] == "Monica Marchetti"
    assert result.fields["codice_fiscale"] == CF
    assert result.fields["partita_iva"] is None
    assert result.fields["comune"] == "Gessate"
    assert result.fields["email"] == "info@ilfaro.org"
    assert result.fields["pec"] == "ilfaro@pec.it"
