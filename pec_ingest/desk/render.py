"""What the desk commands print: the queue, one submission or message, a change. Italian."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from pec_ingest.commands.show_cmd import describe
from pec_ingest.desk.corrections import Change
from pec_ingest.desk.fields import FIELDS
from pec_ingest.desk.queue import QueueItem, label, reason_text
from pec_ingest.desk.reading_view import reading_lines
from pec_ingest.wording import OUTCOME_LABELS, STATUS_LABELS, word
from store.audit import audit_trail, corrections_of
from store.model import Message, Submission

ACTION_NAMES = {"set_field": "corretto", "set_tavoli": "tavoli corretti", "accept": "accettata",
                "reject": "respinta", "reprocess": "riletta dal lettore", "purge": "cancellazione"}


def ident(target: Submission | Message) -> str:
    """How staff name a queue item: registration number, or ``M<id>`` for a message."""
    return target.registration_number if isinstance(target, Submission) else f"M{target.id}"


def queue_lines(items: list[QueueItem], zone: ZoneInfo) -> list[str]:
    if not items:
        return ["Nulla da verificare."]
    lines = [f"{len(items)} da verificare, dal più vecchio:", ""]
    for item in items:
        lines.append(f"{item.ident:<14} in coda dal {item.since.astimezone(zone):%d/%m/%Y %H:%M}"
                     f"  {item.title}")
        lines += [f"    - {reason_text(r.code, r.detail)}" for r in item.reasons]
    lines += ["", "Dettagli: pec-ingest review show ID; correzioni: pec-ingest review set ID "
                  "CAMPO VALORE; decisione: pec-ingest review accept|reject ID"]
    return lines


def queue_json(item: QueueItem) -> dict[str, Any]:
    return {"id": item.ident, "since": item.since.isoformat(), "title": item.title,
            "submission_id": item.submission.id if item.submission else None,
            "message_id": item.message.id if item.message else None,
            "reasons": [{"code": r.code, "label": label(r.code), "detail": r.detail}
                        for r in item.reasons]}


def target_lines(session: Session, target: Submission | Message, zone: ZoneInfo) -> list[str]:
    """A submission (data, warnings, attachments, reasons, corrections, history) or a message."""
    if isinstance(target, Message):
        return _message_lines(target, zone) + _trail(session, zone, message_id=target.id)
    lines = describe(target, zone, reasons=False) + reading_lines(session, target)
    lines.append("  (per correggere: pec-ingest review set ID CAMPO VALORE; campi: "
                 + ", ".join(FIELDS) + ")")
    open_reasons = [r for r in target.review_reasons if r.resolved_at is None]
    if open_reasons:
        lines += ["", "Motivi da verificare:"]
        lines += [f"  - {reason_text(r.code, r.detail)}" for r in open_reasons]
    fixed = corrections_of(session, target.id)
    if fixed:
        lines += ["", "Campi corretti dal personale (prevalgono sul lettore): "
                  + ", ".join(sorted(fixed))]
    return lines + _trail(session, zone, submission_id=target.id)


def _message_lines(msg: Message, zone: ZoneInfo) -> list[str]:
    when = msg.legal_time or msg.first_seen_at
    lines = [f"messaggio M{msg.id}  {msg.kind}  esito: {word(OUTCOME_LABELS, msg.outcome)}",
             f"ricevuto il    {when.astimezone(zone):%d/%m/%Y %H:%M:%S %Z}",
             f"mittente       {msg.sender or '-'}",
             f"oggetto        {msg.subject or '-'}",
             f"motivo         {msg.reason or '-'}"]
    lines += [f"  allegato {a.filename or a.path} {a.size} byte" for a in msg.attachments]
    lines += [f"  avviso: {w}" for w in msg.warnings]
    return lines


def _trail(session: Session, zone: ZoneInfo, **target: int) -> list[str]:
    entries = audit_trail(session, **target)
    if not entries:
        return []
    lines = ["", "Registro delle azioni:"]
    for e in entries:
        what = ACTION_NAMES.get(e.action, e.action) + (f" {e.field}" if e.field else "")
        change = "" if e.action == "reprocess" else f": {_short(e.before)} → {_short(e.after)}"
        lines.append(f"  {e.at.astimezone(zone):%d/%m/%Y %H:%M} {e.actor}: {what}{change}"
                     + (f" ({e.note})" if e.note else ""))
    return lines


def _short(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list) and all(isinstance(v, dict) and "code" in v for v in value):
        return ",".join(v["code"] + (f":{v['rank']}" if v.get("rank") else "") for v in value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def change_line(number: str, change: Change) -> str:
    before, after = word(STATUS_LABELS, change.status_before), word(STATUS_LABELS,
                                                                     change.status_after)
    status = after if before == after else f"{before} → {after}"
    return (f"{number}: {change.field} {_short(change.before)} → {_short(change.after)} "
            f"(stato: {status})")
