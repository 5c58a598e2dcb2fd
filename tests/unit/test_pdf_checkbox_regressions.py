"""Checkboxes as LibreOffice draws a ticked Word form field: a square with an X running
exactly corner to corner (both ends of each diagonal on the border)."""

from __future__ import annotations

import io

from reportlab.pdfgen.canvas import Canvas

from parsers.content import CHECKED, UNCHECKED
from parsers.pdf_form import read_pdf


def form_with_boxes(ticked: list[bool]) -> bytes:
    buf = io.BytesIO()
    canvas = Canvas(buf)
    canvas.setFont("Helvetica", 10)
    canvas.drawString(70, 780, "Allegato 1 - manifesta il proprio interesse per i Tavoli d'area:")
    names = ["Area Promozione del benessere familiare", "Area Contrasto alla poverta",
             "Area Promozione delle autonomie"]
    for i, (name, tick) in enumerate(zip(names, ticked, strict=True)):
        y = 740 - 25 * i
        canvas.rect(70, y, 12, 12)
        if tick:  # corner to corner, as LibreOffice exports a ticked FORMCHECKBOX
            canvas.line(70, y, 82, y + 12)
            canvas.line(70, y + 12, 82, y)
        canvas.drawString(88, y + 2, name)
    canvas.save()
    return buf.getvalue()


def test_corner_to_corner_cross_is_a_tick_and_the_sides_are_not() -> None:
    content = read_pdf(form_with_boxes([True, False, True]))
    marks = [line.split(" ", 1)[0] for line in content.lines if "Area" in line]
    assert marks == [CHECKED, UNCHECKED, CHECKED]
