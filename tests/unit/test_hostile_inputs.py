"""Hostile and broken input through the public entry points, in bounded time and memory.

``parsers.form.parse_form(data, filename)`` must refuse what it cannot read with a
:class:`parsers.errors.ParseError` carrying a one-line message; ``parsers.envelope
.parse_envelope(raw)`` never raises and says what was wrong in ``warnings``. Every case is
timed with ``time.monotonic``; the expanding ones (zip bombs) are also measured with
``tracemalloc``.
"""

from __future__ import annotations

import base64
import io
import random
import re
import struct
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from parsers.envelope import PecMessage, parse_envelope
from parsers.errors import LimitExceeded, ParseError, SignedDataError, UnreadableInput
from parsers.form import FormResult, parse_form
from parsers.limits import Limits
from pec_ingest.samples import p7m, pec
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.pdf_forms import build_pdf
from pec_ingest.samples.people import Organisation, make_organisation

SECONDS = 10.0  # generous for a slow CI machine; every case here takes well under a second
PEAK_BYTES = 100 * 1024 * 1024  # below what any of the bombs would inflate to
WHEN = datetime(2019, 9, 3, 10, 0, tzinfo=timezone(timedelta(hours=2)))
COMUNE = "protocollo@pec.comune.example.it"
ENTE = "ente@pec.example.it"


# --------------------------------------------------------------------------------------------
# helpers


@dataclass
class Measured:
    seconds: float = 0.0
    peak: int = 0


@contextmanager
def bounded(trace_memory: bool = False) -> Iterator[Measured]:
    """Time the block (and optionally its peak Python memory), then check the bounds."""
    measured = Measured()
    if trace_memory:
        tracemalloc.start()
    start = time.monotonic()
    try:
        yield measured
    finally:
        measured.seconds = time.monotonic() - start
        if trace_memory:
            measured.peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    assert measured.seconds < SECONDS, f"took {measured.seconds:.1f}s"
    if trace_memory:
        assert measured.peak < PEAK_BYTES, f"peak memory {measured.peak / 2**20:.0f} MB"


def refused(data: bytes, filename: str, *, limits: Limits | None = None,
            expected: type[ParseError] = ParseError, trace_memory: bool = False) -> ParseError:
    """parse_form must raise ``expected`` with a one-line message, within the bounds."""
    with bounded(trace_memory), pytest.raises(ParseError) as info:
        if limits is None:
            parse_form(data, filename)
        else:
            parse_form(data, filename, limits=limits)
    error = info.value
    assert isinstance(error, expected), f"{type(error).__name__}: {error}"
    message = str(error)
    assert message.strip(), "empty message"
    assert "\n" not in message and "\r" not in message, repr(message)
    assert len(message) < 500
    return error


def envelope_of(raw: bytes, limits: Limits | None = None) -> PecMessage:
    """parse_envelope must return (never raise) within the bounds."""
    with bounded(trace_memory=True):
        message = parse_envelope(raw) if limits is None else parse_envelope(raw, limits)
    assert isinstance(message, PecMessage)
    for text in message.warnings:
        assert text.strip() and "\n" not in text
    return message


@pytest.fixture(scope="module")
def org() -> Organisation:
    return make_organisation(7)


@pytest.fixture(scope="module")
def docx(org: Organisation) -> bytes:
    return build_docx(org, "table")


@pytest.fixture(scope="module")
def pdf(org: Organisation) -> bytes:
    return build_pdf(org, "table")


@pytest.fixture(scope="module")
def signer(org: Organisation) -> p7m.SignerKey:
    return p7m.make_signer(org.legale_rappresentante, org.rappresentante_cf)


@pytest.fixture(scope="module")
def signed_docx(docx: bytes, signer: p7m.SignerKey) -> bytes:
    return p7m.sign(docx, [signer])


@pytest.fixture(scope="module")
def signed_pdf(pdf: bytes, signer: p7m.SignerKey) -> bytes:
    return p7m.sign(pdf, [signer])


def test_the_untouched_samples_are_read(docx: bytes, pdf: bytes, signed_docx: bytes,
                                        org: Organisation) -> None:
    """The baseline the hostile variants below are made from."""
    for data, name in ((docx, "a.docx"), (pdf, "a.pdf"), (signed_docx, "a.docx.p7m")):
        result = parse_form(data, name)
        assert result.status == "complete", (name, result.warnings)
        assert result.fields["codice_fiscale"] == org.codice_fiscale


# --------------------------------------------------------------------------------------------
# empty, junk, truncated


def test_zero_bytes() -> None:
    error = refused(b"", "vuoto.pdf", expected=UnreadableInput)
    assert "0 byte" in str(error)


@pytest.mark.parametrize("data", [
    bytes(random.Random(1).getrandbits(8) for _ in range(65536)),
    b"\x00" * 10000,
    b"%PDF-1.7\n" + bytes(random.Random(2).getrandbits(8) for _ in range(20000)),
    b"PK\x03\x04" + bytes(random.Random(3).getrandbits(8) for _ in range(5000)),
    b"0\x82\x10\x00\x06\x09*\x86H\x86\xf7\r\x01\x07\x02" + b"\xff" * 4000,
    b"Lorem ipsum dolor sit amet, non e' un modulo.\n" * 200,
], ids=["random", "zeros", "pdf-header-then-junk", "zip-header-then-junk",
        "cms-header-then-junk", "plain-text"])
def test_junk(data: bytes) -> None:
    refused(data, "allegato.pdf")


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.95])
def test_truncated_pdf(pdf: bytes, fraction: float) -> None:
    refused(pdf[: int(len(pdf) * fraction)], "troncato.pdf", expected=UnreadableInput)


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.95])
def test_truncated_docx(docx: bytes, fraction: float) -> None:
    refused(docx[: int(len(docx) * fraction)], "troncato.docx", expected=UnreadableInput)


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, -200])
def test_truncated_docx_p7m(signed_docx: bytes, cut: float) -> None:
    end = int(len(signed_docx) * cut) if cut > 0 else int(cut)
    refused(signed_docx[:end], "troncato.docx.p7m", expected=SignedDataError)


def test_truncated_pdf_p7m_is_refused(signed_pdf: bytes) -> None:
    refused(signed_pdf[:-200], "troncato.pdf.p7m", expected=SignedDataError)


def test_pdf_p7m_with_corrupted_signature_is_flagged(signed_pdf: bytes) -> None:
    broken = bytearray(signed_pdf)
    broken[-20] ^= 0xFF  # inside the signature value, at the end of the SignerInfo
    with bounded():
        result = parse_form(bytes(broken), "firmato.pdf.p7m")
    assert result.signature is not None
    assert result.signature.valid is False
    assert any("firma" in w for w in result.warnings)


def test_docx_p7m_with_corrupted_signature_is_flagged(signed_docx: bytes) -> None:
    broken = bytearray(signed_docx)
    broken[-20] ^= 0xFF
    with bounded():
        result = parse_form(bytes(broken), "firmato.docx.p7m")
    assert result.signature is not None
    assert result.signature.valid is False
    assert any("firma" in w for w in result.warnings)


def corrupt_deflate(docx: bytes) -> bytes:
    """The DOCX with the first byte of word/document.xml's deflate stream set to 0xFF (a
    final block of the reserved type 3: every inflater rejects it at once)."""
    info = zipfile.ZipFile(io.BytesIO(docx)).getinfo("word/document.xml")
    assert info.compress_type == zipfile.ZIP_DEFLATED
    (name_len, extra_len) = struct.unpack_from("<HH", docx, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    return docx[:start] + b"\xff" + docx[start + 1:]


@pytest.mark.parametrize("signed", [False, True], ids=["docx", "docx.p7m"])
def test_docx_with_corrupted_deflate_stream_is_refused(docx: bytes, signer: p7m.SignerKey,
                                                       signed: bool) -> None:
    data = corrupt_deflate(docx)
    if signed:
        data = p7m.sign(data, [signer])
    refused(data, "danneggiato.docx", expected=UnreadableInput)


# --------------------------------------------------------------------------------------------
# encrypted, oversize


def test_pdf_with_user_password() -> None:
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out, encrypt="secret")
    canvas.drawString(72, 720, "Allegato 1 - Denominazione: Associazione Prova")
    canvas.showPage()
    canvas.save()
    error = refused(out.getvalue(), "protetto.pdf", expected=UnreadableInput)
    assert "password" in str(error).lower()


@pytest.mark.parametrize("which", ["pdf", "docx", "signed_docx"])
def test_oversize_input(which: str, request: pytest.FixtureRequest) -> None:
    data: bytes = request.getfixturevalue(which)
    limits = Limits(max_input_bytes=len(data) - 1)
    error = refused(data, "grande", limits=limits, expected=LimitExceeded)
    assert str(len(data)) in str(error)
    parse_form(data, "grande", limits=Limits(max_input_bytes=len(data)))  # the bound is exact


# --------------------------------------------------------------------------------------------
# zip bombs and XML tricks in DOCX


def rebuild_docx(docx: bytes, document_xml: bytes | Callable[[zipfile.ZipFile], None],
                 ) -> bytes:
    """The same DOCX with word/document.xml replaced (or extra members added)."""
    source = zipfile.ZipFile(io.BytesIO(docx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            if info.filename == "word/document.xml" and isinstance(document_xml, bytes):
                target.writestr(info.filename, document_xml)
            else:
                target.writestr(info.filename, source.read(info))
        if callable(document_xml):
            document_xml(target)
    return out.getvalue()


def padded_document(docx: bytes, padding: int) -> bytes:
    """document.xml with ``padding`` spaces of (valid) whitespace inside <w:body>."""
    xml = zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml")
    return xml.replace(b"<w:body>", b"<w:body>" + b" " * padding, 1)


def declare_size(data: bytes, member: bytes, size: int) -> bytes:
    """Rewrite the uncompressed size a zip declares for ``member`` (local and central)."""
    out = bytearray(data)
    for signature, name_len_at, name_at, size_at in ((b"PK\x03\x04", 26, 30, 22),
                                                     (b"PK\x01\x02", 28, 46, 24)):
        pos = out.find(signature)
        while pos >= 0:
            (name_len,) = struct.unpack_from("<H", out, pos + name_len_at)
            if bytes(out[pos + name_at: pos + name_at + name_len]) == member:
                struct.pack_into("<I", out, pos + size_at, size)
            pos = out.find(signature, pos + 4)
    return bytes(out)


@pytest.fixture(scope="module")
def zip_bomb(docx: bytes) -> bytes:
    """word/document.xml of ~150 MB (spaces) deflated to a few hundred KB."""
    return rebuild_docx(docx, padded_document(docx, 150 * 1024 * 1024))


def test_zip_bomb_past_max_unzipped_bytes(zip_bomb: bytes) -> None:
    assert len(zip_bomb) < 1024 * 1024
    error = refused(zip_bomb, "bomba.docx", expected=LimitExceeded, trace_memory=True)
    assert "docx" in str(error).lower()


def test_zip_bomb_with_lying_sizes(zip_bomb: bytes) -> None:
    """The archive claims document.xml is 1 KB: the reader must not trust it and inflate."""
    lying = declare_size(zip_bomb, b"word/document.xml", 1000)
    refused(lying, "bugiardo.docx", expected=UnreadableInput, trace_memory=True)


def test_zip_bomb_huge_ratio(docx: bytes) -> None:
    """5 MB of spaces deflate ~1000:1: under the size limit, over the ratio limit."""
    bomb = rebuild_docx(docx, padded_document(docx, 5 * 1024 * 1024))
    error = refused(bomb, "rapporto.docx", expected=LimitExceeded, trace_memory=True)
    assert "rapporto" in str(error) or "compress" in str(error)


def test_zip_bomb_against_caller_limits(docx: bytes) -> None:
    inflated = rebuild_docx(docx, padded_document(docx, 2 * 1024 * 1024))
    limits = Limits(max_unzipped_bytes=1024 * 1024, max_zip_ratio=10**9)
    refused(inflated, "limite.docx", limits=limits, expected=LimitExceeded, trace_memory=True)
    parse_form(inflated, "limite.docx", limits=Limits(max_zip_ratio=10**9))  # fine without


def test_docx_with_too_many_members(docx: bytes) -> None:
    def add(target: zipfile.ZipFile) -> None:
        for i in range(Limits().max_zip_members + 1):
            target.writestr(f"extra/item{i}.xml", b"<a/>")

    refused(rebuild_docx(docx, add), "membri.docx", expected=LimitExceeded, trace_memory=True)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("SEGRETISSIMO-4242", encoding="utf-8")
    return path


def with_entity(docx: bytes, secret: Path, encoding: str) -> bytes:
    """document.xml declaring an external entity on ``secret`` and using it in every run."""
    xml = zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml").decode("utf-8")
    declaration, rest = xml.split("?>", 1)
    declaration = re.sub(r"encoding=(['\"])[^'\"]+\1", f'encoding="{encoding}"', declaration)
    doctype = f'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    rest = re.sub(r"(<w:t(?: [^>]*)?>)", r"\1&xxe;", rest)
    return rebuild_docx(docx, (declaration + "?>" + doctype + rest).encode(encoding))


def no_secret_in(result: FormResult) -> None:
    shown = " ".join([*(v or "" for v in result.fields.values()), *result.warnings])
    assert "SEGRETISSIMO" not in shown


def test_docx_with_external_entity_is_refused(docx: bytes, secret: Path) -> None:
    error = refused(with_entity(docx, secret, "UTF-8"), "xxe.docx", expected=UnreadableInput)
    assert "SEGRETISSIMO" not in str(error)


def test_docx_with_internal_entity_expansion_is_refused(docx: bytes) -> None:
    xml = zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml").decode("utf-8")
    declaration, rest = xml.split("?>", 1)
    entities = '<!ENTITY l0 "LOLLOLLOLLOL">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    rest = re.sub(r"(<w:t(?: [^>]*)?>)", r"\1&l9;", rest, count=1)
    bomb = rebuild_docx(docx, (declaration + f"?><!DOCTYPE w:document [{entities}]>"
                               + rest).encode())
    refused(bomb, "lol.docx", expected=UnreadableInput, trace_memory=True)


def test_utf16_docx_with_external_entity_leaks_nothing(docx: bytes, secret: Path) -> None:
    data = with_entity(docx, secret, "UTF-16")
    with bounded():
        try:
            result = parse_form(data, "xxe16.docx")
        except ParseError as error:
            assert "SEGRETISSIMO" not in str(error)
            return
    no_secret_in(result)


def test_utf16_docx_with_doctype_is_refused(docx: bytes, secret: Path) -> None:
    refused(with_entity(docx, secret, "UTF-16"), "xxe16.docx", expected=UnreadableInput)


# --------------------------------------------------------------------------------------------
# PEC envelopes: nesting, signatures, truncation, charsets


def original_message(attachments: list[tuple[str, bytes, str]] | None = None,
                     subject: str = "Allegato 1") -> bytes:
    return pec.build_original(
        sender=ENTE, to=[COMUNE], subject=subject, date=WHEN, message_id="<m1@pec.example.it>",
        attachments=attachments if attachments is not None else [
            ("allegato.pdf", b"%PDF-1.4 finto\n", "application/pdf")])


def transport(original: bytes) -> bytes:
    return pec.build_envelope(original, mittente=ENTE, destinatari=[COMUNE],
                              identificativo="opec.ostile.1@pec.simulato.example", data=WHEN)


@pytest.fixture(scope="module")
def envelope() -> bytes:
    return transport(original_message())


def test_the_untouched_envelope_is_read(envelope: bytes) -> None:
    message = envelope_of(envelope)
    assert message.kind == "posta-certificata"
    assert message.signature.valid is True
    assert [a.filename for a in message.attachments] == ["allegato.pdf"]
    assert message.warnings == ()


def nested_multipart(levels: int, leaf: bytes) -> bytes:
    body = leaf
    for level in range(levels):
        boundary = f"livello{level}".encode()
        body = (b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--'
                + boundary + b"\r\n" + body + b"\r\n--" + boundary + b"--\r\n")
    head = b"From: a@b.example\r\nTo: c@d.example\r\nSubject: profondo\r\nMIME-Version: 1.0\r\n"
    return head + body


def nested_rfc822(levels: int, inner: bytes) -> bytes:
    for level in range(levels):
        inner = (b"From: inoltro@lista.example\r\nTo: c@d.example\r\nSubject: inoltro %d\r\n"
                 b"MIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n" % level) + inner
    return inner


PDF_LEAF = (b'Content-Type: application/pdf; name="x.pdf"\r\n'
            b'Content-Disposition: attachment; filename="x.pdf"\r\n\r\n%PDF-1.4\r\n')


def test_multipart_nested_1000_levels() -> None:
    message = envelope_of(nested_multipart(1000, PDF_LEAF))
    assert message.kind == "not-pec"
    assert message.attachments == ()  # the leaf is past the depth limit
    assert any("annidat" in w for w in message.warnings)


def test_message_rfc822_nested_1000_levels(envelope: bytes) -> None:
    message = envelope_of(nested_rfc822(1000, envelope))
    assert message.kind == "not-pec"  # the PEC envelope is out of reach: said, not guessed
    assert any("annidat" in w for w in message.warnings)


def test_pec_envelope_forwarded_inside_another_message_is_found(envelope: bytes) -> None:
    raw = pec.build_forward(envelope, sender="lista@lista.example", to=COMUNE,
                            subject="Fwd: Allegato 1", date=WHEN)
    message = envelope_of(raw)
    assert message.kind == "posta-certificata"
    assert message.signature.valid is True
    assert [a.filename for a in message.attachments] == ["allegato.pdf"]
    assert message.warnings  # says it was found inside another message


def test_corrupted_content_under_the_provider_signature(envelope: bytes) -> None:
    at = envelope.index(b"Buongiorno")
    message = envelope_of(envelope[:at] + b"Buonasera!" + envelope[at + 10:])
    assert message.kind == "posta-certificata"
    assert message.signature.present is True and message.signature.valid is False
    assert any("firma" in w for w in message.warnings)


def signature_block(raw: bytes) -> re.Match[bytes]:
    found = re.search(rb'filename="smime.p7s"\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--', raw)
    assert found is not None
    return found


@pytest.mark.parametrize("damage", ["flipped-byte", "garbage", "half"])
def test_corrupted_provider_signature(envelope: bytes, damage: str) -> None:
    block = signature_block(envelope)
    der = base64.b64decode(block.group(1))
    if damage == "flipped-byte":
        broken = bytearray(der)
        broken[-10] ^= 0xFF
        new = base64.encodebytes(bytes(broken)).replace(b"\n", b"\r\n").rstrip()
    elif damage == "garbage":
        new = base64.b64encode(b"non una firma " * 20)
    else:
        new = block.group(1)[: len(block.group(1)) // 2]
    message = envelope_of(envelope[: block.start(1)] + new + envelope[block.end(1):])
    assert message.kind == "posta-certificata"
    assert message.daticert is not None
    assert message.signature.present is True and message.signature.valid is False
    assert any("firma" in w for w in message.warnings)


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.7, 0.9, 0.99])
def test_truncated_mime(envelope: bytes, fraction: float) -> None:
    message = envelope_of(envelope[: int(len(envelope) * fraction)])
    assert message.kind == "posta-certificata"  # the top-level headers survive
    assert message.signature.valid is not True
    assert any("tronca" in w for w in message.warnings), message.warnings


def test_oversize_envelope(envelope: bytes) -> None:
    message = envelope_of(envelope, Limits(max_input_bytes=len(envelope) - 1))
    assert message.kind == "posta-certificata"
    assert message.attachments == ()
    assert any("limite" in w for w in message.warnings)


def unknown_charset_envelope() -> bytes:
    original = pec.build_original(
        sender=ENTE, to=[COMUNE], subject="Allegato 1", date=WHEN,
        message_id="<m1@pec.example.it>", name_encoding="rfc2047",
        attachments=[("modulo è.pdf", b"%PDF-1.4 finto\n", "application/pdf")])
    original = (original.replace(b"=?utf-8?Q?", b"=?x-klingon?Q?")
                .replace(b'charset="utf-8"', b'charset="x-klingon"'))
    assert b"x-klingon" in original
    return transport(original)


def test_unknown_charset_is_survived() -> None:
    message = envelope_of(unknown_charset_envelope())
    assert message.kind == "posta-certificata"
    assert message.signature.valid is True
    [attachment] = message.attachments
    assert attachment.data == b"%PDF-1.4 finto\n"
    assert attachment.filename is not None and attachment.filename.endswith(".pdf")


def test_undecodable_header_bytes_are_survived(envelope: bytes) -> None:
    raw = envelope.replace(b"Subject: POSTA CERTIFICATA: Allegato 1",
                           b"Subject: =?x-klingon?B?" + base64.b64encode(b"\xff\xfe\x00ab")
                           + b"?= \xe8\xff", 1)
    assert raw != envelope
    message = envelope_of(raw)
    assert message.kind == "posta-certificata"
    assert message.subject is not None
    message.subject.encode("utf-8")  # no lone surrogates reach the caller


def test_unknown_charset_is_reported() -> None:
    message = envelope_of(unknown_charset_envelope())
    assert message.warnings


# --------------------------------------------------------------------------------------------
# Found by review: library exceptions that used to escape the ParseError contract


def _zip_with(document_xml: bytes, compression: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr(zipfile.ZipInfo("word/document.xml"), document_xml,
                    compress_type=compression)
    return buf.getvalue()


def test_docx_member_with_an_unsupported_zip_version_is_refused(docx: bytes) -> None:
    data = bytearray(docx)
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 6, 123)  # "version needed to extract"
    local = data.index(b"PK\x03\x04")
    struct.pack_into("<H", data, local + 4, 123)
    refused(bytes(data), "versione.docx")


def test_docx_with_corrupt_lzma_member_is_refused() -> None:
    data = bytearray(_zip_with(b"<w:document/>" * 50, zipfile.ZIP_LZMA))
    start = data.index(b"word/document.xml") + len(b"word/document.xml")
    data[start + 4:start + 9] = b"\xff" * 5  # the LZMA properties
    refused(bytes(data), "lzma.docx")


def test_pdf_with_a_malformed_mediabox_is_refused(pdf: bytes) -> None:
    broken = re.sub(rb"/MediaBox\s*\[([^\]]*)\]", rb"/MediaBox [0 0 612 792 /g]", pdf)
    assert broken != pdf
    with bounded():
        try:
            parse_form(broken, "mediabox.pdf")
        except ParseError as exc:
            assert str(exc).strip()


def test_daticert_with_an_invalid_root_name_gives_warnings() -> None:
    from parsers.daticert import parse_daticert

    with bounded():
        daticert, warnings = parse_daticert(b'<?xml version="1.0"?><:postacert/>')
    assert warnings  # recover mode admits the name; it must not raise afterwards
    assert daticert is None or daticert.identificativo is None
