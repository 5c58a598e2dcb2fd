"""``daticert.xml``: the machine-readable certification data of a PEC message or receipt.

Layout (DM 2 Nov 2005 technical rules)::

    postacert @tipo @errore
      intestazione: mittente, destinatari+ @tipo, risposte, oggetto?
      dati: gestore-emittente, data @zona (giorno, ora), identificativo, msgid?,
            ricevuta? @tipo, consegna?, ricezione*, errore-esteso?

The XML is read without DTDs, entity expansion or network access. Malformed XML is read in
recovery mode with a warning rather than refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lxml import etree

KNOWN_TIPI = frozenset(
    {
        "accettazione",
        "non-accettazione",
        "presa-in-carico",
        "avvenuta-consegna",
        "posta-certificata",
        "errore-consegna",
        "preavviso-errore-consegna",
        "rilevazione-virus",
    }
)
KNOWN_ERRORI = frozenset({"nessuno", "no-dest", "no-dominio", "virus", "altro"})
DEFAULT_ZONE = "Europe/Rome"
MAX_DATICERT_BYTES = 1024 * 1024
_ZONA = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


@dataclass(frozen=True)
class Recipient:
    address: str
    tipo: str | None  # certificato | esterno


@dataclass(frozen=True)
class Daticert:
    tipo: str | None
    errore: str | None
    mittente: str | None
    destinatari: tuple[Recipient, ...]
    risposte: str | None
    oggetto: str | None
    gestore_emittente: str | None
    data: datetime | None
    identificativo: str | None
    msgid: str | None
    ricevuta: str | None
    consegna: str | None
    ricezione: tuple[str, ...]
    errore_esteso: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "tipo": self.tipo,
            "errore": self.errore,
            "mittente": self.mittente,
            "destinatari": [{"address": r.address, "tipo": r.tipo} for r in self.destinatari],
            "risposte": self.risposte,
            "oggetto": self.oggetto,
            "gestore_emittente": self.gestore_emittente,
            "data": self.data.isoformat() if self.data else None,
            "identificativo": self.identificativo,
            "msgid": self.msgid,
            "ricevuta": self.ricevuta,
            "consegna": self.consegna,
            "ricezione": list(self.ricezione),
            "errore_esteso": self.errore_esteso,
        }


def parse_daticert(xml: bytes) -> tuple[Daticert | None, tuple[str, ...]]:
    """Read daticert.xml; None (with warnings) when nothing readable is in it."""
    if len(xml) > MAX_DATICERT_BYTES:
        return None, ("daticert.xml troppo grande: ignorato",)
    root, warnings = _load(xml)
    if root is None:
        return None, (*warnings, "daticert.xml illeggibile")
    tag = root.tag if isinstance(root.tag, str) else ""
    if tag.rsplit("}", 1)[-1] != "postacert":  # no QName(): recover mode admits invalid names
        warnings.append("daticert.xml: elemento radice inatteso")
    if root.getroottree().docinfo.internalDTD is not None:
        warnings.append("daticert.xml contiene una DTD: entità ignorate")
    warnings.extend(_stray_text(root))
    data, date_warnings = _parse_data(_find(root, "data"))
    warnings.extend(date_warnings)
    daticert = Daticert(
        tipo=_attribute(root, "tipo"),
        errore=_attribute(root, "errore"),
        mittente=_text(root, "mittente"),
        destinatari=tuple(
            Recipient(address=_element_text(el) or "", tipo=el.get("tipo"))
            for el in root.iterfind(".//{*}destinatari")
            if _element_text(el)
        ),
        risposte=_text(root, "risposte"),
        oggetto=_text(root, "oggetto"),
        gestore_emittente=_text(root, "gestore-emittente"),
        data=data,
        identificativo=_text(root, "identificativo"),
        msgid=_text(root, "msgid"),
        ricevuta=_attribute(_find(root, "ricevuta"), "tipo"),
        consegna=_text(root, "consegna"),
        ricezione=tuple(t for el in root.iterfind(".//{*}ricezione") if (t := _element_text(el))),
        errore_esteso=_text(root, "errore-esteso"),
    )
    warnings.extend(_check_values(daticert))
    return daticert, tuple(dict.fromkeys(warnings))


def _parser(recover: bool) -> etree.XMLParser:
    return etree.XMLParser(
        recover=recover,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _load(xml: bytes) -> tuple[Any, list[str]]:
    if not xml.strip():
        return None, ["daticert.xml vuoto"]
    try:
        return etree.fromstring(xml, _parser(recover=False)), []
    except etree.XMLSyntaxError:
        pass
    try:
        root = etree.fromstring(xml, _parser(recover=True))
    except etree.XMLSyntaxError:
        root = None
    return root, ["daticert.xml non è XML ben formato: letto in modo tollerante"]


def _find(root: Any, name: str) -> Any:
    return root.find(".//{*}" + name)


def _element_text(element: Any) -> str | None:
    if element is None:
        return None
    text = "".join(_own_text(element)).strip()
    return text or None


def _own_text(element: Any) -> list[str]:
    """Text of an element and its sub-elements; entity references (never resolved) are
    left out."""
    parts = [element.text or ""] if isinstance(element.tag, str) else []
    for child in element:
        if isinstance(child.tag, str):
            parts.extend(_own_text(child))
        parts.append(child.tail or "")
    return parts


def _text(root: Any, name: str) -> str | None:
    return _element_text(_find(root, name))


def _attribute(element: Any, name: str) -> str | None:
    if element is None:
        return None
    value = element.get(name)
    return value.strip() if value and value.strip() else None


def _stray_text(root: Any) -> list[str]:
    """Text outside the leaf elements (a stray character between tags) is reported."""
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        has_children = len(element) > 0
        if (has_children and (element.text or "").strip()) or (element.tail or "").strip():
            return ["daticert.xml contiene testo estraneo tra gli elementi (ignorato)"]
    return []


def _parse_data(element: Any) -> tuple[datetime | None, list[str]]:
    if element is None:
        return None, ["daticert.xml senza data"]
    giorno = _text(element, "giorno") or ""
    ora = _text(element, "ora") or ""
    try:
        naive = datetime.strptime(f"{giorno} {ora}", "%d/%m/%Y %H:%M:%S")
    except ValueError:
        return None, [f"data in daticert.xml non valida ({giorno[:20]} {ora[:20]})".strip()]
    zone, warnings = _zone(element.get("zona"))
    if zone is None:
        return None, warnings
    return naive.replace(tzinfo=zone), warnings


def _zone(zona: str | None) -> tuple[tzinfo | None, list[str]]:
    match = _ZONA.match((zona or "").strip())
    if match:
        sign, hours, minutes = match.groups()
        offset = timedelta(hours=int(hours), minutes=int(minutes))
        if offset < timedelta(hours=24):
            return timezone(-offset if sign == "-" else offset), []
    what = "assente" if not zona else "non valida"
    try:
        rome = ZoneInfo(DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return None, [f"zona della data {what} e fuso {DEFAULT_ZONE} non disponibile"]
    return rome, [f"zona della data {what} in daticert.xml: assunto fuso {DEFAULT_ZONE}"]


def _check_values(daticert: Daticert) -> list[str]:
    warnings = []
    if daticert.tipo is None:
        warnings.append("daticert.xml senza tipo")
    elif daticert.tipo not in KNOWN_TIPI:
        warnings.append(f"tipo sconosciuto in daticert.xml ({daticert.tipo[:40]})")
    if daticert.errore is not None and daticert.errore not in KNOWN_ERRORI:
        warnings.append(f"errore sconosciuto in daticert.xml ({daticert.errore[:40]})")
    if daticert.identificativo is None:
        warnings.append("daticert.xml senza identificativo")
    return warnings
