"""The attendance sheet as a PDF ready to print (reportlab): one table per page (a long
list continues on the next page with its header row), A4 landscape, borders, rows tall enough
to sign, "Firma" beside the organisation's name.

The sign-in sheet keeps the columns needed at the meeting; the full contacts are in the XLSX.
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from pec_ingest.desk.attendance import HEADINGS
from pec_ingest.export import TAVOLO_NAMES
from pec_ingest.sheets import clean

PDF_COLUMNS = (("registration_number", 34), ("denominazione", 62), ("firma", 62),
               ("legale_rappresentante", 40), ("contatto", 40), ("telefono", 39))  # mm
ROW_HEIGHT_MM = 15


def attendance_pdf(tables: dict[str, list[dict[str, Any]]], date_line: str = "") -> bytes:
    """One titled table per tavolo, each starting on a new page."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        Flowable,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    styles = getSampleStyleSheet()
    cell_style, head_style = styles["BodyText"], styles["Heading4"]
    story: list[Flowable] = []
    for i, (code, rows) in enumerate(tables.items()):
        if i:
            story.append(PageBreak())
        story.append(Paragraph(escape(f"{TAVOLO_NAMES[code]}: foglio presenze"), styles["Title"]))
        story.append(Paragraph(escape(date_line or "Data dell'incontro: ____________________"),
                               styles["Normal"]))
        story.append(Spacer(1, 4 * mm))
        data = [[Paragraph(escape(HEADINGS[c]), head_style) for c, _ in PDF_COLUMNS]]
        data += [[Paragraph(escape(clean(str(r[c] or ""))), cell_style) for c, _ in PDF_COLUMNS]
                 for r in rows]
        if not rows:
            data.append([Paragraph("Nessun ente iscritto a questo tavolo.", cell_style)]
                        + [""] * (len(PDF_COLUMNS) - 1))
        table = Table(data, colWidths=[w * mm for _, w in PDF_COLUMNS], repeatRows=1,
                      rowHeights=[None] + [ROW_HEIGHT_MM * mm] * (len(data) - 1))
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE4EE")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
        story.append(table)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=10 * mm,
                            rightMargin=10 * mm, topMargin=12 * mm, bottomMargin=12 * mm,
                            title="Fogli presenze dei tavoli", author="pec-ingest")
    doc.build(story)
    return out.getvalue()
