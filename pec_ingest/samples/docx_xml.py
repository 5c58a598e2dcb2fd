"""WordprocessingML snippets for the sample DOCX forms: what python-docx cannot write
(content controls, legacy form fields, Wingdings symbols, text boxes, tracked changes).

Every function returns an XML string in the ``w:`` namespace; :mod:`docx_forms` puts them
into a python-docx document.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

NAMESPACES = (
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:v="urn:schemas-microsoft-com:vml"'
)


def run(text: str, font: str | None = None, bold: bool = False) -> str:
    props = ""
    if font or bold:
        fonts = f'<w:rFonts w:ascii="{font}" w:hAnsi="{font}"/>' if font else ""
        props = f"<w:rPr>{fonts}{'<w:b/>' if bold else ''}</w:rPr>"
    return f'<w:r>{props}<w:t xml:space="preserve">{escape(text)}</w:t></w:r>'


def tab() -> str:
    return "<w:r><w:tab/></w:r>"


def line_break() -> str:
    return "<w:r><w:br/></w:r>"


def paragraph(*parts: str) -> str:
    return f"<w:p {NAMESPACES}>{''.join(parts)}</w:p>"


def bare_paragraph(*parts: str) -> str:
    return f"<w:p>{''.join(parts)}</w:p>"


def table(rows: list[list[str]], widths: int = 4320) -> str:
    """A table; each cell is a string of block XML (paragraphs, tables)."""
    columns = max(len(r) for r in rows)
    grid = "".join(f'<w:gridCol w:w="{widths}"/>' for _ in range(columns))
    body = "".join(
        "<w:tr>" + "".join(
            f'<w:tc><w:tcPr><w:tcW w:w="{widths}" w:type="dxa"/></w:tcPr>'
            f"{cell or '<w:p/>'}</w:tc>" for cell in row) + "</w:tr>"
        for row in rows
    )
    return (f'<w:tbl {NAMESPACES}><w:tblPr><w:tblStyle w:val="TableGrid"/>'
            f'<w:tblW w:w="0" w:type="auto"/></w:tblPr><w:tblGrid>{grid}</w:tblGrid>'
            f"{body}</w:tbl>")


def text_control(text: str, tag: str, placeholder: str | None = None) -> str:
    """An inline plain-text content control; ``placeholder`` shows an untouched one."""
    if placeholder is not None:
        return (f'<w:sdt><w:sdtPr><w:alias w:val="{tag}"/><w:tag w:val="{tag}"/>'
                f"<w:showingPlcHdr/><w:text/></w:sdtPr><w:sdtContent>{run(placeholder)}"
                "</w:sdtContent></w:sdt>")
    return (f'<w:sdt><w:sdtPr><w:alias w:val="{tag}"/><w:tag w:val="{tag}"/><w:text/>'
            f"</w:sdtPr><w:sdtContent>{run(text)}</w:sdtContent></w:sdt>")


def block_text_control(text: str, tag: str) -> str:
    """A block-level content control holding one paragraph (as LibreOffice saves them)."""
    return (f'<w:sdt {NAMESPACES}><w:sdtPr><w:tag w:val="{tag}"/></w:sdtPr><w:sdtContent>'
            f"{bare_paragraph(run(text))}</w:sdtContent></w:sdt>")


def checkbox_control(checked: bool) -> str:
    glyph = "\u2612" if checked else "\u2610"
    return (f'<w:sdt><w:sdtPr><w14:checkbox><w14:checked w14:val="{int(checked)}"/>'
            '<w14:checkedState w14:val="2612" w14:font="MS Gothic"/>'
            '<w14:uncheckedState w14:val="2610" w14:font="MS Gothic"/></w14:checkbox>'
            f"</w:sdtPr><w:sdtContent>{run(glyph, font='MS Gothic')}</w:sdtContent></w:sdt>")


def legacy_text(text: str) -> str:
    """A FORMTEXT legacy form field whose result is ``text``."""
    return ('<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val="Testo1"/>'
            '<w:enabled/><w:calcOnExit w:val="0"/><w:textInput/></w:ffData></w:fldChar></w:r>'
            '<w:r><w:instrText xml:space="preserve"> FORMTEXT </w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
            f'{run(text)}<w:r><w:fldChar w:fldCharType="end"/></w:r>')


def legacy_checkbox(checked: bool, by_default: bool = False) -> str:
    """A FORMCHECKBOX as Word writes it (``w:default``, then ``w:checked`` when ticked);
    ``by_default`` states the value as ``w:default`` alone."""
    state = (f'<w:default w:val="{int(checked)}"/>' if by_default else
             '<w:default w:val="0"/>' + ("<w:checked/>" if checked else ""))
    return ('<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val="Controllo1"/>'
            f'<w:enabled/><w:calcOnExit w:val="0"/><w:checkBox><w:sizeAuto/>{state}'
            "</w:checkBox></w:ffData></w:fldChar></w:r>"
            '<w:r><w:instrText xml:space="preserve"> FORMCHECKBOX </w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r>')


def wingdings_symbol(checked: bool) -> str:
    code = "F0FE" if checked else "F0A8"
    return f'<w:r><w:sym w:font="Wingdings" w:char="{code}"/></w:r>'


def wingdings_text(checked: bool) -> str:
    return run("þ" if checked else "¨", font="Wingdings")


def tracked(old: str, new: str) -> str:
    """A tracked replacement: ``old`` deleted, ``new`` inserted."""
    return ('<w:del w:id="901" w:author="Revisore" w:date="2019-09-01T10:00:00Z">'
            f'<w:r><w:delText xml:space="preserve">{escape(old)}</w:delText></w:r></w:del>'
            '<w:ins w:id="902" w:author="Revisore" w:date="2019-09-01T10:00:00Z">'
            f"{run(new)}</w:ins>")


def text_box(paragraphs: list[str]) -> str:
    """A floating text box, as Word writes it: DrawingML choice plus a VML fallback copy."""
    content = "".join(paragraphs)
    drawing = (
        '<w:drawing><wp:anchor distT="0" distB="0" distL="0" distR="0" simplePos="0" '
        'relativeHeight="1" behindDoc="0" locked="0" layoutInCell="1" allowOverlap="1">'
        '<wp:simplePos x="0" y="0"/><wp:positionH relativeFrom="column"><wp:posOffset>0'
        '</wp:posOffset></wp:positionH><wp:positionV relativeFrom="paragraph"><wp:posOffset>0'
        '</wp:posOffset></wp:positionV><wp:extent cx="5400000" cy="3000000"/>'
        '<wp:wrapTopAndBottom/><wp:docPr id="1" name="Casella di testo 1"/>'
        '<a:graphic><a:graphicData uri="http://schemas.microsoft.com/office/word/2010/'
        'wordprocessingShape"><wps:wsp><wps:cNvSpPr txBox="1"/><wps:spPr/>'
        f"<wps:txbx><w:txbxContent>{content}</w:txbxContent></wps:txbx><wps:bodyPr/>"
        "</wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing>"
    )
    fallback = ('<w:pict><v:shape id="box1" style="width:425pt;height:236pt">'
                f"<v:textbox><w:txbxContent>{content}</w:txbxContent></v:textbox>"
                "</v:shape></w:pict>")
    return (f'<w:r><mc:AlternateContent><mc:Choice Requires="wps">{drawing}</mc:Choice>'
            f"<mc:Fallback>{fallback}</mc:Fallback></mc:AlternateContent></w:r>")
