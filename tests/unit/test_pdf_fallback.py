"""Regression tests for the failures real PDFs showed (realdocs corpus), at the shared mechanism:
blank rows, files and pages pdfminer cannot read (second engine, pdfium), reasons without
Python exception names, and our own bugs never reported as a damaged file."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import parsers.pdf_form
from parsers.errors import UnreadableInput
from parsers.form import parse_form
from parsers.origin import raised_by_library
from parsers.pdf_form import read_pdf
from tests.unit.test_pdf_form_raw import HELVETICA, TEXT, one_page, raw_pdf, stream

LINE = "Denominazione ente: Associazione Alfa ODV - Codice fiscale: 01234567890"
GOOD = b"BT /F1 10 Tf 72 700 Td " + TEXT + b" ET BT /F1 10 Tf 72 680 Td " + TEXT + b" ET"


def _page(contents: int) -> bytes:
    return (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>" % contents)


def test_a_row_of_blank_characters_is_not_a_crash() -> None:
    # Word's PDF export draws spaces as characters: a visual row of blanks only
    content = read_pdf(one_page(GOOD + b" BT /F1 10 Tf 72 600 Td (        ) Tj ET"))
    assert content.lines == (LINE, LINE)
    assert not content.fallback_pages


def test_a_broken_xref_pdfminer_cannot_repair_is_read_by_pdfium() -> None:
    data = one_page(GOOD).replace(b"xref\n", b"xreg\n")
    content = read_pdf(data)
    assert content.lines == (LINE, LINE)
    assert content.fallback_pages == 1
    assert any("pdfium (pypdfium2)" in w for w in content.warnings)
    result = parse_form(data, "rotto.pdf")
    assert result.status == "needs_review"


def test_a_page_pdfminer_cannot_decode_is_read_by_pdfium_and_the_others_by_pdfplumber() -> None:
    lzw_bad_code = b"\x80\x4b\x00"  # clear-table, then a code never defined
    data = raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                    b"<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>", _page(4), stream(GOOD),
                    HELVETICA, _page(7), stream(lzw_bad_code, b"/Filter /LZWDecode")])
    content = read_pdf(data)
    assert content.pages == 2 and content.fallback_pages == 1
    assert content.lines == (LINE, LINE)
    assert any("pdfium (pypdfium2): 2;" in w for w in content.warnings)


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda d: d.replace(b"/Root 1 0 R", b"/Roo 1 0 R"),
     "PDF danneggiato o troncato: nessuno dei due motori"),
    (lambda d: d.replace(b"/Root 1 0 R", b"/Root 1 0 R /Encrypt << /Filter /Bogus >> /ID [<01>]"),
     "PDF cifrato con una protezione non supportata"),
])
def test_what_neither_engine_opens_is_refused_in_plain_italian(
        damage: Callable[[bytes], bytes], reason: str) -> None:
    with pytest.raises(UnreadableInput) as err:
        read_pdf(damage(one_page(GOOD)))
    message = str(err.value)
    assert message.startswith(reason)
    assert "Error" not in message and "Exception" not in message and "\n" not in message


def test_our_own_bug_is_not_reported_as_a_damaged_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_layout(*args: object) -> None:
        raise IndexError("list index out of range")

    monkeypatch.setattr(parsers.pdf_form, "read_page", broken_layout)
    with pytest.raises(IndexError):
        read_pdf(one_page(GOOD))


def test_only_exceptions_raised_inside_the_library_count_as_its_failures() -> None:
    from pdfminer.psparser import PSBaseParser

    with pytest.raises(AttributeError) as inside:
        PSBaseParser(None).nextline()  # type: ignore[arg-type]  # fails inside pdfminer
    assert raised_by_library(inside.value, ("pdfminer",))
    assert not raised_by_library(inside.value, ("pdfplumber",))
    with pytest.raises(IndexError) as ours:
        [].pop()
    assert not raised_by_library(ours.value, ("pdfminer", "pdfplumber"))


def test_text_printed_sideways_is_read_by_pdfium() -> None:
    sideways = (b"BT /F1 10 Tf 0 1 -1 0 300 100 Tm " + TEXT + b" ET "
                b"BT /F1 10 Tf 0 1 -1 0 320 100 Tm " + TEXT + b" ET")
    content = read_pdf(one_page(sideways))
    assert not content.is_scan and content.fallback_pages == 1
    assert content.lines == (LINE, LINE)


def test_word_cell_shading_does_not_split_table_cells() -> None:
    # Word 365 paints each cell's text area (inset by the cell margins) as a white filled
    # rectangle, and draws the borders as thin filled rectangles
    shading = b"1 g 77 681 118 18 re f 205 681 190 18 re f "
    borders = (b"0 g 72 699.5 328 0.5 re f 72 680 328 0.5 re f "
               b"72 680 0.5 20 re f 200 680 0.5 20 re f 399.5 680 0.5 20 re f ")
    text = (b"BT /F1 10 Tf 80 686 Td (Codice fiscale) Tj ET "
            b"BT /F1 10 Tf 210 686 Td (01234567890) Tj ET "
            b"BT /F1 10 Tf 72 600 Td " + TEXT + b" ET")
    content = read_pdf(one_page(shading + borders + text))
    assert content.lines[0] == "Codice fiscale\t01234567890"


def test_glyphs_without_unicode_are_left_out_with_a_warning() -> None:
    # a Type0 font with Identity-H encoding and no ToUnicode map: pdfminer yields "(cid:N)"
    cid_font = (b"<< /Type /Font /Subtype /Type0 /BaseFont /Nessuna /Encoding /Identity-H "
                b"/DescendantFonts [6 0 R] >>")
    descendant = (b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Nessuna "
                  b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
                  b"/DW 500 >>")
    page = b"BT /F2 10 Tf 72 500 Td <00410042> Tj ET " + GOOD
    content = read_pdf(one_page(page, fonts=b"/F1 5 0 R /F2 7 0 R",
                                more=(descendant, cid_font)))
    assert content.lines == (LINE, LINE)
    assert not any("cid:" in line for line in content.lines)
    assert any("senza codifica Unicode" in w for w in content.warnings)
