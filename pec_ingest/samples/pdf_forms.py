"""Filled Allegato 1 forms as PDF, in the layouts people send, for tests (reportlab, Pillow).

``build_pdf(org, layout, **options)`` draws the same organisation as:

* ``text``: "Label: value" lines; ``table``: a ruled label|value table; ``narrative``: the
  "Il/La sottoscritto/a ..." declaration;
* ``acroform_named`` / ``acroform_generic``: a fillable form whose fields are called
  ``denominazione``, ``codice_fiscale``... or ``Testo1``, ``Testo2``... next to printed labels;
* ``drawn_checkboxes`` / ``glyph_checkboxes``: the text layout with the tables' boxes drawn as
  squares (an X of two lines when ticked) or written as ☒/☐ characters;
* ``scan``: one image per page, no text layer; ``ocr_scan``: the image plus invisible text;
* ``multi-page``: the text layout with the fields split over two pages.

Options: ``labels`` ("standard", "variant" wording, "upper" case), ``ranked`` (preference numbers
instead of boxes; default ``org.ranked``), ``short_names`` (tables without "Area"), ``reorder``
(tables in another order), ``marks`` ("glyph", "drawn", "x"; default glyph when a TTF with ☒ is
installed, else drawn), ``tavoli_table`` (the tables as a ruled mark|name table),
``label_above`` (AcroForm: labels printed above the fields), ``disagree`` (AcroForm: the first
check box's /V contradicts its /AS), ``rep_cf`` (also print the representative's personal code).
Output is byte-for-byte reproducible (reportlab's invariant mode).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, fields
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from pec_ingest.samples.people import TAVOLO_NAMES, Organisation

LAYOUTS = ("text", "table", "narrative", "acroform_named", "acroform_generic",
           "drawn_checkboxes", "glyph_checkboxes", "scan", "ocr_scan", "multi-page")
_FONT_FILE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_WIDTH, _HEIGHT = A4
_LEFT, _RIGHT, _TOP = 70.0, A4[0] - 70.0, A4[1] - 60.0
_SIZE = 10.0
_LEADING = 13.0
# key -> (standard label, variant label); values come from the organisation
_LABELS = {
    "denominazione": ("Denominazione ente", "Ragione sociale"),
    "natura": ("Natura giuridica", "Forma giuridica"),
    "cf": ("Codice fiscale", "C.F. dell'ente"),
    "piva": ("Partita IVA", "P.IVA"),
    "sede": ("Sede legale", "Indirizzo sede legale"),
    "rappresentante": ("Legale rappresentante", "Rappresentante legale"),
    "referente": ("Referente", "Persona di riferimento"),
    "telefono": ("Telefono", "Recapito telefonico"),
    "email": ("E-mail", "Posta elettronica"),
    "pec": ("PEC", "Posta elettronica certificata"),
}
_FIELD_NAMES = {"denominazione": "denominazione", "natura": "natura_giuridica",
                "cf": "codice_fiscale", "piva": "partita_iva", "sede": "sede_legale",
                "rappresentante": "legale_rappresentante", "referente": "referente",
                "telefono": "telefono", "email": "email", "pec": "pec"}
_HEADER = ("ALLEGATO 1", "Spett.le Ufficio di Piano – Ambito Distrettuale 4",
           "Comune di Cernusco sul Naviglio (capofila)")
_SUBJECT = ("OGGETTO: Manifestazione di interesse alla partecipazione alla fase di "
            "programmazione del Piano Sociale di Zona 2018/2020 degli Ambiti del Distretto 4")
_PRIVACY = ("Dichiara di aver preso visione dell'informativa sul trattamento dei dati personali "
            "ai sensi del Regolamento UE 2016/679.")


@dataclass(frozen=True)
class Options:
    labels: str = "standard"
    ranked: bool | None = None
    short_names: bool = False
    reorder: bool = False
    marks: str = ""
    tavoli_table: bool = False
    label_above: bool = False
    disagree: bool = False
    rep_cf: bool = False


def glyph_font() -> str | None:
    """The registered name of a TTF that has ☒ and ☐, or None when none is installed."""
    if not _FONT_FILE.exists():
        return None
    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(_FONT_FILE)))
    return "DejaVuSans"


def build_pdf(org: Organisation, layout: str, **options: object) -> bytes:
    """A filled Allegato 1 for ``org`` in ``layout`` (see the module docstring)."""
    known = {f.name for f in fields(Options)}
    unknown = set(options) - known
    if unknown or layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r} or options {sorted(unknown)}")
    opts = Options(**options)  # type: ignore[arg-type]
    if layout in ("drawn_checkboxes", "glyph_checkboxes"):
        opts = _replace(opts, marks=layout.split("_")[0])
    if not opts.marks:
        opts = _replace(opts, marks="glyph" if glyph_font() else "drawn")
    if opts.marks == "glyph" and not glyph_font():
        opts = _replace(opts, marks="drawn")
    if layout in ("scan", "ocr_scan"):
        return _scan(org, opts, ocr=layout == "ocr_scan")
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=True)
    pen = _Pen(canvas, glyph_font() or "Helvetica")
    if layout == "table":
        _table_form(pen, org, opts)
    elif layout == "narrative":
        _narrative_form(pen, org, opts)
    elif layout.startswith("acroform"):
        _acro_form(pen, org, opts, generic=layout == "acroform_generic")
    else:
        _text_form(pen, org, opts, split=layout == "multi-page")
    canvas.showPage()
    canvas.save()
    data = buf.getvalue()
    return _contradict_first_box(data) if opts.disagree else data


def _replace(opts: Options, **changes: object) -> Options:
    values = {f.name: getattr(opts, f.name) for f in fields(Options)}
    values.update(changes)
    return Options(**values)


def labels(opts: Options) -> dict[str, str]:
    """The printed label of every field key under ``opts.labels``."""
    variant = opts.labels == "variant"
    out = {k: pair[1 if variant else 0] for k, pair in _LABELS.items()}
    return {k: v.upper() for k, v in out.items()} if opts.labels == "upper" else out


def values(org: Organisation) -> dict[str, str]:
    return {"denominazione": org.denominazione, "natura": org.natura_text,
            "cf": org.codice_fiscale, "piva": org.partita_iva or "", "sede": org.sede_legale,
            "rappresentante": org.legale_rappresentante, "referente": org.referente,
            "telefono": org.telefono, "email": org.email, "pec": org.pec}


def tavoli_rows(org: Organisation, opts: Options) -> list[tuple[str, str, str]]:
    """(code, printed name, mark) per table in printed order; the mark is "1".."3" or ""
    on ranked forms, "on"/"off" otherwise."""
    codes = list(TAVOLO_NAMES)
    if opts.reorder:
        codes = codes[1:] + codes[:1]
    ranked = org.ranked if opts.ranked is None else opts.ranked
    out = []
    for code in codes:
        name = TAVOLO_NAMES[code]
        if opts.short_names:
            name = name.removeprefix("Area ")
        if ranked:
            mark = str(org.tavoli.index(code) + 1) if code in org.tavoli else ""
        else:
            mark = "on" if code in org.tavoli else "off"
        out.append((code, name, mark))
    return out


def _tavoli_intro(org: Organisation, opts: Options) -> str:
    if org.ranked if opts.ranked is None else opts.ranked:
        return "indicando l'ordine di preferenza (1 = prima scelta) per i seguenti Tavoli d'area:"
    return "ai seguenti Tavoli d'area (barrare una o più caselle):"


class _Pen:
    """A cursor over the canvas: paragraphs wrap at the right margin, pages break at the end."""

    def __init__(self, canvas: Canvas, font: str) -> None:
        self.c = canvas
        self.font = font
        self.y = _TOP

    def para(self, text: str, size: float = _SIZE, after: float = 8.0) -> None:
        for line in simpleSplit(text, self.font, size, _RIGHT - _LEFT):
            self.need(_LEADING)
            self.c.setFont(self.font, size)
            self.c.drawString(_LEFT, self.y, line)
            self.y -= size * 1.3
        self.y -= after

    def need(self, height: float) -> None:
        if self.y - height < 50:
            self.page()

    def page(self) -> None:
        self.c.showPage()
        self.y = _TOP

    def header(self) -> None:
        for line in _HEADER:
            self.para(line, after=2)
        self.y -= 10
        self.para(_SUBJECT, after=12)

    def box(self, x: float, y: float, checked: bool, marks: str) -> float:
        """A checkbox whose bottom-left is at (x, y); returns where its label starts."""
        if marks == "glyph":
            self.c.setFont(self.font, _SIZE)
            self.c.drawString(x, y, "☒" if checked else "☐")
            return x + pdfmetrics.stringWidth("☒ ", self.font, _SIZE)
        if marks == "x":
            if checked:
                self.c.setFont(self.font, _SIZE)
                self.c.drawString(x, y, "X")
            return x + 14
        self.c.rect(x, y - 1, 9, 9, stroke=1, fill=0)
        if checked:
            self.c.line(x + 1.5, y + 0.5, x + 7.5, y + 6.5)
            self.c.line(x + 1.5, y + 6.5, x + 7.5, y + 0.5)
        return x + 15

    def tavoli(self, org: Organisation, opts: Options,
               intro: str = "MANIFESTA il proprio interesse a partecipare") -> None:
        self.para(f"{intro} {_tavoli_intro(org, opts)}", after=6)
        for _code, name, mark in tavoli_rows(org, opts):
            self.need(_LEADING)
            self.c.setFont(self.font, _SIZE)
            if mark in ("on", "off"):
                x = self.box(_LEFT + 10, self.y, mark == "on", opts.marks)
                self.c.setFont(self.font, _SIZE)
                self.c.drawString(x, self.y, name)
            else:
                self.c.drawString(_LEFT + 10, self.y, f"{mark or '–'} {name}")
            self.y -= 18
        self.y -= 6

    def closing(self, org: Organisation) -> None:
        self.para(_PRIVACY)
        self.para(f"Luogo e data: {org.comune}, 12/09/2019")
        self.para("Firma del legale rappresentante (firmato digitalmente)")


def _text_form(pen: _Pen, org: Organisation, opts: Options, *, split: bool) -> None:
    pen.header()
    names, vals = labels(opts), values(org)
    keys = list(_LABELS)
    for i, key in enumerate(keys):
        if split and i == len(keys) // 2:
            pen.page()
        pen.para(f"{names[key]}: {vals[key]}".rstrip(), after=5)
        if key == "rappresentante" and opts.rep_cf:
            pen.para(f"Codice fiscale del legale rappresentante: {org.rappresentante_cf}", after=5)
    pen.y -= 6
    pen.tavoli(org, opts)
    pen.closing(org)


def _table_form(pen: _Pen, org: Organisation, opts: Options) -> None:
    pen.header()
    pen.para("DATI DELL'ENTE", after=4)
    names, vals = labels(opts), values(org)
    rows = [(names[k], vals[k]) for k in list(_LABELS)]
    if opts.rep_cf:
        rows.insert(6, ("C.F. legale rappresentante", org.rappresentante_cf))
    _ruled_table(pen, rows, 170.0)
    pen.y -= 14
    if opts.tavoli_table:
        pen.para(f"MANIFESTA il proprio interesse a partecipare {_tavoli_intro(org, opts)}",
                 after=4)
        _ruled_marks(pen, org, opts)
        pen.y -= 14
    else:
        pen.tavoli(org, opts)
    pen.closing(org)


def _ruled_table(pen: _Pen, rows: list[tuple[str, str]], first: float) -> None:
    """A two-column table with every border drawn; values wrap inside their cell."""
    c = pen.c
    split = _LEFT + first
    width = _RIGHT - split - 8
    top = pen.y + _SIZE + 2
    c.line(_LEFT, top, _RIGHT, top)
    for label, value in rows:
        value_lines = _wrap_cell(value, pen.font, width) or [""]
        height = len(value_lines) * _LEADING + 5
        c.setFont(pen.font, _SIZE)
        c.drawString(_LEFT + 4, top - _SIZE - 2, label)
        for i, line in enumerate(value_lines):
            c.drawString(split + 4, top - _SIZE - 2 - i * _LEADING, line)
        c.line(_LEFT, top - height, _RIGHT, top - height)
        for x in (_LEFT, split, _RIGHT):
            c.line(x, top, x, top - height)
        top -= height
    pen.y = top - 12


def _wrap_cell(text: str, font: str, width: float) -> list[str]:
    """Wrap at spaces; a word longer than the cell is broken where it overflows (as
    LibreOffice does with long e-mail addresses)."""
    out: list[str] = []
    for line in simpleSplit(text, font, _SIZE, width):
        while pdfmetrics.stringWidth(line, font, _SIZE) > width:
            cut = len(line)
            while cut > 1 and pdfmetrics.stringWidth(line[:cut], font, _SIZE) > width:
                cut -= 1
            out.append(line[:cut])
            line = line[cut:]
        out.append(line)
    return out


def _ruled_marks(pen: _Pen, org: Organisation, opts: Options) -> None:
    """The tables as a ruled mark|name table (drawn boxes or ranks in the first column)."""
    c = pen.c
    top = pen.y + _SIZE + 2
    split = _LEFT + 40
    c.line(_LEFT, top, _RIGHT, top)
    for _code, name, mark in tavoli_rows(org, opts):
        c.setFont(pen.font, _SIZE)
        if mark in ("on", "off"):
            pen.box(_LEFT + 14, top - _SIZE - 4, mark == "on", opts.marks)
        else:
            c.drawString(_LEFT + 16, top - _SIZE - 4, mark)
        c.setFont(pen.font, _SIZE)
        c.drawString(split + 4, top - _SIZE - 4, name)
        c.line(_LEFT, top - 20, _RIGHT, top - 20)
        for x in (_LEFT, split, _RIGHT):
            c.line(x, top, x, top - 20)
        top -= 20
    pen.y = top - 12


def narrative_text(org: Organisation) -> str:
    piva = f"Partita IVA {org.partita_iva}, " if org.partita_iva else ""
    return (f"Il/La sottoscritto/a {org.legale_rappresentante} nato/a a Monza il 03/05/1968 "
            f"codice fiscale {org.rappresentante_cf} in qualità di legale rappresentante "
            f"dell'ente {org.denominazione} (natura giuridica: {org.natura_text}) con sede legale "
            f"in {org.sede_legale}, codice fiscale {org.codice_fiscale}, {piva}telefono "
            f"{org.telefono}, e-mail {org.email}, PEC {org.pec}")


def _narrative_form(pen: _Pen, org: Organisation, opts: Options) -> None:
    pen.header()
    pen.para(narrative_text(org))
    pen.para("consapevole delle sanzioni penali previste dall'art. 76 del D.P.R. 445/2000 per le "
             "ipotesi di falsità in atti e dichiarazioni mendaci,")
    pen.para("MANIFESTA", after=4)
    pen.tavoli(org, opts, "il proprio interesse a partecipare al percorso di co-programmazione")
    pen.para(f"e indica quale referente per la partecipazione ai tavoli: {org.referente}")
    pen.closing(org)


def _acro_form(pen: _Pen, org: Organisation, opts: Options, *, generic: bool) -> None:
    """Printed labels with fillable fields beside (or below) them; the tables as check boxes
    (or, ranked, as small text fields right of the printed names)."""
    form = pen.c.acroForm
    pen.header()
    names, vals = labels(opts), values(org)
    counter = iter(range(1, 100))
    for key in _LABELS:
        name = f"Testo{next(counter)}" if generic else _FIELD_NAMES[key]
        pen.need(40)
        pen.c.setFont(pen.font, _SIZE)
        pen.c.drawString(_LEFT, pen.y, names[key])
        if opts.label_above:
            pen.y -= 20
            x, width = _LEFT, 300.0
        else:
            x, width = 250.0, _RIGHT - 250.0
        form.textfield(name=name, value=vals[key], x=x, y=pen.y - 4, width=width, height=16,
                       fontSize=9, borderWidth=1, maxlen=200)
        pen.y -= 24
    pen.y -= 6
    pen.para(f"Chiede di partecipare {_tavoli_intro(org, opts)}", after=8)
    boxes = iter(range(1, 10))
    for code, name, mark in tavoli_rows(org, opts):
        pen.need(24)
        pen.c.setFont(pen.font, _SIZE)
        if mark in ("on", "off"):
            field = f"Casella di controllo {next(boxes)}" if generic else f"tavolo_{code}"
            form.checkbox(name=field, checked=mark == "on", x=_LEFT + 10, y=pen.y - 2, size=11,
                          buttonStyle="cross", borderWidth=1)
            pen.c.drawString(_LEFT + 28, pen.y, name)
        else:
            field = f"Testo{next(counter)}" if generic else f"priorita_{code}"
            pen.c.drawString(_LEFT + 10, pen.y, name)
            form.textfield(name=field, value=mark, x=400, y=pen.y - 3, width=30, height=14,
                           fontSize=9, borderWidth=1)
        pen.y -= 22
    pen.y -= 6
    pen.closing(org)


def _contradict_first_box(data: bytes) -> bytes:
    """Flip the /V of the first check box, leaving its /AS: the bytes keep their length, so
    the cross-reference table stays right."""
    for match in re.finditer(rb"\d+ 0 obj\s*<<.*?>>\s*endobj", data, re.S):
        body = match.group(0)
        if b"/FT /Btn" not in body:
            continue
        if b"/V /Yes" in body:
            new = body.replace(b"/V /Yes", b"/V /Off")
        elif b"/V /Off" in body:
            new = body.replace(b"/V /Off", b"/V /Yes")
        else:
            continue
        return data[:match.start()] + new + data[match.end():]
    raise ValueError("no check box to contradict")


def plain_lines(org: Organisation, opts: Options) -> list[str]:
    """The text layout's lines as a person reads them (what a scan shows)."""
    names, vals = labels(opts), values(org)
    out = [*_HEADER, *simpleSplit(_SUBJECT, "Helvetica", _SIZE, _RIGHT - _LEFT)]
    out += [f"{names[k]}: {vals[k]}".rstrip() for k in _LABELS]
    out.append(f"MANIFESTA il proprio interesse a partecipare {_tavoli_intro(org, opts)}")
    for _code, name, mark in tavoli_rows(org, opts):
        glyph = {"on": "☒", "off": "☐"}.get(mark, mark or "–")
        out.append(f"{glyph} {name}")
    out += [f"Luogo e data: {org.comune}, 12/09/2019", "Firma del legale rappresentante"]
    return out


def _scan(org: Organisation, opts: Options, *, ocr: bool) -> bytes:
    """A page-size image of the text (100 dpi), with invisible text over it when ``ocr``."""
    scale = 100 / 72
    image = Image.new("L", (round(_WIDTH * scale), round(_HEIGHT * scale)), 255)
    draw = ImageDraw.Draw(image)
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont = (
        ImageFont.truetype(str(_FONT_FILE), round(_SIZE * scale)) if _FONT_FILE.exists()
        else ImageFont.load_default())
    lines = plain_lines(org, opts)
    for i, line in enumerate(lines):
        y = _TOP - i * 20
        draw.text((_LEFT * scale, (_HEIGHT - y - _SIZE) * scale), line, fill=0, font=font)
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=True)
    canvas.drawImage(ImageReader(image), 0, 0, _WIDTH, _HEIGHT)
    if ocr:
        text = canvas.beginText()
        text.setTextRenderMode(3)
        text.setFont(glyph_font() or "Helvetica", _SIZE)
        for i, line in enumerate(lines):
            text.setTextOrigin(_LEFT, _TOP - i * 20)
            text.textOut(line)
        canvas.drawText(text)
    canvas.showPage()
    canvas.save()
    return buf.getvalue()
