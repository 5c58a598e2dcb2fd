"""Who is acting, and the dates staff type: small parsing shared by the desk commands."""

from __future__ import annotations

import getpass
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from pec_ingest.desk.errors import DeskError, UsageError

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ITALIAN = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def actor(by: str | None) -> str:
    """``--by NAME`` when given, else the operating-system user."""
    name = (by or "").strip()
    if name:
        return name[:100]
    try:
        return getpass.getuser()
    except (KeyError, OSError) as exc:
        raise DeskError("impossibile sapere chi agisce: indicare --by NOME") from exc


def parse_day(text: str) -> date:
    """``2019-09-30`` or ``30/09/2019``."""
    value = text.strip()
    try:
        if _ISO.match(value):
            return date.fromisoformat(value)
        match = _ITALIAN.match(value)
        if match:
            return date(int(match[3]), int(match[2]), int(match[1]))
    except ValueError:
        pass
    raise UsageError(f"data non valida {text!r}: usare AAAA-MM-GG o GG/MM/AAAA")


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """Midnight at the start of ``day`` in the procedure's time zone."""
    return datetime(day.year, day.month, day.day, tzinfo=zone)
