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


def test_struck_out_text_is_dropped_and_underlined_text_kept() -> None:
    """Tracked changes printed by Word/LibreOffice: the deletion struck through, the
    insertion underlined."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    buf = io.BytesIO()
    canvas = Canvas(buf)
    canvas.setFont("Helvetica", 11)
    canvas.drawString(70, 760, "Allegato 1 - Manifestazione di interesse ai Tavoli d'area")
    canvas.drawString(70, 730, "Denominazione ente: Circolo Il Ponte APS")
    canvas.drawString(70, 700, "Telefono:")
    old, new = "02 0000000", "+39 337 5900752"
    x = 250.0
    canvas.drawString(x, 700, old)
    w_old = stringWidth(old, "Helvetica", 11)
    canvas.line(x, 703.5, x + w_old, 703.5)  # strike-through at mid height
    canvas.drawString(x + w_old, 700, new)
    canvas.line(x + w_old, 698.5, x + w_old + stringWidth(new, "Helvetica", 11), 698.5)
    canvas.save()
    lines = read_pdf(buf.getvalue()).lines
    joined = " ".join(lines)
    assert "+39 337 5900752" in joined and "0000000" not in joined


def test_a_value_wrapped_to_the_left_margin_joins_its_label_line() -> None:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    buf = io.BytesIO()
    canvas = Canvas(buf)
    canvas.setFont("Helvetica", 11)
    right = 525.0

    def fits(text: str, room: float) -> bool:
        return stringWidth(text, "Helvetica", 11) <= room

    rows = [("Denominazione ente", "Primavera Societa Cooperativa Sociale di Solidarieta"),
            ("Natura giuridica", "Cooperativa sociale")]
    y = 700.0
    for label, value in rows:
        canvas.drawString(70, y, label)
        words, line = value.split(), ""
        while words and fits((line + " " + words[0]).strip(), right - 250):
            line = (line + " " + words.pop(0)).strip()
        canvas.drawString(250, y, line)
        if words:  # the rest wraps to the paragraph's left edge, as Word does after a tab
            y -= 13
            canvas.drawString(70, y, " ".join(words))
        y -= 22
    canvas.save()
    lines = read_pdf(buf.getvalue()).lines
    assert "Denominazione ente\tPrimavera Societa Cooperativa Sociale di Solidarieta" in lines
    assert "Natura giuridica\tCooperativa sociale" in lines
