"""AcroForm fields: labels from printed text or names, check box states, /V against /AS."""

from __future__ import annotations

import io

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from parsers.content import CHECKED, UNCHECKED
from parsers.pdf_acroform import meaningful_label
from parsers.pdf_form import read_pdf
from pec_ingest.samples.pdf_forms import Options as FormOptions
from pec_ingest.samples.pdf_forms import build_pdf, labels, values
from pec_ingest.samples.people import make_organisation

ORG = make_organisation(4)  # poverta + famiglia chosen, not ranked
RANKED = make_organisation(3)
KEYS = ("denominazione", "natura", "cf", "piva", "sede", "rappresentante", "referente",
        "telefono", "email", "pec")


def expected_fields(org: object = ORG) -> list[str]:
    names, vals = labels(FormOptions()), values(ORG if org is ORG else RANKED)
    return [f"{names[k]}\t{vals[k]}" for k in KEYS]


def boxes() -> list[str]:
    return [f"{CHECKED} Area Promozione del benessere familiare",
            f"{CHECKED} Area Contrasto alla povertà",
            f"{UNCHECKED} Area Promozione delle autonomie"]


@pytest.mark.parametrize("layout", ["acroform_named", "acroform_generic"])
def test_field_values_stand_beside_their_printed_labels(layout: str) -> None:
    content = read_pdf(build_pdf(ORG, layout))
    lines = list(content.lines)
    start = lines.index(expected_fields()[0])
    assert lines[start:start + 10] == expected_fields()
    # the printed label is replaced by the field line, not repeated
    assert "Denominazione ente" not in lines
    assert [ln for ln in lines if ln.startswith(("☒", "☐"))] == boxes()
    assert content.warnings == ()


def test_generic_fields_with_labels_above_take_and_replace_those_labels() -> None:
    content = read_pdf(build_pdf(ORG, "acroform_generic", label_above=True))
    lines = list(content.lines)
    start = lines.index(expected_fields()[0])
    assert lines[start:start + 10] == expected_fields()
    assert not any(ln.startswith("Testo") for ln in lines)
    assert "Codice fiscale" not in lines


def test_ranked_tables_as_fields_right_of_the_printed_names() -> None:
    content = read_pdf(build_pdf(RANKED, "acroform_generic"))
    assert "Area Promozione del benessere familiare\t1" in content.lines
    assert "Area Contrasto alla povertà\t3" in content.lines
    assert "Area Promozione delle autonomie\t2" in content.lines


def test_v_and_as_disagreeing_follows_the_visible_state_and_warns() -> None:
    data = build_pdf(ORG, "acroform_generic", disagree=True)
    assert data.count(b"/V /Off") == 2  # the generator flipped the first (ticked) box's /V
    content = read_pdf(data)
    assert f"{CHECKED} Area Promozione del benessere familiare" in content.lines
    assert len(content.warnings) == 1
    assert "Casella di controllo 1" in content.warnings[0] and "/AS" in content.warnings[0]


def _form(draw_labels: bool) -> bytes:
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=True)
    form = canvas.acroForm
    canvas.setFont("Helvetica", 10)
    canvas.drawString(72, 760, "ALLEGATO 1 - Manifestazione di interesse ai Tavoli d'area")
    if draw_labels:
        canvas.drawString(72, 700, "Denominazione")
        canvas.drawString(92, 650, "Area Contrasto alla povertà")
    form.textfield(name="Text1", value="Fondazione Alfa", x=200, y=696, width=200, height=16)
    form.textfield(name="cf_ente", tooltip="", value="01234567890", x=200, y=670, width=200,
                   height=16)
    form.checkbox(name="tavolo_poverta", checked=True, x=72, y=648, size=11)
    form.checkbox(name="Check Box2", checked=False, x=72, y=620, size=11)
    form.radio(name="scelta", value="famiglia", selected=True, x=72, y=590, size=11)
    form.radio(name="scelta", value="autonomie", selected=False, x=200, y=590, size=11)
    canvas.showPage()
    canvas.save()
    return buf.getvalue()


def test_unlabelled_widgets_fall_back_to_meaningful_names_then_raw_names() -> None:
    content = read_pdf(_form(draw_labels=False))
    assert "Text1\tFondazione Alfa" in content.lines  # nothing better than the raw name
    assert "cf ente\t01234567890" in content.lines
    assert f"{CHECKED} tavolo poverta" in content.lines
    assert f"{UNCHECKED} Check Box2" in content.lines


def test_radio_buttons_give_one_ticked_glyph() -> None:
    content = read_pdf(_form(draw_labels=False))
    radio = [ln for ln in content.lines if ln.endswith("scelta")]
    assert radio == []  # each button is labelled by its export value, not the group name
    assert f"{CHECKED} famiglia\t{UNCHECKED} autonomie" in content.lines


def test_printed_labels_win_over_field_names() -> None:
    content = read_pdf(_form(draw_labels=True))
    assert "Denominazione\tFondazione Alfa" in content.lines
    assert f"{CHECKED} Area Contrasto alla povertà" in content.lines


@pytest.mark.parametrize(("tooltip", "name", "label"), [
    ("", "Testo1", ""),
    ("", "Text Field 12", ""),
    ("", "fill_3", ""),
    ("", "Casella di controllo 2", ""),
    ("", "undefined_2", ""),
    ("", "untitled", ""),
    ("", "Check Box3", ""),
    ("", "cf_ente", "cf ente"),
    ("", "codiceFiscale", "codice Fiscale"),
    ("", "form1[0].Pagina1[0].denominazione[0]", "denominazione"),
    ("Codice fiscale dell'ente", "Testo7", "Codice fiscale dell'ente"),
    ("Testo7", "partita_iva", "partita iva"),
])
def test_meaningful_label(tooltip: str, name: str, label: str) -> None:
    assert meaningful_label(tooltip, name) == label
