"""Allegato 1 forms in wordings and layouts the reader was not written for, with their truth.

A stress set for the field extractor, independent of the corpus: its own names, organisations
and comuni (from the whole ISTAT list), and the habits that broke earlier readers: narrative
prose with quoted names, the comune written before the street, dotted leaders with hints under
the blanks, the recipient office's contacts printed in the header, a second party (a proxy)
with its own contacts, "Cognome X Nome Y" rows, blanks that still hold the form's hints.

``variant_form(seed)`` returns ``(file name, bytes, truth)``; the truth has the shape of the
corpus ``*.truth.json``. Rendering to DOCX and PDF is in :mod:`variant_render`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from parsers.comuni import comune_key, comuni_index
from pec_ingest.samples.people import TAVOLO_NAMES, organisation_code, personal_code
from pec_ingest.samples.variant_render import Block, render_docx, render_pdf

LAYOUTS = ("narrativa", "comune_prima", "puntini", "ufficio", "procura", "cognome_nome",
           "suggerimenti", "altro_destinatario", "procura_prima", "righe_separate",
           "narrativa_qualita", "etichette_nuove", "partner")
DISTRICT = ("Bellinzago Lombardo", "Bussero", "Cambiago", "Carugate", "Cassina de' Pecchi",
            "Cernusco sul Naviglio", "Gessate", "Gorgonzola", "Pessano con Bornago")
OFFICE_LINES = (
    "Spett.le Comune di Cernusco sul Naviglio – Ufficio di Piano",
    "Via Tizzoni 2 – 20063 Cernusco sul Naviglio (MI)",
    "Tel. 02 9278 434 – e-mail: pianodizona@comune.cernuscosulnaviglio.mi.it",
    "PEC: comune.cernuscosulnaviglio@pec.regione.lombardia.it",
)
_FIRST = ("Alessandro", "Beatrice", "Carlo", "Daniela", "Emanuele", "Federica", "Gianluca",
          "Ilaria", "Lorenzo", "Martina", "Nicola", "Ornella", "Pietro", "Rosa", "Stefano",
          "Teresa", "Valerio", "Anna Maria", "Gian Paolo", "Monica")
_LAST = ("Esposito", "Marchetti", "Bernasconi", "Lombardi", "Sironi", "D'Angelo", "Galimberti",
         "Mariani", "Ronchi", "Perego", "Sangalli", "Zanetti", "Di Stefano", "Motta", "Crippa",
         "Barzaghi")
_WORDS = ("Passo dopo Passo", "Nuovi Orizzonti", "Mano Tesa", "Il Melograno", "Aquilone",
          "La Bussola", "Terra Comune", "Il Seme", "Tandem", "Filo d'Argento", "Porte Aperte",
          "Sentieri", "Il Faro", "Spazio Giovani")
# (natura code, as written in the form, name pattern)
_NATURE = (
    ("odv", "organizzazione di volontariato", "Gruppo Volontari {w} ODV"),
    ("aps", "associazione di promozione sociale", "Associazione {w} APS"),
    ("coop_sociale", "cooperativa sociale", "{w} Cooperativa Sociale a r.l."),
    ("fondazione", "fondazione", "Fondazione {w} Onlus"),
    ("impresa_sociale", "impresa sociale", "{w} Impresa Sociale S.r.l."),
    ("associazione", "associazione non riconosciuta", "Comitato {w}"),
)
_STREETS = ("Via Torino", "Piazza Matteotti", "Via Giuseppe Mazzini", "Viale delle Rimembranze",
            "Via Fratelli Cervi", "Corso Garibaldi", "Via San Francesco",
            "Largo Donatori del Sangue", "Via IV Novembre", "Vicolo del Pozzo")
_PEC = ("pec.it", "legalmail.it", "arubapec.it", "pec.cgn.it", "cert.legalmail.it",
        "pecimprese.it")
_MARK = {True: "☒", False: "☐"}


@dataclass(frozen=True)
class Applicant:
    """One invented applicant, with everything a form may print about it."""

    values: dict[str, Any]
    natura_text: str
    province: str
    cap: str
    street: str
    rep_first: str
    rep_last: str
    rep_cf: str
    tavoli: tuple[str, ...]


def _comune(rng: random.Random) -> tuple[str, str, str]:
    index = comuni_index()
    if rng.random() < 0.6:
        comune = index[comune_key(DISTRICT[rng.randrange(len(DISTRICT))])][0]
        return comune.name, comune.province, comune.caps[0]
    keys = sorted(index)
    while True:  # anywhere in Italy: a comune with a known CAP
        comune = index[keys[rng.randrange(len(keys))]][0]
        if comune.caps:
            return comune.name, comune.province, comune.caps[0]


def make_applicant(rng: random.Random) -> Applicant:
    code, natura_text, pattern = rng.choice(_NATURE)
    word = rng.choice(_WORDS)
    slug = "".join(c for c in word.lower() if c.isalnum() and c.isascii())
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    comune, province, cap = _comune(rng)
    street = f"{rng.choice(_STREETS)} {rng.randint(1, 120)}"
    cf = organisation_code(rng)
    referente = rng.choice((f"{first} {last}", f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                            None))
    phone = rng.choice((f"02 {rng.randint(9000000, 9999999)}",
                        f"+39 3{rng.randint(20, 49)} {rng.randint(100, 999)} "
                        f"{rng.randint(1000, 9999)}",
                        f"0{rng.randint(30, 39)}-{rng.randint(100000, 999999)}"))
    values = {
        "denominazione": pattern.format(w=word), "natura_giuridica": code,
        "codice_fiscale": cf, "partita_iva": rng.choice((None, cf, organisation_code(rng))),
        "sede_legale": f"{street}, {cap} {comune} ({province})",
        "comune": comune,
        "legale_rappresentante": f"{first} {last}", "referente": referente,
        "email": f"{rng.choice(('info', 'segreteria', 'contatti'))}@{slug}.org",
        "pec": f"{slug}@{rng.choice(_PEC)}", "telefono": phone,
    }
    tavoli = tuple(sorted(rng.sample(("famiglia", "poverta", "autonomie"), rng.randint(1, 3))))
    return Applicant(values, natura_text, province, cap, street, first, last,
                     personal_code(rng, first, last), tavoli)


def _tavoli_blocks(app: Applicant) -> list[Block]:
    blocks: list[Block] = [("p", "CHIEDE di partecipare ai seguenti Tavoli d'area "
                                 "(barrare la casella):")]
    for code, name in TAVOLO_NAMES.items():
        blocks.append(("p", f"{_MARK[code in app.tavoli]} {name}"))
    return blocks


def _closing(rng: random.Random, app: Applicant) -> list[Block]:
    return [("p", f"Luogo e data: {app.values['comune']}, {rng.randint(1, 9)}/09/2019"),
            ("p", "Firma del legale rappresentante (documento firmato digitalmente)")]


def _narrativa(rng: random.Random, app: Applicant) -> list[Block]:
    v = app.values
    piva = f"Partita IVA {v['partita_iva']}" if v["partita_iva"] else "Partita IVA non posseduta"
    if rng.random() < 0.5:
        sede = f"sede legale: {app.street} – {app.cap} {v['comune']} ({app.province})"
        opening = (f"Io sottoscritto/a {v['legale_rappresentante']}, nato/a a Monza il "
                   f"12/03/1968, C.F. {app.rep_cf}, legale rappresentante dell'organizzazione "
                   f"denominata «{v['denominazione']}» avente forma giuridica di "
                   f"{app.natura_text}, {sede}")
    else:
        opening = (f"La/Il sottoscritta/o {v['legale_rappresentante']} (C.F. {app.rep_cf}), "
                   f"in qualità di Presidente pro tempore dell'ente denominato "
                   f"\"{v['denominazione']}\", {app.natura_text}, con sede in {v['comune']} "
                   f"({app.cap}), {app.street}")
    text = (f"{opening}, codice fiscale dell'ente {v['codice_fiscale']}, {piva}, recapito "
            f"telefonico {v['telefono']}, indirizzo PEC {v['pec']}, posta elettronica "
            f"{v['email']},")
    blocks: list[Block] = [("p", "ALLEGATO 1 – MANIFESTAZIONE DI INTERESSE"), ("p", text)]
    blocks += _tavoli_blocks(app)
    if v["referente"]:
        blocks.append(("p", f"e indica come persona di riferimento per i tavoli "
                            f"{v['referente']}."))
    return blocks + _closing(rng, app)


def _rows(app: Applicant, sede: str) -> list[list[str]]:
    v = app.values
    return [["Denominazione", v["denominazione"]], ["Forma giuridica", app.natura_text],
            ["Codice fiscale dell'ente", v["codice_fiscale"]],
            ["Partita IVA", v["partita_iva"] or ""], ["Sede legale", sede],
            ["Legale rappresentante", v["legale_rappresentante"]],
            ["Referente per i tavoli", v["referente"] or ""], ["Telefono", v["telefono"]],
            ["E-mail", v["email"]], ["PEC", v["pec"]]]


def _comune_prima(rng: random.Random, app: Applicant) -> list[Block]:
    v = app.values
    sede = rng.choice((f"{v['comune']} ({app.cap}), {app.street}",
                       f"{app.cap} {v['comune']} ({app.province}), {app.street}",
                       f"{v['comune']}, {app.street}"))
    blocks: list[Block] = [("p", "Modulo di adesione – dati del soggetto richiedente"),
                           ("table", _rows(app, sede))]
    return blocks + _tavoli_blocks(app) + _closing(rng, app)


def _puntini(rng: random.Random, app: Applicant) -> list[Block]:
    v = app.values
    dots = "." * rng.randint(8, 30)
    lines = [f"Denominazione {dots} {v['denominazione']}",
             f"Natura giuridica {dots} {app.natura_text}",
             f"Codice fiscale {dots} {v['codice_fiscale']}",
             f"Partita IVA {dots} {v['partita_iva'] or ''}",
             f"Indirizzo sede legale (via, numero civico) {dots} {app.street}",
             f"CAP {dots} {app.cap}", f"Città {dots} {v['comune']}",
             f"Provincia {dots} {app.province}",
             f"Legale rappresentante {dots} {v['legale_rappresentante']}",
             "(cognome e nome)",
             f"Referente {dots} {v['referente'] or ''}",
             "(cognome e nome)",
             f"Telefono {dots} {v['telefono']}", f"E-mail {dots} {v['email']}",
             f"PEC {dots} {v['pec']}"]
    blocks: list[Block] = [("p", line) for line in lines]
    return blocks + _tavoli_blocks(app) + _closing(rng, app)


def _ufficio(rng: random.Random, app: Applicant) -> list[Block]:
    blocks: list[Block] = [("p", line) for line in OFFICE_LINES]
    blocks.append(("p", "OGGETTO: adesione ai Tavoli d'area del Piano di Zona"))
    v = app.values
    blocks += [("p", f"{label}: {value}") for label, value in _rows(app, v["sede_legale"])]
    return blocks + _tavoli_blocks(app) + _closing(rng, app)


def _procura(rng: random.Random, app: Applicant) -> list[Block]:
    v = app.values
    proxy_first, proxy_last = rng.choice(_FIRST), rng.choice(_LAST)
    proxy = [["Nome e cognome", f"{proxy_first} {proxy_last}"],
             ["Codice fiscale", personal_code(rng, proxy_first, proxy_last)],
             ["E-mail", f"{proxy_first[0].lower()}.{proxy_last.lower().replace(' ', '')}"
                        f"@studioassociato.it"],
             ["Telefono", f"02 {rng.randint(8000000, 8999999)}"]]
    blocks: list[Block] = [("p", "DATI DELL'ENTE"), ("table", _rows(app, v["sede_legale"])),
                           ("p", "DATI DEL DELEGATO (procura speciale allegata)"),
                           ("table", proxy)]
    return blocks + _tavoli_blocks(app) + _closing(rng, app)


def _altro_destinatario(rng: random.Random, app: Applicant) -> list[Block]:
    """Addressed to an office the configuration does not know, with all its contacts."""
    office = rng.choice(("Azienda Speciale Consortile Insieme per il Sociale",
                         "Comune di Gorgonzola – Servizi Sociali"))
    slug = "".join(c for c in office.split("–")[0].lower() if c.isalpha())[:18]
    blocks: list[Block] = [
        ("p", f"Spett.le {office}"), ("p", "Via Roma 10 – 20064 Gorgonzola (MI)"),
        ("p", f"PEC: protocollo@pec.{slug}.it – Tel. 02 {rng.randint(9500000, 9599999)}"),
        ("p", f"C.F. {organisation_code(rng)}"), ("p", ""),
        ("p", "OGGETTO: domanda di partecipazione ai Tavoli d'area")]
    v = app.values
    blocks += [("p", f"{label}: {value}") for label, value in _rows(app, v["sede_legale"])]
    return blocks + _tavoli_blocks(app) + _closing(rng, app)


def _procura_prima(rng: random.Random, app: Applicant) -> list[Block]:
    """The proxy's block (with its own PEC and phone) before the applicant's."""
    blocks = _procura(rng, app)
    proxy = blocks[3][1]
    if isinstance(proxy, list):
        proxy.append(["PEC", "studioassociato@pec.it"])
    return [("p", "Il sottoscritto agisce in forza di procura speciale."), *blocks[2:4],
            *blocks[:2], *blocks[4:]]


def _righe_separate(rng: random.Random, app: Applicant) -> list[Block]:
    """The representative as separate Cognome / Nome rows under a heading; the address split."""
    v = app.values
    rows = [["Denominazione", v["denominazione"]], ["Codice fiscale", v["codice_fiscale"]],
            ["Via/Piazza e n. civico", app.street], ["CAP", app.cap], ["Comune", v["comune"]],
            ["Provincia", app.province], ["Telefono", v["telefono"]], ["E-mail", v["email"]],
            ["PEC", v["pec"]]]
    person = [["Cognome", app.rep_last], ["Nome", app.rep_first],
              ["Codice fiscale", app.rep_cf]]
    blocks: list[Block] = [("p", "SEZIONE A – DATI DELL'ENTE"), ("table", rows),
                           ("p", "SEZIONE B – DATI DEL LEGALE RAPPRESENTANTE"),
                           ("table", person)]
    app.values["referente"] = None
    app.values["partita_iva"] = None
    app.values["natura_giuridica"] = None if app.values["natura_giuridica"] not in (
        "odv", "aps", "coop_sociale", "fondazione", "impresa_sociale") else \
        app.values["natura_giuridica"]
    return blocks + _tavoli_blocks(app) + _closing(rng, app)


def _narrativa_qualita(rng: random.Random, app: Applicant) -> list[Block]:
    """Another sentence: the role first, the body named by its kind, the comune after " a "."""
    v = app.values
    text = (f"Il sottoscritto {v['legale_rappresentante']}, nella sua qualità di Presidente e "
            f"legale rappresentante dell'associazione «{v['denominazione']}», con sede legale "
            f"in {app.street} a {v['comune']} ({app.province}), C.F. {v['codice_fiscale']}, "
            f"tel. {v['telefono']}, e-mail {v['email']}, PEC {v['pec']}")
    blocks: list[Block] = [("p", "MANIFESTAZIONE DI INTERESSE"), ("p", text + ",")]
    if v["referente"]:
        blocks.append(("p", f"Referente per i tavoli: {v['referente']}"))
    v["partita_iva"] = None
    return blocks + _tavoli_blocks(app) + _closing(rng, app)


def _etichette_nuove(rng: random.Random, app: Applicant) -> list[Block]:
    """Labels in next year's words, in capitals; the address in one cell with dashes."""
    v = app.values
    rows = [["DENOMINAZIONE O RAGIONE SOCIALE", v["denominazione"]],
            ["NATURA GIURIDICA DEL SOGGETTO", app.natura_text],
            ["CODICE FISCALE DEL SOGGETTO", v["codice_fiscale"]],
            ["PARTITA IVA (EVENTUALE)", v["partita_iva"] or ""],
            ["SEDE LEGALE (INDIRIZZO COMPLETO)",
             f"{app.street} - {app.cap} - {v['comune']} ({app.province})"],
            ["LEGALE RAPPRESENTANTE (NOME E COGNOME)", v["legale_rappresentante"].upper()],
            ["REFERENTE OPERATIVO", v["referente"] or ""],
            ["TELEFONO / CELLULARE", v["telefono"]], ["INDIRIZZO E-MAIL", v["email"]],
            ["INDIRIZZO PEC", v["pec"]]]
    blocks: list[Block] = [("table", rows)]
    return blocks + _tavoli_blocks(app) + _closing(rng, app)


def _partner(rng: random.Random, app: Applicant) -> list[Block]:
    """A second organisation (a partner) with all its data, after the applicant's."""
    other = make_applicant(random.Random(rng.random()))
    blocks: list[Block] = [("p", "SOGGETTO PROPONENTE"), ("table", _rows(app, app.values[
        "sede_legale"])), ("p", "ENTE PARTNER (in caso di partenariato)"),
        ("table", _rows(other, other.values["sede_legale"]))]
    return blocks + _tavoli_blocks(app) + _closing(rng, app)


def _cognome_nome(rng: random.Random, app: Applicant) -> list[Block]:
    rows = _rows(app, app.values["sede_legale"])
    rows[5] = ["Legale rappresentante", f"Cognome {app.rep_last} Nome {app.rep_first}"]
    if rng.random() < 0.5:
        rows[5] = ["Legale rappresentante (cognome e nome)",
                   f"{app.rep_last.upper()} {app.rep_first.upper()}"]
    blocks: list[Block] = [("table", rows)]
    return blocks + _tavoli_blocks(app) + _closing(rng, app)


def _suggerimenti(rng: random.Random, app: Applicant, truth: dict[str, Any]) -> list[Block]:
    rows = _rows(app, app.values["sede_legale"])
    hints = {3: "(se posseduta)", 6: "cognome e nome", 7: "indicare un recapito telefonico"}
    for index, hint in hints.items():
        if rng.random() < 0.6:
            rows[index] = [rows[index][0], hint]
            truth[("partita_iva", "", "", "referente", "telefono")[index - 3]] = None
    rows.insert(1, ["Abbreviazione / sigla", ""])
    blocks: list[Block] = [("table", rows)]
    return blocks + _tavoli_blocks(app) + _closing(rng, app)


def variant_form(seed: int) -> tuple[str, bytes, dict[str, Any]]:
    """The ``seed``-th variant: file name, document bytes and the truth."""
    rng = random.Random(f"variant-{seed}")
    app = make_applicant(rng)
    layout = LAYOUTS[seed % len(LAYOUTS)]
    fields = dict(app.values)
    if layout == "suggerimenti":
        blocks = _suggerimenti(rng, app, fields)
    else:
        blocks = globals()[f"_{layout}"](rng, app)
        fields = dict(app.values)
    fmt = "pdf" if rng.random() < 0.5 else "docx"
    data = render_pdf(blocks) if fmt == "pdf" else render_docx(blocks)
    truth = {"fields": fields, "tavoli": list(app.tavoli), "ranked": False,
             "expect_review": False, "layout": layout, "variant": fmt}
    return f"variant_{seed:03d}_{layout}.{fmt}", data, truth
