"""AcroForm fields of a PDF as positioned widgets (values from the field tree, not the page).

The tree under ``/AcroForm/Fields`` is walked through ``/Kids``; ``FT``, ``Ff``, ``V`` and ``DV``
are inherited from ancestors and partial names ``T`` are joined with dots. Every widget (a
terminal node with a ``/Rect``) becomes one :class:`Widget`, placed on its page through the
page's ``/Annots`` (or the widget's ``/P``).

Check boxes and radio buttons: the widget's appearance state ``/AS`` is what the signer saw
and printed, so it decides; ``/V`` is used only when ``/AS`` is missing. When both are present
and disagree, the widget carries a warning (the extractor can send the form to review).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pdfminer.pdftypes import PDFObjRef, PDFStream, resolve1
from pdfminer.psparser import PSLiteral
from pdfminer.utils import decode_text

from parsers.pdf_layout import collapse

_MAX_DEPTH = 24
_MAX_NODES = 5000
_INHERITED = ("FT", "Ff", "V", "DV")
_PUSHBUTTON = 1 << 16
_RADIO = 1 << 15
_HIDDEN = 1 << 1
_NOVIEW = 1 << 5
# names that tools give fields by themselves: they say nothing about the content
_GENERIC = re.compile(
    r"^(?:text|testo|campo|field|fill|untitled|undefined|casella(?:\s*di\s*(?:testo|controllo))?"
    r"|check\s*box|checkbox|text\s*field|textfield|textbox|txt|tf|cb|chk|check|box|button"
    r"|radio(?:\s*button)?|group|gruppo|controllo|kontrollk\w*|feld|champ|formfield|form"
    r"|topmostsubform|subform|page|pagina|p|yes|on|si|sì|true|choice|option|opzione)?"
    r"[\s_.\-#]*\d*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Widget:
    """One widget of a form field.

    ``rect`` is in PDF user space (x0, y0, x1, y1, origin bottom-left). ``kind`` is ``text``
    (text and choice fields) or ``box`` (check box, radio button); ``value`` is the text value
    and ``checked`` the box state. ``label`` is a human label from ``/TU`` or the field name when
    meaningful, else ""; ``name`` is the full field name.
    """

    page: int | None  # 0-based page index, None when the widget is on no page we read
    rect: tuple[float, float, float, float]
    kind: str
    name: str
    label: str
    value: str = ""
    checked: bool = False
    warning: str | None = None


def read_widgets(catalog: dict[str, Any], page_of: dict[int, int],
                 ) -> tuple[list[Widget], list[str]]:
    """All visible widgets of the document's AcroForm, and warnings about the form itself.

    ``page_of`` maps an annotation's object id to a page index (from the pages' ``/Annots``)
    and a page's object id to its index (for widgets that only name their page in ``/P``).
    """
    form = resolve1(catalog.get("AcroForm"))
    if not isinstance(form, dict):
        return [], []
    warnings: list[str] = []
    fields = resolve1(form.get("Fields"))
    if not isinstance(fields, list) or not fields:
        if form.get("XFA") is not None:
            warnings.append("modulo XFA senza campi AcroForm: valori compilati non leggibili")
        return [], warnings
    widgets: list[Widget] = []
    for ref, node, attrs, name in _terminals(fields, warnings):
        widget = _widget(ref, node, attrs, name, page_of)
        if widget is not None:
            widgets.append(widget)
    return widgets, warnings


def _terminals(fields: list[Any], warnings: list[str],
               ) -> Iterator[tuple[Any, dict[str, Any], dict[str, Any], str]]:
    """Depth-first through ``/Kids``: each terminal node (a widget) with its reference, its
    dictionary, the inherited attributes and its full name. Cycles and sizes are bounded."""
    seen: set[int] = set()
    stack: list[tuple[Any, dict[str, Any], str, int]] = [(f, {}, "", 0) for f in reversed(fields)]
    while stack:
        ref, inherited, prefix, depth = stack.pop()
        if isinstance(ref, PDFObjRef):
            if ref.objid in seen:
                continue
            seen.add(ref.objid)
        if len(seen) > _MAX_NODES or depth > _MAX_DEPTH:
            warnings.append("albero dei campi del modulo troppo grande o profondo: letto in parte")
            return
        node = resolve1(ref)
        if not isinstance(node, dict):
            continue
        attrs = {**inherited, **{k: node[k] for k in _INHERITED if k in node}}
        partial = _text(resolve1(node.get("T")))
        name = f"{prefix}.{partial}" if prefix and partial else partial or prefix
        kids = resolve1(node.get("Kids"))
        if isinstance(kids, list) and kids:
            stack.extend((kid, attrs, name, depth + 1) for kid in reversed(kids))
        else:
            yield ref, node, attrs, name


def _widget(ref: Any, node: dict[str, Any], attrs: dict[str, Any], name: str,
            page_of: dict[int, int]) -> Widget | None:
    rect = resolve1(node.get("Rect"))
    if not isinstance(rect, list) or len(rect) != 4:
        return None
    values = [resolve1(v) for v in rect]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return None
    x0, y0, x1, y1 = (float(v) for v in values)
    flags = resolve1(node.get("F"))
    if isinstance(flags, int) and flags & (_HIDDEN | _NOVIEW):
        return None
    if abs(x1 - x0) < 1 and abs(y1 - y0) < 1:
        return None  # an invisible widget (signature placeholders, calculated helpers)
    ftype = _name(resolve1(attrs.get("FT")))
    ff = resolve1(attrs.get("Ff"))
    ff = ff if isinstance(ff, int) else 0
    page = _page(ref, node, page_of)
    box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    label = meaningful_label(_text(resolve1(node.get("TU"))), name)
    if ftype in ("Tx", "Ch"):
        value = _value(resolve1(attrs.get("V")))
        return Widget(page, box, "text", name, label, value=value)
    if ftype == "Btn" and not ff & _PUSHBUTTON:
        checked, warning = _state(node, attrs, name)
        if ff & _RADIO:  # each button of a group is told apart by its export value
            exports = sorted(_on_states(node))
            label = (meaningful_label("", exports[0]) if len(exports) == 1 else "") or label
        return Widget(page, box, "box", name, label, checked=checked, warning=warning)
    return None  # signatures, push buttons, unknown types


def _page(ref: Any, node: dict[str, Any], page_of: dict[int, int]) -> int | None:
    if isinstance(ref, PDFObjRef) and ref.objid in page_of:
        return page_of[ref.objid]
    p = node.get("P")
    if isinstance(p, PDFObjRef) and p.objid in page_of:
        return page_of[p.objid]
    return None


def _state(node: dict[str, Any], attrs: dict[str, Any], name: str) -> tuple[bool, str | None]:
    """Is a check box / radio widget on? ``/AS`` decides, ``/V`` when there is no ``/AS``."""
    on_states = _on_states(node)
    value = resolve1(attrs.get("V"))
    v_on: bool | None = None
    if isinstance(value, PSLiteral):
        v_name = _name(value)
        v_on = v_name != "Off" and (not on_states or v_name in on_states)
    appearance = resolve1(node.get("AS"))
    if not isinstance(appearance, PSLiteral):
        return bool(v_on), None
    as_on = _name(appearance) != "Off"
    if v_on is not None and v_on != as_on:
        shown = "selezionata" if as_on else "non selezionata"
        return as_on, (f"casella {name!r}: valore (/V) e aspetto (/AS) in disaccordo; "
                       f"usato l'aspetto visibile ({shown})")
    return as_on, None


def _on_states(node: dict[str, Any]) -> set[str]:
    ap = resolve1(node.get("AP"))
    normal = resolve1(ap.get("N")) if isinstance(ap, dict) else None
    if not isinstance(normal, dict):
        return set()
    return {k if isinstance(k, str) else str(k) for k in normal if k != "Off"}


def _name(value: Any) -> str:
    if isinstance(value, PSLiteral):
        raw = value.name
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return ""


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return collapse(decode_text(value))
    if isinstance(value, str):
        return collapse(value)
    return ""


def _value(value: Any) -> str:
    """A text or choice value: a string, a name, or a list of them (multiple choice)."""
    if isinstance(value, PSLiteral):
        return collapse(_name(value))
    if isinstance(value, list):
        return ", ".join(v for v in (_value(resolve1(x)) for x in value) if v)
    if isinstance(value, PDFStream):
        return ""  # rich text values are not read
    return _text(value)


def meaningful_label(tooltip: str, name: str) -> str:
    """A human label from the tooltip (``/TU``) or the field name, "" when both are generic.

    ``form1[0].Pagina1[0].codice_fiscale[0]`` gives ``codice fiscale``; ``Testo1``, ``Text Field
    12``, ``fill_3``, ``Casella di controllo 2`` give "".
    """
    for candidate in (tooltip, name.rsplit(".", 1)[-1]):
        text = re.sub(r"\[\d+\]", "", candidate)
        text = re.sub(r"(?<=[a-zà-ù])(?=[A-Z])", " ", text)  # camelCase
        text = collapse(re.sub(r"[_\s]+", " ", text))
        if text and not _GENERIC.match(text) and re.search(r"[^\W\d_]{2}", text):
            return text
    return ""
