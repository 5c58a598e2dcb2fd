"""The adherents list of the desk: the filters staff pick (table, comune, legal form, late,
state, free search) read from the query string, and the rows of :mod:`pec_ingest.export`
(the same rows and writers as ``pec-ingest adherents``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from parsers.vocabulary import NATURA_CODES, fold
from pec_ingest import export
from pec_ingest.config import Config
from store.base import SUBMISSION_STATUSES
from store.model import Submission
from store.reports import count_current_submissions, current_submissions

PAGE = 100
SEARCHED = ("registration_number", "denominazione", "codice_fiscale", "comune", "sender",
            "legale_rappresentante", "email", "pec")


@dataclass(frozen=True)
class AdherentFilters:
    tavolo: str | None = None
    comune: str | None = None
    natura: str | None = None
    late: bool | None = None
    status: str | None = None
    search: str = ""
    include_rejected: bool = False


def adherent_filters(params: Mapping[str, str]) -> AdherentFilters:
    """The filters of the query string; values outside the closed lists are ignored."""
    def pick(key: str, allowed: tuple[str, ...]) -> str | None:
        value = params.get(key) or None
        return value if value in allowed else None

    late = {"si": True, "no": False}.get(params.get("ritardo", ""))
    return AdherentFilters(
        tavolo=pick("tavolo", tuple(export.TAVOLO_NAMES)),
        comune=(params.get("comune") or "").strip()[:200] or None,
        natura=pick("natura", NATURA_CODES), late=late,
        status=pick("stato", SUBMISSION_STATUSES),
        search=(params.get("q") or "").strip()[:200],
        include_rejected=params.get("respinte") == "si")


def filtered_adherents(session: Session, config: Config,
                       chosen: AdherentFilters) -> list[dict[str, Any]]:
    """Every row the filters select (for the downloads)."""
    subs = current_submissions(session, **_store_filters(chosen))
    return _searched([_row(s, config) for s in subs], chosen.search)


def adherents_page(session: Session, config: Config, chosen: AdherentFilters,
                   page: int) -> tuple[list[dict[str, Any]], int]:
    """One page of rows and how many there are in all. Without a search the page is read
    alone from the database; a search folds accents and case, so it reads every row."""
    if chosen.search:
        rows = filtered_adherents(session, config, chosen)
        return rows[page * PAGE:(page + 1) * PAGE], len(rows)
    filters = _store_filters(chosen)
    subs = current_submissions(session, **filters, limit=PAGE, offset=page * PAGE)
    return [_row(s, config) for s in subs], count_current_submissions(session, **filters)


def _store_filters(chosen: AdherentFilters) -> dict[str, Any]:
    return {"tavolo": chosen.tavolo, "late": chosen.late, "status": chosen.status,
            "comune": chosen.comune, "natura_giuridica": chosen.natura,
            "exclude_rejected": not chosen.include_rejected}


def _row(sub: Submission, config: Config) -> dict[str, Any]:
    return export.adherent_row(sub, config.zone) | {"id": sub.id}


def _searched(rows: list[dict[str, Any]], search: str) -> list[dict[str, Any]]:
    if not search:
        return rows
    needle = fold(search)
    return [r for r in rows if any(needle in fold(str(r.get(k) or "")) for k in SEARCHED)]
