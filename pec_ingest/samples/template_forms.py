"""An office's own blank Allegato 1 and the same blank filled in as applicants do.

The blank has every kind of slot: a signer line with an underscored leader and a hint under
it ("(cognome e nome)"), a two-column table with empty value cells and labels in the office's
own wording (some no reader knows, e.g. "Abbreviazione"), a "Persona di riferimento" dotted
leader, the office's own contacts in the header. Filled versions: DOCX (typed into the cells
and over the leaders), PDF written over with a PDF editor (the blank's drawing plus text placed
on top), and an AcroForm with generic field names (``Testo1``...). The Word-to-PDF export is
made by LibreOffice from the filled DOCX (see the tests).
"""

from __future__ import annotations

import io
from typing import Any

import docx
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from pec_ingest.samples.pdf_forms import glyph_font
from pec_ingest.samples.people import TAVOLO_NAMES
from pec_ingest.samples.variants import Applicant

TITLE = ("ALLEGATO 1 – MODELLO DI DOMANDA", "Spett.le Ufficio di Piano – Distretto 4",
         "Via Tizzoni 2, Cernusco sul Naviglio – pianodizona@comune.cernuscosulnaviglio.mi.it",
         "", "OGGETTO: partecipazione ai Tavoli d'area del Piano di Zona")
SIGNER = ("Il/La sottoscritto/a", "(cognome e nome)")
QUALITY = "in qualità di legale rappresentante dell'ente di seguito indicato"
ROWS = ("Nome dell'ente", "Abbreviazione", "Forma giuridica", "C.F. dell'ente",
        "P. IVA (se posseduta)", "Indirizzo della sede legale (via, n., CAP, città)",
        "Recapito telefonico", "Posta elettronica", "Posta elettronica certificata")
REFERENTE = "Persona di riferimento per i tavoli:"
CHOICE = "CHIEDE di partecipare ai seguenti Tavoli d'area:"
CLOSING = "Luogo e data ______________   Firma ____________________"
LEADER = "_" * 30
# the admin's completion of the mapping for the label no vocabulary knows
SIGNER_MAPPING = (("Il/La sottoscritto/a (cognome e nome)", "legale_rappresentante"),)


HABITS = ("plain", "upper", "underscored", "labelled")


def row_values(app: Applicant | None, habit: str = "plain") -> list[str]:
    if app is None:
        return [""] * len(ROWS)
    v = app.values
    values = [v["denominazione"], "", app.natura_text, v["codice_fiscale"],
              v["partita_iva"] or "", v["sede_legale"], v["telefono"], v["email"], v["pec"]]
    if habit == "upper":
        values = [value.upper() if "@" not in value else value for value in values]
    elif habit == "labelled":  # the applicant repeats the label in the cell
        values[3], values[7] = f"C.F. {values[3]}", f"e-mail: {values[7]}"
        values[1] = "".join(w[0] for w in v["denominazione"].split() if w[0].isupper())
    return values


def _person(app: Applicant, key: str, habit: str) -> str:
    name = app.values[key] or ""
    if not name:
        return LEADER
    if habit == "upper":
        return name.upper()
    return f"__{name}____" if habit == "underscored" else name


def _tavoli(app: Applicant | None) -> list[str]:
    chosen = app.tavoli if app else ()
    return [f"{'☒' if code in chosen else '☐'} {name}" for code, name in TAVOLO_NAMES.items()]


def template_docx(app: Applicant | None = None, habit: str = "plain") -> bytes:
    """The blank (``app`` None) or the blank filled in for ``app``, as a DOCX."""
    document = docx.Document()
    for line in TITLE:
        document.add_paragraph(line)
    name = _person(app, "legale_rappresentante", habit) if app else LEADER
    document.add_paragraph(f"{SIGNER[0]} {name}")
    document.add_paragraph(SIGNER[1])
    document.add_paragraph(QUALITY)
    table = document.add_table(rows=len(ROWS), cols=2)
    table.style = "Table Grid"
    for row, label, value in zip(table.rows, ROWS, row_values(app, habit), strict=True):
        row.cells[0].text = label
        row.cells[1].text = value
    referente = _person(app, "referente", habit) if app else LEADER
    document.add_paragraph(f"{REFERENTE} {referente}")
    document.add_paragraph(CHOICE)
    for line in _tavoli(app):
        document.add_paragraph(line)
    document.add_paragraph(CLOSING)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def template_pdf(app: Applicant | None = None, *, acroform: bool = False,
                 habit: str = "plain") -> bytes:
    """The blank drawn as a PDF; with ``app`` the values are written over it at the slots
    (as a PDF editor does), or, with ``acroform``, held in generic fillable fields."""
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=True)
    font = glyph_font() or "Helvetica"
    y = 800.0

    def text(x: float, value: str) -> None:
        canvas.setFont(font, 9)
        canvas.drawString(x, y, value)

    for line in TITLE:
        text(50, line)
        y -= 14
    text(50, f"{SIGNER[0]} {LEADER}")
    _fill(canvas, font, 150, y, _person(app, "legale_rappresentante", habit).strip("_")
          if app else "", acroform, "Testo1")
    y -= 14
    text(150, SIGNER[1])
    y -= 14
    text(50, QUALITY)
    y -= 22
    for number, (label, value) in enumerate(zip(ROWS, row_values(app, habit), strict=True)):
        canvas.rect(40, y - 6, 228, 20)
        canvas.rect(268, y - 6, 300, 20)
        text(44, label)
        _fill(canvas, font, 272, y, value, acroform, f"Testo{number + 2}")
        y -= 20
    y -= 14
    text(50, f"{REFERENTE} {LEADER}")
    _fill(canvas, font, 215, y, _person(app, "referente", habit).strip("_") if app else "",
          acroform, "Testo20")
    y -= 18
    for line in (CHOICE, *_tavoli(app), CLOSING):
        text(50, line)
        y -= 16
    canvas.showPage()
    canvas.save()
    return buf.getvalue()


def _fill(canvas: Canvas, font: str, x: float, y: float, value: str, acroform: bool,
          name: str) -> None:
    if acroform:
        canvas.acroForm.textfield(name=name, value=value, x=x, y=y - 4, width=290, height=14,
                                  fontSize=8, borderWidth=0)
    elif value:
        canvas.setFont(font, 8)
        canvas.drawString(x, y + 2, value)


def template_truth(app: Applicant) -> dict[str, Any]:
    return {"fields": dict(app.values), "tavoli": list(app.tavoli), "ranked": False,
            "expect_review": False}
