"""How values are shown to staff: Italian names of fields, states and outcomes, dates in the
procedure's time zone. Jinja filters, registered by :func:`pec_ingest.web.app.create_app`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pec_ingest.desk.queue import label
from pec_ingest.desk.render import ACTION_NAMES
from pec_ingest.export import HEADINGS, TAVOLO_NAMES

FIELD_NAMES = {**HEADINGS, "tavoli": "Tavoli", "review_state": "Esito della revisione"}
STATUS_NAMES = {"complete": "completa", "incomplete": "incompleta",
                "needs_review": "da verificare"}
REVIEW_NAMES = {"none": "non richiesta", "pending": "in attesa", "accepted": "accettata",
                "rejected": "respinta"}
ACK_NAMES = {"pending": "in coda", "sending": "in invio", "sent": "inviata",
             "accepted": "accettata dal gestore", "delivered": "consegnata",
             "failed": "non consegnata"}
OUTCOME_NAMES = {"submission": "domanda", "ignored": "ignorato (non pertinente)",
                 "receipt": "ricevuta PEC", "anomaly": "anomalia (non certificato)",
                 "unreadable": "illeggibile", "timeout": "lettura interrotta",
                 "failed": "errore, da riprovare", "quarantined": "messo da parte",
                 "duplicate": "duplicato"}
TAVOLO_SHORT = {"famiglia": "Famiglia", "poverta": "Povertà", "autonomie": "Autonomie"}
SKIP_NAMES = {"too_big": "troppo grande per essere scaricato",
              "no_attachments": "senza allegati", "not_pec": "non è una PEC",
              "other_receipt": "ricevuta di un altro invio"}
def _when(zone: ZoneInfo) -> Callable[..., str]:
    def when(value: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
        return "-" if value is None else value.astimezone(zone).strftime(fmt)
    return when


def shown(value: Any) -> str:
    """A JSON value of the audit log as a short text."""
    if value is None or value == "":
        return "-"
    if isinstance(value, list) and all(isinstance(v, dict) and "code" in v for v in value):
        return ", ".join(v["code"] + (f" ({v['rank']})" if v.get("rank") else "") for v in value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _named(names: dict[str, str]) -> Callable[[Any], str]:
    return lambda key: names.get(key, str(key)) if key is not None else "-"


def filters(zone: ZoneInfo) -> dict[str, Callable[..., Any]]:
    return {"when": _when(zone), **FILTERS}


FILTERS: dict[str, Callable[..., Any]] = {
    "shown": shown, "reason": label,
    "field": _named(FIELD_NAMES), "status": _named(STATUS_NAMES),
    "review": _named(REVIEW_NAMES), "ack": _named(ACK_NAMES), "outcome": _named(OUTCOME_NAMES),
    "skip": _named(SKIP_NAMES), "tavolo": _named(TAVOLO_NAMES),
    "tavolo_short": _named(TAVOLO_SHORT), "action": _named(ACTION_NAMES),
}
