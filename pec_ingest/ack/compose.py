"""What an acknowledgement says and how it is put together as a MIME message.

:func:`context` turns a submission into the values the templates use (Italian dates in the
procedure's time zone, the data understood, the chosen tables by full name, what is missing,
the meetings still ahead of the legal receipt time, the office's contacts). :func:`build`
renders the templates and makes the message: ``multipart/alternative`` (text and HTML, UTF-8),
From our address, To the certified sender, the stored Message-ID, ``In-Reply-To`` and
``References`` pointing at the original, ``Auto-Submitted: auto-replied``.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any
from zoneinfo import ZoneInfo

from pec_ingest.ack.policy import from_address
from pec_ingest.ack.templates import render
from pec_ingest.config import Config
from pec_ingest.export import TAVOLO_NAMES
from pec_ingest.review import FIELD_NAMES, REQUIRED
from store.model import Acknowledgement, Submission
from store.submissions import is_held

WEEKDAYS = ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica")
MONTHS = ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
          "settembre", "ottobre", "novembre", "dicembre")
NATURA = {
    "odv": "Organizzazione di volontariato (ODV)", "aps": "Associazione di promozione sociale "
    "(APS)", "coop_sociale": "Cooperativa sociale", "fondazione": "Fondazione",
    "impresa_sociale": "Impresa sociale", "ente_religioso": "Ente religioso",
    "associazione": "Associazione", "scuola": "Scuola", "ente_pubblico": "Ente pubblico",
    "altro": "Altro",
}
LABELS = (
    ("denominazione", "Denominazione"), ("natura_giuridica", "Natura giuridica"),
    ("codice_fiscale", "Codice fiscale"), ("partita_iva", "Partita IVA"),
    ("sede_legale", "Sede legale"), ("legale_rappresentante", "Legale rappresentante"),
    ("referente", "Referente per i tavoli"), ("email", "E-mail"), ("pec", "PEC"),
    ("telefono", "Telefono"),
)
UNREADABLE, INCOMPLETE, LATE, COMPLETE = "unreadable", "incomplete", "late", "complete"


def local_time(when: datetime, zone: ZoneInfo) -> str:
    """``03/09/2019 alle 10:15`` in the procedure's time zone."""
    return f"{when.astimezone(zone):%d/%m/%Y alle %H:%M}"


def long_date(when: datetime) -> str:
    """``mercoledì 11 settembre 2019``."""
    return f"{WEEKDAYS[when.weekday()]} {when.day} {MONTHS[when.month - 1]} {when.year}"


def variant(sub: Submission) -> str:
    """Which acknowledgement this is: unreadable, incomplete, late or complete."""
    if sub.status == "needs_review":
        return UNREADABLE
    if sub.status == "incomplete":
        return INCOMPLETE
    return LATE if sub.late else COMPLETE


def missing_items(sub: Submission) -> list[str]:
    """What the office could not find in the form, in words the organisation understands."""
    missing = [FIELD_NAMES[f] for f in REQUIRED if not getattr(sub, f)]
    if not sub.tavoli:
        missing.append("la scelta di almeno un Tavolo d'area")
    if not (sub.email or sub.pec):
        missing.append("un indirizzo e-mail o PEC di contatto")
    if missing or sub.status != "incomplete":
        return missing
    return [w for w in sub.parser_warnings if "OCR" not in w][:3] or [
        "alcuni dati obbligatori del modulo"]


def upcoming_meetings(config: Config, received: datetime) -> list[dict[str, str]]:
    """The configured meetings still ahead of the legal receipt time, in order."""
    zone = config.zone
    ahead = []
    for meeting in config.acknowledgements.meetings:
        if meeting.when is None:
            continue
        when = meeting.when if meeting.when.tzinfo else meeting.when.replace(tzinfo=zone)
        if when > received:
            ahead.append((when, meeting))
    return [{"title": m.title, "date": long_date(w.astimezone(zone)),
             "time": f"{w.astimezone(zone):%H:%M}", "place": m.place}
            for w, m in sorted(ahead, key=lambda pair: pair[0])]


def _data(sub: Submission) -> list[dict[str, str | None]]:
    rows: list[dict[str, str | None]] = []
    for field, label in LABELS:
        value = getattr(sub, field)
        if field == "natura_giuridica" and value:
            value = NATURA.get(value, value)
        rows.append({"label": label, "value": value})
    return rows


def context(config: Config, ack: Acknowledgement) -> dict[str, Any]:
    """Everything the templates may use (documented in ``pec_ingest/templates/README.txt``)."""
    sub = ack.submission
    settings = config.acknowledgements
    return {
        "registration_number": sub.registration_number,
        "variant": variant(sub),
        "status": sub.status,
        "late": bool(sub.late),
        "out_of_procedure": bool(sub.out_of_procedure),
        "version": sub.version,
        "held": is_held(sub),
        "received_at": local_time(sub.received_at, config.zone),
        "certified": sub.message.legal_time is not None,
        "deadline": long_date(config.deadline),
        "procedure": {"code": sub.procedure, "name": config.procedure.name,
                      "address": config.procedure.address},
        "organisation": sub.denominazione,
        "data": _data(sub),
        "tavoli": [{"code": t.code, "name": TAVOLO_NAMES.get(t.code, t.code), "rank": t.rank}
                   for t in sub.tavoli],
        "missing": missing_items(sub),
        "recipient": ack.to_address,
        "declared_pec": sub.pec,
        "pec_differs": bool(sub.pec) and (sub.pec or "").casefold() != ack.to_address.casefold(),
        "meetings": upcoming_meetings(config, sub.received_at),
        "office": {"name": settings.office_name, "email": settings.office_email,
                   "phone": settings.office_phone},
    }


def references(ack: Acknowledgement) -> tuple[str | None, str | None]:
    """``In-Reply-To`` and ``References``: the original as delivered to us (for a PEC, its
    Message-ID is the provider's identificativo), after the sender's own Message-ID."""
    message = ack.submission.message
    delivered = message.message_id_header or (
        f"<{message.identificativo}>" if message.identificativo else None)
    chain = [m for m in (message.riferimento_message_id, delivered) if m]
    unique = list(dict.fromkeys(m.strip() for m in chain))
    return (delivered.strip() if delivered else None), (" ".join(unique) or None)


def build(config: Config, ack: Acknowledgement, now: datetime) -> EmailMessage:
    """The acknowledgement as it goes on the wire (Date: ``now``)."""
    rendered = render(context(config, ack), config.acknowledgements.templates_dir)
    msg = EmailMessage()
    msg["From"] = formataddr((config.acknowledgements.office_name, from_address(config)))
    msg["To"] = ack.to_address
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(now.astimezone(config.zone))
    msg["Message-ID"] = ack.message_id
    in_reply_to, refs = references(ack)
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if refs:
        msg["References"] = refs
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg
