"""CharPage (the reader's lean characters) against pdfplumber's own page: same characters."""

from __future__ import annotations

import io

import pdfplumber
import pytest
from pdfplumber.page import Page

from parsers.pdf_page import CharPage
from pec_ingest.samples.pdf_forms import build_pdf
from pec_ingest.samples.people import make_organisation

KEYS = ("object_type", "page_number", "text", "fontname", "size", "upright", "adv", "matrix",
        "x0", "x1", "y0", "y1", "width", "height", "top", "bottom", "doctop",
        "stroking_color", "non_stroking_color")


@pytest.mark.parametrize("layout", ["text", "table", "glyph_checkboxes", "acroform_named",
                                    "multi-page"])
def test_lean_characters_carry_pdfplumbers_values(layout: str) -> None:
    data = build_pdf(make_organisation(11), layout)
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        doctop = 0.0
        for number, page in enumerate(pdf.pages, start=1):
            lean = CharPage(pdf, page.page_obj, page_number=number, initial_doctop=doctop)
            plain = Page(pdf, page.page_obj, page_number=number, initial_doctop=doctop)
            doctop += float(page.height)
            assert lean.chars, "a form page has characters"
            assert [{k: c[k] for k in KEYS} for c in lean.chars] == [
                {k: c[k] for k in KEYS} for c in plain.chars]
            assert (lean.rects, lean.lines, lean.curves) == (plain.rects, plain.lines,
                                                             plain.curves)
