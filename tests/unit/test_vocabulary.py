"""The vocabulary: defaults and extension from configuration."""

from __future__ import annotations

from typing import Any

import pytest

from parsers.allegato import extract
from parsers.content import FormContent
from parsers.labels import LabelMatcher, _first_character
from parsers.vocabulary import DEFAULT_VOCABULARY, FIELD_NAMES, fold


def test_default_vocabulary_covers_every_field_natura_and_tavolo() -> None:
    assert set(DEFAULT_VOCABULARY.labels) == set(FIELD_NAMES)
    assert set(DEFAULT_VOCABULARY.tavoli) == {"famiglia", "poverta", "autonomie"}
    assert "altro" in DEFAULT_VOCABULARY.natura
    assert "Fare clic o toccare qui per immettere il testo." in DEFAULT_VOCABULARY.placeholders


def test_extended_adds_a_label_that_the_extractor_then_reads() -> None:
    content = FormContent(format="docx", lines=("Delegato ai tavoli: Anna Sala",))
    assert extract(content).fields["referente"] is None
    vocabulary = DEFAULT_VOCABULARY.extended({"labels": {"referente": ["Delegato ai tavoli"]}})
    assert extract(content, vocabulary).fields["referente"] == "Anna Sala"
    assert "Delegato ai tavoli" not in DEFAULT_VOCABULARY.labels["referente"]


def test_extended_tavoli_natura_and_placeholders() -> None:
    vocabulary = DEFAULT_VOCABULARY.extended({
        "tavoli": {"famiglia": ["Tavolo minori"]}, "natura": {"altro": ["comitato civico"]},
        "placeholders": {"add": ["Scrivere qui"]},
    })
    content = FormContent(format="docx", lines=(
        "☒ Tavolo minori", "Natura giuridica: Comitato civico", "Referente: Scrivere qui"))
    result = extract(content, vocabulary)
    assert [t.code for t in result.tavoli] == ["famiglia"]
    assert result.fields["natura_giuridica"] == "altro"
    assert result.fields["referente"] is None


@pytest.mark.parametrize(("extra", "message"), [
    ({"etichette": {"referente": ["x"]}}, "sezione sconosciuta"),
    ({"labels": {"referent": ["x"]}}, "referent"),
    ({"tavoli": {"anziani": ["x"]}}, "anziani"),
    ({"natura": {"onlus": ["x"]}}, "onlus"),
    ({"labels": {"referente": "Delegato"}}, "lista"),
])
def test_extended_refuses_unknown_names_with_a_clear_message(extra: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DEFAULT_VOCABULARY.extended(extra)


def test_fold_ignores_case_accents_and_curly_apostrophes() -> None:
    assert fold("Povertà DELL’ENTE") == "poverta dell'ente"


def test_labels_are_found_with_or_without_the_first_character_lookahead() -> None:
    assert _first_character(["Codice fiscale", "Partita IVA"]).startswith("(?=[")
    assert _first_character(["-Codice fiscale", "PEC"]) == ""  # an optional leading hyphen
    assert _first_character(["", "PEC"]) == ""
    extra = DEFAULT_VOCABULARY.extended({"labels": {"referente": ["-delegato"]}})
    text = "Codice fiscale: 96311650558 – delegato: Anna Neri; PEC: a@pec.it"
    assert [h.field for h in LabelMatcher(extra).hits(text)] == [
        "codice_fiscale", "referente", "pec"]
