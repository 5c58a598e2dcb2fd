"""The DOCX reader: what Word and LibreOffice put in a form, and hostile files."""

from __future__ import annotations

import io
import time
import zipfile

import pytest

from parsers.content import CHECKED, UNCHECKED
from parsers.docx_form import read_docx
from parsers.errors import LimitExceeded, UnreadableInput
from parsers.limits import Limits
from pec_ingest.samples import docx_xml as x
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.people import make_organisation

W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def docx_with_body(body: str, extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal DOCX whose w:body is ``body`` (blocks written with :mod:`docx_xml`)."""
    document = (f'<?xml version="1.0" encoding="UTF-8"?><w:document {x.NAMESPACES}>'
                f"<w:body>{body}<w:sectPr/></w:body></w:document>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", document)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def read_body(*blocks: str) -> tuple[str, ...]:
    return read_docx(docx_with_body("".join(blocks))).lines


def test_inline_content_control_text_is_kept() -> None:
    got = read_body(x.paragraph(x.run("Denominazione: "), x.text_control("Circolo Futura", "d")))
    assert got == ("Denominazione: Circolo Futura",)


def test_untouched_placeholder_control_is_empty() -> None:
    got = read_body(x.paragraph(x.run("Referente: "),
                                x.text_control("", "r", "Fare clic qui per immettere testo.")))
    assert got == ("Referente:",)


def test_block_level_control_paragraph_is_read() -> None:
    got = read_body(x.paragraph(x.run("Referente")), x.block_text_control("Anna Sala", "r"))
    assert got == ("Referente", "Anna Sala")


@pytest.mark.parametrize(("snippet", "glyph"), [
    (x.checkbox_control(True), CHECKED), (x.checkbox_control(False), UNCHECKED),
    (x.legacy_checkbox(True), CHECKED), (x.legacy_checkbox(False), UNCHECKED),
    (x.legacy_checkbox(True, by_default=True), CHECKED),
    (x.legacy_checkbox(False, by_default=True), UNCHECKED),
    (x.wingdings_symbol(True), CHECKED), (x.wingdings_symbol(False), UNCHECKED),
    (x.wingdings_text(True), CHECKED), (x.wingdings_text(False), UNCHECKED),
    (x.run("✔"), CHECKED), (x.run("■"), CHECKED), (x.run("[X]"), CHECKED),
    (x.run("□"), UNCHECKED), (x.run("[ ]"), UNCHECKED),
])
def test_every_checkbox_becomes_a_canonical_glyph(snippet: str, glyph: str) -> None:
    assert read_body(x.paragraph(snippet, x.run(" Area famiglia"))) == (f"{glyph} Area famiglia",)


def test_legacy_text_field_gives_its_result_not_its_code() -> None:
    got = read_body(x.paragraph(x.run("Telefono: "), x.legacy_text("02 9292075")))
    assert got == ("Telefono: 02 9292075",)


def test_text_box_is_read_once() -> None:
    box = x.text_box([x.bare_paragraph(x.run("PEC: a@pec.it"))])
    got = read_body(x.paragraph(x.run("Dati"), box))
    assert got == ("Dati", "PEC: a@pec.it")


def test_tracked_changes_keep_insertions_and_drop_deletions() -> None:
    got = read_body(x.paragraph(x.run("Tel. "), x.tracked("02 111", "02 222")))
    assert got == ("Tel. 02 222",)


def test_tabs_and_breaks() -> None:
    got = read_body(x.paragraph(x.run("Codice fiscale"), x.tab(), x.tab(), x.run("01849590250"),
                                x.line_break(), x.run("Partita IVA"), x.tab()))
    assert got == ("Codice fiscale\t01849590250", "Partita IVA\t")


def test_table_rows_are_tab_joined_and_nested_tables_follow_their_row() -> None:
    inner = x.table([[x.bare_paragraph(x.run("PEC")), x.bare_paragraph(x.run("a@pec.it"))]])
    outer = x.table([[x.bare_paragraph(x.run("Dati")), inner],
                     [x.bare_paragraph(x.run("Partita IVA")), ""]])
    assert read_body(outer) == ("Dati\t", "PEC\ta@pec.it", "Partita IVA\t")


def test_vertically_merged_cell_is_not_repeated() -> None:
    merged = ('<w:tbl><w:tr><w:tc><w:tcPr><w:vMerge w:val="restart"/></w:tcPr>'
              '<w:p><w:r><w:t>Sede</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Via Roma 1</w:t>'
              '</w:r></w:p></w:tc></w:tr><w:tr><w:tc><w:tcPr><w:vMerge/></w:tcPr><w:p/></w:tc>'
              "<w:tc><w:p><w:r><w:t>20064 Gorgonzola</w:t></w:r></w:p></w:tc></w:tr></w:tbl>")
    assert read_body(merged) == ("Sede\tVia Roma 1", "\t20064 Gorgonzola")


def test_generated_form_reads_fast() -> None:
    data = build_docx(make_organisation(3), "controls", marker="control")
    read_docx(data)
    start = time.perf_counter()
    for _ in range(10):
        content = read_docx(data)
    # a guard against pathological slowness; the speed target is measured by
    # scripts/bench_parse.py, not asserted here
    assert (time.perf_counter() - start) / 10 < 0.5
    assert content.format == "docx" and content.text_chars > 100


# --- hostile input -----------------------------------------------------------------------


def test_corrupt_zip_is_unreadable() -> None:
    data = build_docx(make_organisation(1), "table")
    with pytest.raises(UnreadableInput):
        read_docx(data[: len(data) // 2])
    with pytest.raises(UnreadableInput):
        read_docx(b"PK\x03\x04 not really a zip")


def test_ole_file_is_unreadable() -> None:
    with pytest.raises(UnreadableInput, match="DOCX"):
        read_docx(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 2000)


def test_zip_without_document_is_unreadable() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("content.xml", "<office/>")
    with pytest.raises(UnreadableInput, match=r"document\.xml"):
        read_docx(out.getvalue())


def test_encrypted_member_is_refused() -> None:
    data = bytearray(docx_with_body(x.paragraph(x.run("ciao"))))
    for signature in (b"PK\x03\x04", b"PK\x01\x02"):  # set the "encrypted" flag bit
        start = 0
        while (at := data.find(signature, start)) >= 0:
            offset = at + (6 if signature == b"PK\x03\x04" else 8)
            data[offset] |= 0x01
            start = at + 4
    with pytest.raises(UnreadableInput, match="cifrato"):
        read_docx(bytes(data))


def test_zip_bomb_by_ratio_is_refused_before_inflating() -> None:
    data = docx_with_body(x.paragraph(x.run("ciao")), {"word/media/bomb.bin": b"\0" * 5_000_000})
    start = time.perf_counter()
    with pytest.raises(LimitExceeded, match="compressione"):
        read_docx(data)
    assert time.perf_counter() - start < 5.0  # hang guard


def test_zip_bomb_by_total_size_and_member_count() -> None:
    data = docx_with_body(x.paragraph(x.run("ciao")), {"word/media/big.bin": b"\0" * 3000})
    with pytest.raises(LimitExceeded):
        read_docx(data, Limits(max_unzipped_bytes=2000))
    many = {f"word/m{i}.xml": b"<a/>" for i in range(30)}
    with pytest.raises(LimitExceeded, match="troppi"):
        read_docx(docx_with_body("", many), Limits(max_zip_members=20))


def test_oversized_input_is_refused() -> None:
    with pytest.raises(LimitExceeded):
        read_docx(b"PK\x03\x04" + b"\0" * 2000, Limits(max_input_bytes=1000))


@pytest.mark.parametrize("prolog", [
    '<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>',
])
def test_xml_with_entities_is_refused(prolog: str) -> None:
    document = (f'<?xml version="1.0"?>{prolog}<w:document {W_NS}><w:body><w:p><w:r>'
                "<w:t>&e;&d;</w:t></w:r></w:p></w:body></w:document>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", document)
    start = time.perf_counter()
    with pytest.raises(UnreadableInput, match="DOCTYPE"):
        read_docx(out.getvalue())
    assert time.perf_counter() - start < 5.0  # hang guard


def test_malformed_xml_is_unreadable() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w:document><w:body>")
    with pytest.raises(UnreadableInput, match="XML"):
        read_docx(out.getvalue())
