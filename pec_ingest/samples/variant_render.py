"""Render a simple block list (paragraphs and two-column tables) as a real DOCX or PDF.

Used by :mod:`variants`: python-docx writes the DOCX (tables as Word tables), reportlab the PDF
(tables drawn with their grid, so the PDF reader sees ruled cells as it does in Word exports).
"""

from __future__ import annotations

import io

import docx
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from pec_ingest.samples.pdf_forms import glyph_font

Block = tuple[str, "str | list[list[str]]"]
_LEFT, _RIGHT, _TOP, _SIZE = 56.0, 540.0, 790.0, 10.0
_SPLIT = 230.0  # x of the column boundary in tables


def render_docx(blocks: list[Block]) -> bytes:
    document = docx.Document()
    for kind, content in blocks:
        if kind == "p":
            document.add_paragraph(str(content))
            continue
        rows = content if isinstance(content, list) else []
        table = document.add_table(rows=len(rows), cols=2)
        table.style = "Table Grid"
        for row, (label, value) in zip(table.rows, rows, strict=True):
            row.cells[0].text = label
            row.cells[1].text = value
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


class _Page:
    def __init__(self, canvas: Canvas, font: str) -> None:
        self.c, self.font, self.y = canvas, font, _TOP

    def need(self, height: float) -> None:
        if self.y - height < 50:
            self.c.showPage()
            self.y = _TOP

    def para(self, text: str) -> None:
        for line in simpleSplit(text, self.font, _SIZE, _RIGHT - _LEFT):
            self.need(14)
            self.c.setFont(self.font, _SIZE)
            self.c.drawString(_LEFT, self.y, line)
            self.y -= 13
        self.y -= 6

    def table(self, rows: list[list[str]]) -> None:
        for label, value in rows:
            left = simpleSplit(label, self.font, _SIZE, _SPLIT - _LEFT - 8) or [""]
            right = simpleSplit(value, self.font, _SIZE, _RIGHT - _SPLIT - 8) or [""]
            height = 13 * max(len(left), len(right)) + 6
            self.need(height)
            top = self.y + 11
            self.c.rect(_LEFT, top - height, _SPLIT - _LEFT, height)
            self.c.rect(_SPLIT, top - height, _RIGHT - _SPLIT, height)
            self.c.setFont(self.font, _SIZE)
            for number, text in enumerate(left):
                self.c.drawString(_LEFT + 4, self.y - 13 * number, text)
            for number, text in enumerate(right):
                self.c.drawString(_SPLIT + 4, self.y - 13 * number, text)
            self.y -= height
        self.y -= 10


def render_pdf(blocks: list[Block]) -> bytes:
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=True)
    page = _Page(canvas, glyph_font() or "Helvetica")
    for kind, content in blocks:
        if kind == "p":
            page.para(str(content))
        else:
            page.table(content if isinstance(content, list) else [])
    canvas.showPage()
    canvas.save()
    return buf.getvalue()
