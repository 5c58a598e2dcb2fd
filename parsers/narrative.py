"""Values stated in prose: "Il/La sottoscritto/a X nato/a a ... C.F. <personale> in qualità di
legale rappresentante dell'ente Y ... con sede legale in ... codice fiscale ... P.IVA ...".

The text of the paragraphs is read as one flow (a PDF wraps a sentence over several lines).
The stretch that describes the signing person (from "sottoscritto" or "nato/a" to "in qualità
di") is a *person span*: nothing found there is attributed to the organisation, so the
representative's own codice fiscale, birth place or home address never become the ente's.
"""

from __future__ import annotations

import re

from parsers.content import CELL_SEPARATOR
from parsers.labels import STOP, LabelMatcher, fold_aligned, following, qualified_fields
from parsers.structured import Candidate, Group, label_groups

CODE_FIELDS = ("codice_fiscale", "partita_iva")
CONTACT_FIELDS = ("email", "pec", "telefono")
TEXT_FIELDS = ("denominazione", "natura_giuridica", "legale_rappresentante", "referente",
               "comune")

_ROLE = (r"(?:legale\s+rappresentante|rappresentante\s+legale|presidente|vice\s*presidente|"
         r"direttore(?:\s+generale)?|dirigente(?:\s+scolastico)?|responsabile|coordinatore|"
         r"coordinatrice|amministratore(?:\s+unico|\s+delegato)?|titolare|parroco|delegat[oa]|"
         r"procuratore|segretari[oa])")
_QUALITY = re.compile(
    r"(?:in\s+qualita'?\s+di|nella\s+(?:sua\s+)?qualita'?\s+di|in\s+veste\s+di|quale|come)\s+"
    + _ROLE + r"(?:\s+(?:pro[\s-]*tempore|e\s+legale\s+rappresentante|p\.\s*t\.))?\s*,?\s*"
    r"(?:dell'\s*|(?:della|dello|delle|degli|dei|del|di)\s+)"
)
_SIGNER_ROLE = re.compile(_ROLE[:-1] + r"|referente|socio|socia|volontari[oa]|membro|"
                          r"consiglier[ea]|tesorier[ea]|operat(?:ore|rice)|educat(?:ore|rice))")
# Offices that carry the legal representation of their kind of body (a school's dirigente,
# a parish's parroco, a company's amministratore unico), besides the explicit wording.
_REPRESENTATIVE = re.compile(r"legale\s+rappresentante|rappresentante\s+legale|presidente|"
                             r"dirigente\s+scolastico|parroco|amministratore\s+unico")
_ALSO_REPRESENTATIVE = re.compile(r"\s+(?:pro[\s-]*tempore\s+)?e\s+(?:legale\s+rappresentante|"
                                  r"rappresentante\s+legale)")
_DELEGATION = re.compile(
    r"delegat[oa]\s+(?:dal|dalla|del|della)\s+(?:legale\s+rappresentante|"
    r"rappresentante\s+legale|presidente)(?:\s+pro[\s-]*tempore)?\s+(?:sig\.?(?:ra)?\s+)?"
)
_SIGNER = re.compile(r"sottoscritt[oa](?:\s*/\s*[oa])?(?![\w])\s*[:,]?\s*(?:sig\.?(?:ra)?\s+)?")
_PERSON_START = re.compile(r"sottoscritt[oa]|(?<![\w])nat[oa](?:\s*/\s*[oa])?\s+(?:a|il)\b")
_PERSON_END = re.compile(r"in\s+qualita|in\s+veste\s+di|nella\s+(?:sua\s+)?qualita|"
                         r"in\s+rappresentanza|quale\s+" + _ROLE + r"|\bpresidente\b|"
                         r"legale\s+rappresentante|rappresentante\s+legale|\bdenominat[oa]\b|"
                         r"\bcon\s+sede\b|\bsede\s+legale\b")
# "(l'ente|l'organizzazione ...) denominat[oa] «X»": the name is what the quotes hold, or
# runs to the end of its clause
_NAMED = re.compile(r"\bdenominat[oa](?:\s*/\s*[oa])?\s*[:,]?\s*")
_APPOSITION = re.compile(  # a clause of its own right after the name, not a new statement
    r"\s*,\s*(?!(?:con|avente|sede|codice|c\.|p\.|partita|iscritt|nel|nella|in|di|del|della|"
    r"da|per|che|il|la|quale|rappresentat|legalmente|sita|sito|ubicat|tel|e-?mail|pec|comune|"
    r"provincia|citta|frazione|localita)\b)"
    r"([^\W\d][^,;:\n«»\"()]{2,60}?)\s*[,;]")
_QUOTED = re.compile(r"\s*[«\"“]([^»\"”\n]{2,150})[»\"”]")
_LEGAL_FORM = re.compile(r"\b(?:avente\s+)?(?:la\s+)?(?:forma|natura)\s+giuridica\s*(?:di|:)?\s+")
_LEGAL_FORM_END = re.compile(r"\s*(?:[,;(\n]|\bcon\s+sede|\bsede\b|\bcodice|\bc\.\s*f\.|$)")
# a person's name in prose right after its label: "persona di riferimento per i tavoli X Y"
_PROSE_NAME = re.compile(
    r"^\s*(?:(?:per|i|il|la|ai|al|dei|degli|tavoli|tavolo|d'area|e|sig\.?|sig\.ra|"
    r"signor[a]?|dott\.?|dott\.ssa)\s+){0,6}"
    r"(?P<v>[A-ZÀ-Ý][\w'’]+(?:\s+(?:(?:de|di|da|del|della|dal|lo|la|d')\s*)?[A-ZÀ-Ý][\w'’]+){1,3})"
)
_NAME_END = re.compile(
    r"\s*(?:,|;|\(|\n|[_…]{2,}|\.{3,}|\bnat[oa]\b|\bc\.\s*f\.|\bcodice\s+fiscale|\bresidente|\bin\s+qualit|"
    r"\bquale\b|\bnella\s+sua|\bdomiciliat|\bil\s+\d|\btel|\be-?mail|\bcell|$)",
    re.IGNORECASE,
)
_ORG_END = re.compile(
    r"\s*(?:\(|,|;|\n\n|\bcon\s+sede|\bavente\s+sede|\bsede\s+legale|\bc\.\s*f\.|"
    r"\bcodice\s+fiscale|\bp\.\s*iva|\bpartita\s+iva|\biscritt|\bnatura\s+giuridica|"
    r"\bforma\s+giuridica|\btel\b|\btelefono|\be-?mail|\bpec\b|\bin\s+persona|$)",
    re.IGNORECASE,
)
_GENERIC_START = re.compile(r"^(?:(?:ente|organizzazione|soggetto|denominat[oa]|"
                            r"associazione\s+denominata|sottoindicat[oa])\s+)+")
_SEDE = re.compile(r"(?<![\w])(?:con\s+)?sede\s+(?:legale\s+)?(?:e\s+\w+\s+)?"
                   r"(?:in|a|presso|nel\s+comune\s+di|:)\s+")
_SEDE_END = re.compile(
    r"\s*(?:;|\n\n|\bc\.\s*f\.|\bcodice\s+fiscale|\bp\.\s*iva|\bpartita\s+iva|\btel\b|"
    r"\btelefono|\be-?mail|\bpec\b|\biscritt|\bconsapevole|\bdichiara|\bchiede|\bmanifesta|"
    r"\bnatura\s+giuridica|\bin\s+persona|$)",
    re.IGNORECASE,
)
_PROVINCE_END = re.compile(r"\(\s*[A-Za-z]{2}\s*\)")
_CODE_TOKEN = re.compile(
    r"^\s*(?:[:.]|n\.|nr\.?|n°|num\.?|e'|è)?\s*[:.]?\s*(?P<v>(?:IT)?[A-Za-z0-9]{11,16}(?![\w])|"
    r"\d[\d .]{9,16}\d)",
    re.IGNORECASE,
)
_EMAIL_TOKEN = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+(?:\s+[a-z0-9-]*\.[a-z]{2,6}(?![\w.@]))?")


_BLANK_IN_PROSE = re.compile(r"[_.…]{2,}\s*$")


def flow_text(lines: list[str]) -> str:
    """The prose of the document: lines without table cells, joined by newlines. A line whose
    first cell ends in a leader is prose with a field typed into it ("Il sottoscritto ____"
    then a fillable field): its cells are read as one text."""
    return "\n".join(line.replace(CELL_SEPARATOR, " ") for line in lines
                     if CELL_SEPARATOR not in line
                     or _BLANK_IN_PROSE.search(line.split(CELL_SEPARATOR)[0]))


def person_spans(folded: str) -> list[tuple[int, int]]:
    """Where the signing person is described (start, end) in the folded flow."""
    spans = []
    for match in _PERSON_START.finditer(folded):
        end_match = _PERSON_END.search(folded, match.end(), match.end() + 400)
        end = end_match.start() if end_match else min(len(folded), match.end() + 250)
        spans.append((match.start(), end))
    return spans


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


def narrative_candidates(lines: list[str], matcher: LabelMatcher) -> list[Candidate]:
    """Candidates from the prose: signer, represented body, address and in-text labels."""
    return narrative_evidence(lines, matcher)[0]


def narrative_evidence(lines: list[str],
                       matcher: LabelMatcher) -> tuple[list[Candidate], list[str]]:
    """The prose candidates, and warnings about a signer who is not the representative."""
    flow = flow_text(lines)
    if not flow.strip():
        return [], []
    folded = fold_aligned(flow)
    spans = person_spans(folded)
    signers, warnings = _signer(flow, folded)
    found = signers + _represented(flow, folded) + _sede(flow, folded, spans)
    found += _named(flow, folded, spans) + _legal_form(flow, folded, spans)
    found += _labelled(flow, label_groups(flow, matcher), spans)
    return found, warnings


def _narrative(field: str, text: str) -> Candidate:
    return Candidate(field, text, -1, "narrative", (field,))


def _name_at(flow: str, start: int) -> str:
    rest = flow[start: start + 80].lstrip(" _.…")  # the blank's leader before a typed name
    end = _NAME_END.search(rest)
    return rest[: end.start() if end else len(rest)].strip()


def _signer(flow: str, folded: str) -> tuple[list[Candidate], list[str]]:
    """The signer is the legale rappresentante only when the text says so ("in qualità di
    legale rappresentante", "presidente"); a delegate names the representative instead."""
    out: list[Candidate] = []
    warnings: list[str] = []
    for match in _SIGNER.finditer(folded):
        name = _name_at(flow, match.end())
        if not name:
            continue
        following_signer = _SIGNER.search(folded, match.end())
        limit = min(match.end() + 400, following_signer.start() if following_signer else
                    len(folded))
        role = _SIGNER_ROLE.search(folded, match.end(), limit)
        delegation = _DELEGATION.search(folded, match.end(), limit)
        if delegation and (role is None or delegation.start() <= role.start()):
            represented = _name_at(flow, delegation.end())
            if represented[:1].isupper():
                out.append(_narrative("legale_rappresentante", represented))
                continue
        elif role and (_REPRESENTATIVE.fullmatch(role.group(0))
                       or _ALSO_REPRESENTATIVE.match(folded, role.end())):
            out.append(_narrative("legale_rappresentante", name))
            continue
        stated = role.group(0) if role else "non indicato"
        warnings.append(f"il firmatario {name} non si dichiara legale rappresentante (ruolo: "
                        f"{stated}): legale rappresentante da verificare")
    return out, warnings


def _represented(flow: str, folded: str) -> list[Candidate]:
    out = []
    for match in _QUALITY.finditer(folded):
        rest = flow[match.end(): match.end() + 200]
        # quotes delimit the name, also after the body's kind ("dell'associazione «X»")
        quoted = re.match(r"[^«\"“,;\n]{0,40}?[«\"“]([^»\"”\n]{2,150})[»\"”]", rest)
        if quoted:
            out.append(_narrative("denominazione", quoted.group(1)))
            continue
        end = _ORG_END.search(rest)
        name = rest[: end.start() if end else len(rest)].strip()
        name = _GENERIC_START.sub("", name)
        if name and not name[0].islower():
            out.append(_narrative("denominazione", name.replace("\n", " ")))
    return out


def _named(flow: str, folded: str, spans: list[tuple[int, int]]) -> list[Candidate]:
    """ "denominata «Passo dopo Passo»", "denominato: Il Ponte, con sede in ..."."""
    out = []
    for match in _NAMED.finditer(folded):
        if _inside(match.start(), spans):
            continue
        rest = flow[match.end(): match.end() + 200]
        quoted = _QUOTED.match(rest)
        if quoted:
            out.append(_narrative("denominazione", quoted.group(1)))
            apposition = _APPOSITION.match(rest, quoted.end())
            if apposition:  # «X», organizzazione di volontariato, con sede ...
                out.append(Candidate("natura_giuridica", apposition.group(1), -1, "narrative",
                                     ("natura_giuridica",), tentative=True))
            continue
        end = _ORG_END.search(rest)
        name = rest[: end.start() if end else len(rest)].strip()
        if name[:1].isupper():
            out.append(_narrative("denominazione", " ".join(name.split())))
    return out


def _legal_form(flow: str, folded: str, spans: list[tuple[int, int]]) -> list[Candidate]:
    """ "avente forma giuridica di cooperativa sociale, ...": up to the end of the clause."""
    out = []
    for match in _LEGAL_FORM.finditer(folded):
        if _inside(match.start(), spans):
            continue
        rest = flow[match.end(): match.end() + 120]
        end = _LEGAL_FORM_END.search(rest)
        text = " ".join(rest[: end.start() if end else len(rest)].split())
        if text:
            out.append(_narrative("natura_giuridica", text))
    return out


def _sede(flow: str, folded: str, spans: list[tuple[int, int]]) -> list[Candidate]:
    out = []
    for match in _SEDE.finditer(folded):
        if _inside(match.start(), spans):
            continue
        rest = flow[match.end(): match.end() + 160]
        end = _SEDE_END.search(rest)
        text = rest[: end.start() if end else len(rest)]
        province = _PROVINCE_END.search(text)
        if province:
            text = text[: province.end()]
        text = " ".join(text.split()).strip(" ,")
        if text:
            out.append(_narrative("sede_legale", text))
    return out


def _labelled(flow: str, groups: list[Group], spans: list[tuple[int, int]]) -> list[Candidate]:
    out = []
    folded = fold_aligned(flow)
    for number, group in enumerate(groups):
        if _inside(group.start, spans) or group.fields == (STOP,):
            continue
        end = groups[number + 1].start if number + 1 < len(groups) else len(flow)
        region = flow[group.end: end]
        fields = qualified_fields(group.fields, following(region, group.weak).qualifier)
        both = {"email", "pec"} <= set(fields)  # split later by domain, all addresses
        for field in fields:
            value = (region.lstrip(" :.\n").split("\n")[0] if both and field in CONTACT_FIELDS
                     else _value_for(field, region, folded[group.end: end], group.weak))
            if value:
                out.append(Candidate(field, value, -1, "narrative", fields, group.org_label))
    return out


def _value_for(field: str, region: str, folded: str, weak: bool) -> str | None:
    if field in CODE_FIELDS:
        match = _CODE_TOKEN.match(region)
        return match.group("v") if match and not weak else None
    if field in ("email", "pec"):
        after = following(region)
        head = after.value if after.separated else region.lstrip(" :.\n")
        match = _EMAIL_TOKEN.match(head)
        return match.group(0) if match else None
    if field == "telefono":
        match = re.match(r"^\s*(?:[:.]|n\.|nr\.?)?\s*(?P<v>(?:\+|00)?\d[\d\s./-]{4,20}\d)", region)
        return match.group("v") if match and not weak else None
    after = following(region, weak)
    if not after.separated and field in ("referente", "legale_rappresentante") and not weak:
        named = _PROSE_NAME.match(region)
        return named.group("v") if named else None
    if not after.separated or field not in (*TEXT_FIELDS, "sede_legale"):
        return None
    cut = re.search(r"[;\n]|\)\s|\s+-\s|\s{2,}", region[region.find(":") + 1:] + "\n")
    value = region[region.find(":") + 1:][: cut.start() if cut else None]
    return " ".join(value.split()).strip(" ,.") or None
