"""DOCX reader: the bytes of a Word document to a :class:`~parsers.content.FormContent`.

Works on ``word/document.xml`` with lxml (python-docx's ``paragraph.text`` drops content
controls). The zip is checked before anything is inflated: member count, declared sizes and
compression ratio against :class:`~parsers.limits.Limits`, encryption; every member is read
with a bounded read. The XML parser never resolves entities, never touches the network, and
a DOCTYPE (which no Word document has) is refused outright.

What the text contains (see :mod:`parsers.content`): paragraphs in body order (including
those inside block-level content controls), each table row as one line of TAB-joined cells
(a nested table follows its row as rows of its own), text boxes once (``mc:Fallback`` copies
skipped), tracked insertions kept and deletions dropped, ``w:br`` splitting lines, ``w:tab``
as a TAB. Every checkbox (content control, legacy form field, Wingdings symbol or text, and
typed glyphs such as ✔ or [X]) becomes ☒ or ☐. Untouched placeholders are empty. Headers and
footers are ignored.
"""

from __future__ import annotations

import io
import lzma
import re
import zipfile
import zlib

from lxml import etree

from parsers.content import CELL_SEPARATOR, FormContent
from parsers.docx_text import body_lines
from parsers.errors import LimitExceeded, UnreadableInput
from parsers.glyphs import canonical_glyphs
from parsers.limits import DEFAULT_LIMITS, Limits

DOCUMENT = "word/document.xml"
_RATIO_FLOOR = 64 * 1024  # members smaller than this are not judged by their ratio
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


def read_docx(data: bytes, limits: Limits = DEFAULT_LIMITS) -> FormContent:
    """Read a DOCX form; raises UnreadableInput (or LimitExceeded) when it cannot."""
    if len(data) > limits.max_input_bytes:
        raise LimitExceeded(f"documento troppo grande ({len(data)} byte)")
    xml = _document_xml(data, limits)
    root = _parse(xml)
    lines = _finish(body_lines(root))
    chars = sum(len(line) for line in lines)
    return FormContent(format="docx", lines=tuple(lines), pages=1, text_chars=chars)


def _document_xml(data: bytes, limits: Limits) -> bytes:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError,
            NotImplementedError) as exc:
        raise UnreadableInput("non è un documento DOCX leggibile (archivio ZIP danneggiato, "
                              "file Word protetto da password o formato diverso)") from exc
    with archive:
        infos = archive.infolist()
        _check_members(infos, limits)
        names = {info.filename: info for info in infos}
        if DOCUMENT not in names:
            raise UnreadableInput("archivio ZIP che non è un documento Word (.docx): "
                                  "manca word/document.xml")
        info = names[DOCUMENT]
        try:
            with archive.open(info) as member:
                xml = member.read(info.file_size + 1)
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, OSError, ValueError,
                RuntimeError, EOFError, NotImplementedError) as exc:
            raise UnreadableInput("documento DOCX danneggiato: word/document.xml illeggibile"
                                  ) from exc
    if len(xml) > info.file_size:
        raise LimitExceeded("documento DOCX falsato: il contenuto supera la dimensione dichiarata")
    return xml


def _check_members(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(infos) > limits.max_zip_members:
        raise LimitExceeded(f"archivio DOCX con troppi elementi ({len(infos)})")
    total = sum(info.file_size for info in infos)
    if total > limits.max_unzipped_bytes:
        raise LimitExceeded(f"documento DOCX che si espande troppo ({total} byte decompressi)")
    for info in infos:
        if info.flag_bits & 0x1:
            raise UnreadableInput("documento DOCX cifrato (protetto da password)")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_FLOOR and ratio > limits.max_zip_ratio:
            raise LimitExceeded(f"documento DOCX sospetto (rapporto di compressione {ratio:.0f}:1 "
                                f"in {info.filename})")


def _parse(xml: bytes) -> etree._Element:
    if _DOCTYPE.search(xml):
        raise UnreadableInput("documento DOCX non valido: contiene una dichiarazione DOCTYPE")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                             load_dtd=False, dtd_validation=False, remove_comments=True)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise UnreadableInput("documento DOCX danneggiato: XML non valido") from exc
    if root.getroottree().docinfo.doctype:  # e.g. a UTF-16 file the byte check cannot see
        raise UnreadableInput("documento DOCX non valido: contiene una dichiarazione DOCTYPE")
    return root


def _finish(raw: list[str]) -> list[str]:
    """Split on line breaks, collapse whitespace per cell, drop empty lines."""
    out = []
    for block in raw:
        for line in block.split("\n"):
            cells = [" ".join(canonical_glyphs(cell).split())
                     for cell in line.split(CELL_SEPARATOR)]
            if any(cells):
                out.append(CELL_SEPARATOR.join(cells))
    return out
