"""Filled Allegato 1 forms as real DOCX files, in every layout and wording the parser reads.

``build_docx(org, layout, **options)`` returns the bytes of a .docx made with python-docx plus
raw WordprocessingML (:mod:`docx_xml`) for what python-docx cannot write. ``expected(org,
**options)`` is the truth the parser should return for the same options (the referente and
the P.IVA depend on them). Layouts: ``narrative``, ``table``, ``label_lines``, ``dotted``,
``tab_stops``, ``split_lines``, ``controls``, ``legacy_fields``, ``textbox``, ``nested_table``.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import docx
from docx.oxml import parse_xml

from pec_ingest.samples import docx_xml as x
from pec_ingest.samples.people import TAVOLI, TAVOLO_NAMES, Organisation

LAYOUTS = ("narrative", "table", "label_lines", "dotted", "tab_stops", "split_lines",
           "controls", "legacy_fields", "textbox", "nested_table")
LABELS: dict[str, tuple[str, ...]] = {
    "denominazione": ("Denominazione", "Denominazione ente", "Ragione sociale",
                      "Nome dell'organizzazione"),
    "natura_giuridica": ("Natura giuridica", "Forma giuridica", "Tipologia di ente"),
    "codice_fiscale": ("Codice fiscale", "C.F.", "Codice fiscale dell'ente"),
    "partita_iva": ("Partita IVA", "P.IVA", "Partita I.V.A."),
    "sede_legale": ("Sede legale", "Indirizzo sede legale"),
    "legale_rappresentante": ("Legale rappresentante", "Rappresentante legale", "Presidente"),
    "referente": ("Referente", "Persona di riferimento"),
    "telefono": ("Telefono", "Tel.", "Recapito telefonico", "Cellulare"),
    "email": ("E-mail", "Posta elettronica"),
    "pec": ("PEC", "Posta elettronica certificata", "P.E.C."),
}
# marker style -> (checked, unchecked) as typed text; structural styles are drawn separately
MARKERS: dict[str, tuple[str, str]] = {
    "☒": ("☒", "☐"), "☑": ("☑", "☐"), "✔": ("✔", "□"), "✓": ("✓", "◻"), "✗": ("✗", "☐"),
    "✘": ("✘", "☐"), "⊠": ("⊠", "☐"), "⌧": ("⌧", "☐"), "■": ("■", "□"), "X": ("X", ""),
    "x": ("x", ""), "[X]": ("[X]", "[ ]"), "SI": ("SI", "NO"),
}
STRUCTURAL_MARKERS = ("control", "legacy", "legacy_default", "wingdings", "wingdings_text")
SHORT_NAMES = {"famiglia": "Promozione del benessere familiare",
               "poverta": "Contrasto alla povertà", "autonomie": "Promozione delle autonomie"}
SHORTEST_NAMES = {"famiglia": "Famiglia", "poverta": "Povertà", "autonomie": "Autonomie"}
SAME_PERSON = ("lo stesso", "il legale rappresentante", "idem", "la stessa")
WORD_PLACEHOLDER = "Fare clic o toccare qui per immettere il testo."


@dataclass(frozen=True)
class Options:
    """How a form is written; see :func:`build_docx`."""

    seed: int = 0
    labels: Mapping[str, str] | None = None
    case: str = "as_is"  # as_is | upper | lower
    colon: bool = True
    marker: str = "☒"
    marker_after: bool = False
    ranked: bool | None = None
    names: str = "full"  # full | short | shortest
    reorder: bool = False
    referente: str = "name"  # name | same | absent
    empty_piva: bool = True
    placeholder: str = "none"  # none | word | libreoffice
    rep_cf_row: bool = False
    tracked: bool = False


def expected(org: Organisation, **options: Any) -> dict[str, Any]:
    """The truth for ``build_docx(org, layout, **options)`` (shape of ``*.truth.json``)."""
    opts = Options(**options)
    truth = org.truth()
    if opts.referente == "absent":
        truth["fields"]["referente"] = None
    elif opts.referente == "same":
        truth["fields"]["referente"] = org.legale_rappresentante
    ranked = org.ranked if opts.ranked is None else opts.ranked
    truth["ranked"] = ranked
    return truth


def build_docx(org: Organisation, layout: str, **options: Any) -> bytes:
    """A filled Allegato 1 as DOCX bytes. ``options``: the fields of :class:`Options`."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    opts = Options(**options)
    if opts.marker not in MARKERS and opts.marker not in STRUCTURAL_MARKERS:
        raise ValueError(f"unknown marker {opts.marker!r}")
    rng = random.Random(opts.seed)
    blocks = _heading() + _data_blocks(org, layout, opts, rng) + _tavoli_blocks(org, opts, rng)
    blocks += _closing(org, opts, layout)
    document = docx.Document()
    anchor = document.element.body[-1]
    for block in blocks:
        anchor.addprevious(parse_xml(block))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _heading() -> list[str]:
    return [x.paragraph(x.run("ALLEGATO 1", bold=True)),
            x.paragraph(x.run("Spett.le Ufficio di Piano – Ambito Distrettuale 4"),
                        x.line_break(), x.run("Comune di Cernusco sul Naviglio (capofila)")),
            x.paragraph(x.run("OGGETTO: Manifestazione di interesse alla partecipazione alla "
                              "fase di programmazione del Piano Sociale di Zona 2018/2020"))]


def _label(field: str, opts: Options, rng: random.Random) -> str:
    label = (opts.labels or {}).get(field) or rng.choice(LABELS[field])
    if opts.case == "upper":
        label = label.upper()
    elif opts.case == "lower":
        label = label.lower()
    return label + (":" if opts.colon else "")


def _rows(org: Organisation, opts: Options, rng: random.Random) -> list[tuple[str, str, str]]:
    """(field, label, value) in form order; value "" means an empty row."""
    values = [
        ("denominazione", org.denominazione), ("natura_giuridica", org.natura_text),
        ("codice_fiscale", org.codice_fiscale), ("partita_iva", org.partita_iva or ""),
        ("sede_legale", org.sede_legale), ("legale_rappresentante", org.legale_rappresentante),
        ("referente", _referente(org, opts, rng)), ("telefono", org.telefono),
        ("email", org.email), ("pec", org.pec),
    ]
    rows = [(f, _label(f, opts, rng), v) for f, v in values
            if not (f == "partita_iva" and not v and not opts.empty_piva)
            and not (f == "referente" and opts.referente == "absent")]
    if opts.rep_cf_row:
        at = next(i for i, r in enumerate(rows) if r[0] == "legale_rappresentante") + 1
        rows.insert(at, ("rep_cf", "Codice fiscale" + (":" if opts.colon else ""),
                         org.rappresentante_cf))
    return rows


def _referente(org: Organisation, opts: Options, rng: random.Random) -> str:
    return rng.choice(SAME_PERSON) if opts.referente == "same" else org.referente


def _value(field: str, value: str, layout: str, opts: Options) -> str:
    if not value:
        if opts.placeholder == "word" and layout in ("controls", "split_lines"):
            return x.text_control("", field, WORD_PLACEHOLDER)
        return x.run(WORD_PLACEHOLDER) if opts.placeholder == "libreoffice" else ""
    if field == "telefono" and opts.tracked:
        return x.tracked("02 0000000", value)
    if layout == "controls":
        return x.text_control(value, field)
    if layout == "legacy_fields":
        return x.legacy_text(value)
    return x.run(value)


def _data_blocks(org: Organisation, layout: str, opts: Options, rng: random.Random) -> list[str]:
    if layout == "narrative":
        return _narrative(org, opts, rng)
    rows = _rows(org, opts, rng)
    build: Callable[[tuple[str, str, str]], list[str]] = {
        "label_lines": lambda r: [x.paragraph(x.run(r[1] + " "), _value(r[0], r[2], layout,
                                                                       opts))],
        "controls": lambda r: [x.paragraph(x.run(r[1] + " "), _value(r[0], r[2], layout, opts))],
        "legacy_fields": lambda r: [x.paragraph(x.run(r[1] + " "),
                                                _value(r[0], r[2], layout, opts))],
        "dotted": lambda r: [x.paragraph(x.run(r[1] + " " + "." * 20 + " "),
                                         _value(r[0], r[2], layout, opts))],
        "tab_stops": lambda r: [x.paragraph(x.run(r[1]), x.tab(), x.tab(),
                                            _value(r[0], r[2], layout, opts))],
        "split_lines": lambda r: [x.paragraph(x.run(r[1])), _split_value(r, layout, opts)],
    }.get(layout, lambda r: [])
    if layout in ("table", "nested_table"):
        table = [[x.bare_paragraph(x.run(r[1])),
                  x.bare_paragraph(_value(r[0], r[2], layout, opts))] for r in rows]
        if layout == "table":
            return [x.paragraph(x.run("DATI DELL'ENTE")), x.table(table)]
        return [x.table([[x.bare_paragraph(x.run("DATI DELL'ENTE"))], [x.table(table)]], 8640)]
    if layout == "textbox":
        inner = [x.bare_paragraph(x.run(r[1] + " "), _value(r[0], r[2], layout, opts))
                 for r in rows]
        return [x.paragraph(x.run("DATI DELL'ENTE"), x.text_box(inner))]
    return [block for row in rows for block in build(row)]


def _split_value(row: tuple[str, str, str], layout: str, opts: Options) -> str:
    if row[2] and opts.placeholder != "word":
        return x.block_text_control(row[2], row[0])
    return x.paragraph(_value(row[0], row[2], layout, opts))


def _narrative(org: Organisation, opts: Options, rng: random.Random) -> list[str]:
    cf_word = rng.choice(("codice fiscale", "C.F.", "cod. fiscale"))
    role = rng.choice(("legale rappresentante", "Presidente e legale rappresentante",
                       "rappresentante legale"))
    piva = f", Partita IVA {org.partita_iva}" if org.partita_iva else ""
    text = (f"Il/La sottoscritto/a {org.legale_rappresentante} nato/a a "
            f"{rng.choice(('Milano', 'Roma', 'Bergamo', 'Monza', 'Napoli'))} il 12/03/1965 "
            f"{cf_word} {org.rappresentante_cf} in qualità di {role} dell'ente "
            f"{org.denominazione} (natura giuridica: {org.natura_text}) con sede legale in "
            f"{org.sede_legale}, {cf_word} {org.codice_fiscale}{piva}, telefono {org.telefono}, "
            f"e-mail {org.email}, PEC {org.pec}")
    return [x.paragraph(x.run(text)),
            x.paragraph(x.run("consapevole delle sanzioni penali previste dall'art. 76 del "
                              "D.P.R. 445/2000 per le ipotesi di falsità in atti e "
                              "dichiarazioni mendaci,")),
            x.paragraph(x.run("MANIFESTA"))]


def _tavoli_blocks(org: Organisation, opts: Options, rng: random.Random) -> list[str]:
    ranked = org.ranked if opts.ranked is None else opts.ranked
    order = list(TAVOLI)
    if opts.reorder:
        rng.shuffle(order)
    names = {"full": TAVOLO_NAMES, "short": SHORT_NAMES, "shortest": SHORTEST_NAMES}[opts.names]
    intro = ("il proprio interesse a partecipare indicando l'ordine di preferenza "
             "(1 = prima scelta) per i seguenti Tavoli d'area:" if ranked else
             "il proprio interesse a partecipare ai seguenti Tavoli d'area "
             "(barrare una o più caselle):")
    blocks = [x.paragraph(x.run(intro))]
    for code in order:
        chosen = code in org.tavoli
        if ranked:
            mark = str(org.tavoli.index(code) + 1) if chosen else "–"
            blocks.append(x.paragraph(x.run(f"{mark}  {names[code]}")))
        else:
            blocks.append(_checkbox_line(names[code], chosen, opts))
    return blocks


def _checkbox_line(name: str, chosen: bool, opts: Options) -> str:
    structural = {
        "control": x.checkbox_control, "legacy": x.legacy_checkbox,
        "legacy_default": lambda c: x.legacy_checkbox(c, by_default=True),
        "wingdings": x.wingdings_symbol, "wingdings_text": x.wingdings_text,
    }
    if opts.marker in structural:
        box = structural[opts.marker](chosen)
        if opts.marker_after:
            return x.paragraph(x.run(name + " "), box)
        return x.paragraph(box, x.run(" " + name))
    mark = MARKERS[opts.marker][0 if chosen else 1]
    if opts.marker_after:
        return x.paragraph(x.run(f"{name}{': ' if mark else ''}{mark}"))
    return x.paragraph(x.run(f"{mark} {name}".strip()))


def _closing(org: Organisation, opts: Options, layout: str) -> list[str]:
    blocks = []
    if layout == "narrative" and opts.referente != "absent":
        who = SAME_PERSON[opts.seed % len(SAME_PERSON)] if opts.referente == "same" else \
            org.referente
        blocks.append(x.paragraph(x.run("e indica quale referente per la partecipazione ai "
                                        f"tavoli: {who}")))
    blocks += [
        x.paragraph(x.run("Dichiara di aver preso visione dell'informativa sul trattamento dei "
                          "dati personali ai sensi del Regolamento UE 2016/679.")),
        x.paragraph(x.run(f"Luogo e data: {org.comune}, 05/09/2019")),
        x.paragraph(x.run("Firma del legale rappresentante"), x.line_break(),
                    x.run("______________________")),
    ]
    return blocks
