"""Template-aware reading: the office's own blank, filled in the ways applicants fill it (DOCX,
a PDF written over with an editor, an AcroForm), is read slot by slot; the blank's own words
are never values; a document that does not follow the blank falls back to the generic reader
and the warning says which reader was used."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from parsers.allegato import extract, prepare_lines
from parsers.content import FormContent
from parsers.docx_form import read_docx
from parsers.labels import LabelMatcher
from parsers.pdf_form import read_pdf
from parsers.template import build_template
from parsers.vocabulary import DEFAULT_VOCABULARY, FIELD_NAMES, Vocabulary
from pec_ingest.commands.template_cmd import describe
from pec_ingest.config import parse_config
from pec_ingest.errors import ConfigError
from pec_ingest.samples.template_forms import SIGNER_MAPPING, template_docx, template_pdf
from pec_ingest.samples.variants import make_applicant
from pec_ingest.scoring import field_equal

Builder = Callable[..., bytes]
KINDS: dict[str, tuple[Builder, Callable[[bytes], object], dict[str, bool]]] = {
    "docx": (template_docx, read_docx, {}),
    "pdf_written_over": (template_pdf, read_pdf, {}),
    "acroform": (template_pdf, read_pdf, {"acroform": True}),
}


def office_vocabulary(kind: str) -> Vocabulary:
    build, reader, options = KINDS[kind]
    blank = reader(build(None, **options)).lines  # type: ignore[attr-defined]
    return DEFAULT_VOCABULARY.with_templates([("allegato1.docx", blank)], SIGNER_MAPPING)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("seed", range(6))
def test_a_filled_blank_is_read_slot_by_slot(kind: str, seed: int) -> None:
    build, reader, options = KINDS[kind]
    app = make_applicant(random.Random(f"template-{seed}"))
    result = extract(reader(build(app, **options)), office_vocabulary(kind))  # type: ignore[arg-type]
    for name in FIELD_NAMES:
        want, got = app.values[name], result.fields[name]
        assert (got is None and want is None) or (
            got is not None and want is not None and field_equal(name, got, want)), \
            f"{kind} {name}: {got!r} != {want!r}"
    assert sorted(t.code for t in result.tavoli) == sorted(app.tavoli)
    assert any("letto con il modello dell'ufficio" in w for w in result.warnings)


def test_the_blanks_own_words_are_never_values() -> None:
    blank = read_docx(template_docx()).lines
    result = extract(read_docx(template_docx()), office_vocabulary("docx"))
    assert all(value is None for value in result.fields.values()), result.fields
    assert "(cognome e nome)" in blank


def test_a_form_that_does_not_follow_the_blank_is_read_by_the_generic_reader() -> None:
    other = (*read_docx(template_docx()).lines[:2], "Denominazione: Associazione Il Ponte APS",
             "Codice fiscale: 97512340155")
    result = extract(FormContent(format="docx", lines=other), office_vocabulary("docx"))
    assert result.fields["denominazione"] == "Associazione Il Ponte APS"
    assert any("non segue il modello" in w for w in result.warnings)


def test_template_check_maps_the_labels_and_lists_the_rest() -> None:
    lines = prepare_lines(read_docx(template_docx()).lines, DEFAULT_VOCABULARY)
    template = build_template("allegato1.docx", lines, LabelMatcher(DEFAULT_VOCABULARY))
    fields = {s.label: s.field for s in template.slots}
    assert fields["Nome dell'ente"] == "denominazione"
    assert fields["Indirizzo della sede legale (via, n., CAP, città)"] == "sede_legale"
    assert fields["Il/La sottoscritto/a (cognome e nome)"] is None
    assert fields["Abbreviazione"] is None
    report = "\n".join(describe(template.slots))
    assert "«Abbreviazione»" in report.split("non riconosciuti")[1]
    mapped = build_template("x", lines, LabelMatcher(DEFAULT_VOCABULARY), dict(SIGNER_MAPPING))
    assert {s.label: s.field for s in mapped.slots}[
        "Il/La sottoscritto/a (cognome e nome)"] == "legale_rappresentante"


def test_the_configuration_loads_the_blank_and_the_mapping(tmp_path: Path) -> None:
    (tmp_path / "allegato1.pdf").write_bytes(template_pdf())
    config = parse_config({"procedure": {
        "template": ["allegato1.pdf"],
        "template_labels": [{"label": "Il/La sottoscritto/a (cognome e nome)",
                             "field": "legale_rappresentante"}]}},
        source=tmp_path / "config.toml")
    assert config.vocabulary.templates[0][0] == "allegato1.pdf"
    assert config.vocabulary.template_labels == SIGNER_MAPPING
    with pytest.raises(ConfigError, match=r"non leggibile|impossibile leggere") as raised:
        parse_config({"procedure": {"template": ["manca.pdf"],
                                    "template_labels": [{"label": "x", "field": "nome"}]}},
                     source=tmp_path / "config.toml")
    assert "campo sconosciuto 'nome'" in str(raised.value)


def test_text_typed_over_dotted_leaders_is_read_without_the_dots() -> None:
    """A PDF editor places the typed text a little above the dotted line: the reader gets the
    letters interleaved with the leader's dots ("..A..s.s..o"); the dots are the blank's."""
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    rows = [("Denominazione", "Associazione Il Faro APS"), ("Codice fiscale", "97512340155"),
            ("Legale rappresentante", "Monica Marchetti"),
            ("Sede legale", "Via Roma 12, 20060 Gessate (MI)"), ("PEC", "ilfaro@pec.it")]
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=True)
    for number, (label, value) in enumerate(rows):
        y = 800 - 30 * number
        canvas.setFont("Helvetica", 10)
        canvas.drawString(50, y, f"{label} {'.' * 70}")
        canvas.drawString(180, y + 5, value)
    canvas.showPage()
    canvas.save()
    result = extract(read_pdf(buf.getvalue()))
    assert result.fields["denominazione"] == "Associazione Il Faro APS"
    assert result.fields["codice_fiscale"] == "97512340155"
    assert result.fields["legale_rappresentante"] == "Monica Marchetti"
    assert result.fields["comune"] == "Gessate"
    assert result.fields["pec"] is None  # "pec.it" lost its own dot among the leader's: refused
