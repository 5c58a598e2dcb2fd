"""read_pdf on hand-written PDF bytes: symbol fonts, and hostile or broken files that must
end in a clear UnreadableInput / LimitExceeded within bounded time."""

from __future__ import annotations

import io
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfgen.canvas import Canvas

from parsers.content import CHECKED, UNCHECKED
from parsers.errors import LimitExceeded, UnreadableInput
from parsers.limits import Limits
from parsers.pdf_form import read_pdf
from pec_ingest.samples.pdf_forms import build_pdf
from pec_ingest.samples.people import make_organisation

TEXT = b"(Denominazione ente: Associazione Alfa ODV - Codice fiscale: 01234567890) Tj"
HELVETICA = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def raw_pdf(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF with a correct cross-reference table around the given object bodies (1, 2, ...)."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, root, xref)
    return bytes(out)


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(data), extra, data)


def one_page(content: bytes = b"BT /F1 10 Tf 72 700 Td " + TEXT + b" ET", *, count: bytes = b"1",
             kids: bytes = b"[3 0 R]", page_extra: bytes = b"", stream_extra: bytes = b"",
             fonts: bytes = b"/F1 5 0 R", more: tuple[bytes, ...] = ()) -> bytes:
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids %s /Count %s >>" % (kids, count),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << %s >> >> %s >>" % (fonts, page_extra),
        stream(content, stream_extra), HELVETICA, *more])


@contextmanager
def quickly(seconds: float = 10.0) -> Iterator[None]:
    start = time.perf_counter()
    yield
    assert time.perf_counter() - start < seconds


def test_hand_written_pdf_reads() -> None:
    content = read_pdf(one_page())
    assert content.lines == ("Denominazione ente: Associazione Alfa ODV - Codice fiscale: "
                             "01234567890",)


def symbol_font(name: bytes, extra: bytes = b"") -> bytes:
    """A non-embedded Type1 font with a descriptor, as PDF exporters write symbol fonts."""
    return (b"<< /Type /Font /Subtype /Type1 /BaseFont /%s %s /FontDescriptor << /Type "
            b"/FontDescriptor /FontName /%s /Flags 4 /FontBBox [0 -200 1000 900] /ItalicAngle 0 "
            b"/Ascent 900 /Descent -200 /CapHeight 700 /StemV 80 >> >>" % (name, extra, name))


def _symbol_lines(font: bytes, codes: tuple[bytes, bytes], more: tuple[bytes, ...] = ()) -> bytes:
    rows = b"".join(b"BT /F2 10 Tf 72 %d Td <%s> Tj ET BT /F1 10 Tf 86 %d Td (%s) Tj ET " % (
        700 - 20 * i, code, 700 - 20 * i, name)
        for i, (code, name) in enumerate(zip(codes, (b"Famiglia", b"Poverta"), strict=True)))
    content = b"BT /F1 10 Tf 72 740 Td " + TEXT + b" ET " + rows
    return one_page(content, fonts=b"/F1 5 0 R /F2 6 0 R", more=(font, *more))


def test_wingdings_bytes_without_unicode_map_are_checkboxes() -> None:
    """Word's Wingdings boxes with no ToUnicode arrive as "þ" (FE, ticked) and "¨" (A8, empty)."""
    font = symbol_font(b"ABCDEF+Wingdings-Regular")
    content = read_pdf(_symbol_lines(font, (b"FE", b"A8")))
    assert content.lines[-2:] == (f"{CHECKED} Famiglia", f"{UNCHECKED} Poverta")


def test_wingdings2_codes_are_checkboxes() -> None:
    font = symbol_font(b"Wingdings2")
    content = read_pdf(_symbol_lines(font, (b"54", b"A3")))
    assert content.lines[-2:] == (f"{CHECKED} Famiglia", f"{UNCHECKED} Poverta")


def test_private_use_codes_from_a_unicode_map_are_checkboxes() -> None:
    cmap = (b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap "
            b"1 begincodespacerange <00> <FF> endcodespacerange "
            b"2 beginbfchar <FE> <F0FE> <A8> <F0A8> endbfchar endcmap end end")
    font = symbol_font(b"SymbolBoxes", b"/ToUnicode 7 0 R")
    content = read_pdf(_symbol_lines(font, (b"FE", b"A8"), (stream(cmap),)))
    assert content.lines[-2:] == (f"{CHECKED} Famiglia", f"{UNCHECKED} Poverta")


def test_a_box_drawn_as_four_lines_with_an_x_char_inside() -> None:
    box = b"72 698 m 82 698 l S 82 698 m 82 708 l S 82 708 m 72 708 l S 72 708 m 72 698 l S "
    content = (b"BT /F1 10 Tf 72 740 Td " + TEXT + b" ET " + box
               + b"BT /F1 9 Tf 74 700 Td (X) Tj ET BT /F1 10 Tf 90 700 Td (Famiglia) Tj ET "
               + b"72 678 10 10 re S BT /F1 10 Tf 90 680 Td (Poverta) Tj ET")
    assert read_pdf(one_page(content)).lines[-2:] == (f"{CHECKED} Famiglia",
                                                      f"{UNCHECKED} Poverta")


def test_comb_boxes_for_a_code_are_not_checkboxes() -> None:
    comb = b" ".join(b"%d 698 10 12 re S" % (160 + 10 * i) for i in range(11))
    content = (b"BT /F1 10 Tf 72 740 Td " + TEXT + b" ET " + comb
               + b" BT /F1 10 Tf 72 700 Td (Partita IVA) Tj ET")
    assert read_pdf(one_page(content)).lines[-1] == "Partita IVA"


BROKEN: dict[str, Callable[[], bytes]] = {
    "zero bytes": lambda: b"",
    "junk": lambda: bytes(range(256)) * 8,
    "header then junk": lambda: b"%PDF-1.7\n" + b"garbage " * 200 + b"\n%%EOF\n",
    "truncated": lambda: build_pdf(make_organisation(1), "table")[:9000],
    "tail cut off": lambda: build_pdf(make_organisation(1), "table")[:-300],
    "root loop": lambda: raw_pdf([b"2 0 R", b"1 0 R"]),
    "pages loop": lambda: raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"3 0 R", b"2 0 R"]),
    "annots loop": lambda: one_page(page_extra=b"/Annots 6 0 R", more=(b"7 0 R", b"6 0 R")),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_files_are_unreadable_with_a_one_line_message(name: str) -> None:
    data = BROKEN[name]()
    with quickly(), pytest.raises(UnreadableInput) as err:
        read_pdf(data)
    message = str(err.value)
    assert message and "\n" not in message and len(message) < 300
    assert not isinstance(err.value, LimitExceeded)


def test_truncated_file_says_so() -> None:
    with pytest.raises(UnreadableInput, match="PDF danneggiato o troncato"):
        read_pdf(BROKEN["truncated"]())


def _encrypted(user: str) -> bytes:
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=True,
                    encrypt=StandardEncryption(user, ownerPassword="segreto-del-comune"))
    canvas.setFont("Helvetica", 10)
    canvas.drawString(72, 700, "Denominazione ente: Associazione Alfa ODV")
    canvas.drawString(72, 680, "Codice fiscale: 01234567890")
    canvas.showPage()
    canvas.save()
    return buf.getvalue()


def test_user_password_is_refused_clearly() -> None:
    with pytest.raises(UnreadableInput, match=r"^PDF protetto da password$"):
        read_pdf(_encrypted("apriti"))


def test_owner_password_only_is_read() -> None:
    content = read_pdf(_encrypted(""))
    assert content.lines == ("Denominazione ente: Associazione Alfa ODV",
                             "Codice fiscale: 01234567890")


def test_more_pages_than_the_limit_are_read_up_to_the_limit() -> None:
    data = build_pdf(make_organisation(2), "multi-page")
    whole = read_pdf(data)
    assert whole.pages == 2 and whole.unread_pages == 0
    first = read_pdf(data, Limits(max_pages=1))
    assert first.pages == 1 and first.unread_pages == 1 and not first.fallback_pages
    assert "lette solo le prime 1 pagine di 2" in " ".join(first.warnings)
    assert set(first.lines) < set(whole.lines)


def test_a_huge_declared_page_count_reads_the_real_pages_at_once() -> None:
    with quickly(1.0):
        content = read_pdf(one_page(count=b"999999999"))
    assert content.pages == 1 and content.lines


def test_a_page_count_that_lies_low_is_checked_against_the_real_pages() -> None:
    page = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>")
    data = raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                    b"<< /Type /Pages /Kids [3 0 R 6 0 R 7 0 R] /Count 1 >>", page,
                    stream(b"BT /F1 10 Tf 72 700 Td " + TEXT + b" ET"), HELVETICA, page, page])
    content = read_pdf(data, Limits(max_pages=2))
    assert content.pages == 2 and content.unread_pages == 1
    assert any("ne ha di più" in w for w in content.warnings)


def test_input_larger_than_the_limit() -> None:
    with pytest.raises(LimitExceeded, match="troppo grande"):
        read_pdf(one_page(), Limits(max_input_bytes=100))


def test_a_flate_bomb_is_refused_before_inflating_it() -> None:
    bomb = zlib.compress(b" " * (8 << 20), 9)
    with quickly(2.0), pytest.raises(LimitExceeded, match="compresso"):
        read_pdf(one_page(bomb, stream_extra=b"/Filter /FlateDecode"),
                 Limits(max_unzipped_bytes=1 << 20))


def test_a_page_with_more_drawing_than_a_form_has_is_read_as_text_by_pdfium() -> None:
    content_stream = b"0 0 m 1 1 l S\n" * 60_000 + b"BT /F1 10 Tf 72 700 Td " + TEXT + b" ET"
    with quickly(2.0):
        content = read_pdf(one_page(content_stream))
    assert content.fallback_pages == 1
    assert content.lines == ("Denominazione ente: Associazione Alfa ODV - Codice fiscale: "
                             "01234567890",)
    assert any("pdfium" in w for w in content.warnings)


def test_deeply_nested_objects_end_in_bounded_time() -> None:
    nested_array = b"[" * 100_000 + b"]" * 100_000
    nested_dict = b"<< /A " * 20_000 + b"1" + b" >>" * 20_000
    for data in (one_page(page_extra=b"/Annots 6 0 R", more=(nested_array,)),
                 one_page(page_extra=b"/Group 6 0 R", more=(nested_dict,)),
                 one_page(b"[" * 100_000 + b"]" * 100_000)):
        with quickly():
            try:
                content = read_pdf(data)
            except UnreadableInput:
                continue
            assert content.pages == 1
