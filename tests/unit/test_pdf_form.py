"""read_pdf on generated forms: the lines, cells and checkbox glyphs each layout must give."""

from __future__ import annotations

import dataclasses
import io

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from parsers.content import CHECKED, UNCHECKED
from parsers.pdf_form import read_pdf
from pec_ingest.samples.pdf_forms import (
    LAYOUTS,
    Options,
    build_pdf,
    glyph_font,
    labels,
    narrative_text,
    values,
)
from pec_ingest.samples.people import TAVOLO_NAMES, Organisation, make_organisation

ORG = make_organisation(4)  # two tables of three chosen, plain checkboxes, with a P.IVA
RANKED = make_organisation(3)  # ranked: famiglia 1, autonomie 2, poverta 3; no P.IVA
KEYS = ("denominazione", "natura", "cf", "piva", "sede", "rappresentante", "referente",
        "telefono", "email", "pec")


def field_lines(org: Organisation, sep: str, opts: Options | None = None) -> list[str]:
    names, vals = labels(opts or Options()), values(org)
    return [f"{names[k]}{sep}{vals[k]}".rstrip(" ") for k in KEYS]


def box_lines(org: Organisation) -> list[str]:
    return [f"{CHECKED if code in org.tavoli else UNCHECKED} {name}"
            for code, name in TAVOLO_NAMES.items()]


def in_order(lines: tuple[str, ...], expected: list[str]) -> bool:
    """``expected`` appear in ``lines`` as one consecutive run."""
    n = len(expected)
    return any(list(lines[i:i + n]) == expected for i in range(len(lines) - n + 1))


def test_fixture_organisations_are_what_the_tests_assume() -> None:
    assert ORG.tavoli == ("poverta", "famiglia") and not ORG.ranked and ORG.partita_iva
    assert RANKED.ranked and RANKED.tavoli == ("famiglia", "autonomie", "poverta")
    assert RANKED.partita_iva is None


def test_text_layout_keeps_label_colon_value_lines() -> None:
    content = read_pdf(build_pdf(ORG, "text", marks="drawn"))
    assert content.format == "pdf" and content.pages == 1
    assert not content.is_scan and not content.has_ocr_layer
    assert in_order(content.lines, field_lines(ORG, ": "))
    assert in_order(content.lines, box_lines(ORG))


def test_table_layout_gives_one_tab_joined_line_per_row_with_empty_cells_kept() -> None:
    content = read_pdf(build_pdf(RANKED, "table"))
    expected = field_lines(RANKED, "\t")
    assert "Partita IVA\t" in expected  # empty value cell: label, TAB, nothing
    assert in_order(content.lines, expected)
    assert in_order(content.lines, ["1 Area Promozione del benessere familiare",
                                    "3 Area Contrasto alla povertà",
                                    "2 Area Promozione delle autonomie"])


def test_wrapped_cell_values_are_joined_and_a_word_broken_mid_way_is_glued() -> None:
    org = dataclasses.replace(
        ORG, pec="cooperativa.sociale.il.girasole.segreteria.generale@pec.confcooperative.it",
        street="Via Padre Giuliani della Beata Vergine Addolorata e dei Santi Martiri 150")
    content = read_pdf(build_pdf(org, "table", labels="variant"))
    assert f"Posta elettronica certificata\t{org.pec}" in content.lines
    assert f"Indirizzo sede legale\t{org.sede_legale}" in content.lines


def test_narrative_paragraph_is_rebuilt_from_its_wrapped_lines() -> None:
    content = read_pdf(build_pdf(ORG, "narrative", marks="drawn"))
    assert narrative_text(ORG) in content.lines
    assert "MANIFESTA" in content.lines  # a short paragraph stays on its own
    assert f"e indica quale referente per la partecipazione ai tavoli: {ORG.referente}" in (
        content.lines)


def test_drawn_checkboxes_become_glyphs_before_their_labels() -> None:
    content = read_pdf(build_pdf(ORG, "drawn_checkboxes"))
    assert in_order(content.lines, box_lines(ORG))
    assert content.text_chars > 500


def test_drawn_checkboxes_inside_a_ruled_table_with_short_reordered_names() -> None:
    content = read_pdf(build_pdf(ORG, "table", tavoli_table=True, marks="drawn",
                                 short_names=True, reorder=True))
    assert in_order(content.lines, [f"{CHECKED} Contrasto alla povertà",
                                    f"{UNCHECKED} Promozione delle autonomie",
                                    f"{CHECKED} Promozione del benessere familiare"])


@pytest.mark.skipif(glyph_font() is None, reason="no TTF with ☒/☐ installed")
def test_glyph_checkboxes_are_kept_as_canonical_glyphs() -> None:
    content = read_pdf(build_pdf(ORG, "glyph_checkboxes"))
    assert in_order(content.lines, box_lines(ORG))


def test_typed_x_marks_are_left_for_the_extractor() -> None:
    content = read_pdf(build_pdf(ORG, "text", marks="x"))
    assert "X Area Promozione del benessere familiare" in content.lines
    assert "Area Promozione delle autonomie" in content.lines
    assert not any(CHECKED in ln or UNCHECKED in ln for ln in content.lines)


def test_label_variants_and_upper_case_are_read_as_printed() -> None:
    for wording in ("variant", "upper"):
        opts = Options(labels=wording)
        content = read_pdf(build_pdf(ORG, "text", labels=wording, marks="drawn"))
        assert in_order(content.lines, field_lines(ORG, ": ", opts)), wording


def test_multi_page_form_keeps_field_order_across_pages() -> None:
    content = read_pdf(build_pdf(ORG, "multi-page", marks="drawn"))
    assert content.pages == 2
    lines = [ln for ln in content.lines if ": " in ln and not ln.startswith(("OGGETTO", "Luogo"))]
    assert lines == field_lines(ORG, ": ")
    assert in_order(content.lines, box_lines(ORG))


def test_scan_is_flagged_with_no_lines() -> None:
    content = read_pdf(build_pdf(ORG, "scan"))
    assert content.is_scan and content.lines == ()
    assert content.image_pages == 1 and content.text_chars == 0
    assert any("scansione" in w for w in content.warnings)


def test_ocr_scan_keeps_lines_and_marks_the_ocr_layer() -> None:
    content = read_pdf(build_pdf(ORG, "ocr_scan"))
    assert not content.is_scan and content.has_ocr_layer and content.image_pages == 1
    assert f"Codice fiscale: {ORG.codice_fiscale}" in content.lines
    assert f"PEC: {ORG.pec}" in content.lines


def test_blank_page_is_a_document_without_text() -> None:
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=True)
    canvas.showPage()
    canvas.save()
    content = read_pdf(buf.getvalue())
    assert content.is_scan and content.lines == () and content.image_pages == 0


def test_every_layout_builds_and_reads() -> None:
    for layout in LAYOUTS:
        content = read_pdf(build_pdf(ORG, layout, marks="drawn"))
        assert content.is_scan == (layout == "scan"), layout
        assert content.has_ocr_layer == (layout == "ocr_scan"), layout


def test_generator_is_reproducible_and_rejects_unknown_options() -> None:
    assert build_pdf(ORG, "table") == build_pdf(ORG, "table")
    with pytest.raises(ValueError):
        build_pdf(ORG, "table", colour="red")
    with pytest.raises(ValueError):
        build_pdf(ORG, "origami")
