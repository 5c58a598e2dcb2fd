"""The poll cycle: every configured mailbox and folder, read incrementally into the pipeline.

``Poller.poll_all()`` polls each mailbox in turn and never raises for one mailbox's failure:
its :class:`MailboxReport` carries ``ok=False`` and the error. ``poll_mailbox(box)`` polls one
mailbox now: it takes the mailbox's lock (on PostgreSQL a per-mailbox advisory lock, so two
daemons never poll the same mailbox at once; if taken, the poll is skipped with an INFO line
and ``busy=True``), logs in, and reads each folder (:class:`pec_ingest.scan.FolderScan`).

Failures: a mailbox that failed is retried by ``poll_all`` only after an exponential backoff
with jitter; the same error is logged as ERROR once, then at DEBUG until it changes or the
mailbox recovers (INFO), so a wrong password does not fill the journal every minute.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.config import Config
from pec_ingest.errors import PecIngestError
from pec_ingest.mailbox import Mailbox
from pec_ingest.pipeline import Pipeline
from pec_ingest.scan import FolderScan, Tally
from pec_ingest.settings_imap import MailboxSection
from pec_ingest.wording import OUTCOME_LABELS
from store.errors import StoreError
from store.mailbox_state import mailbox_lock

log = logging.getLogger(__name__)

BACKOFF_INITIAL_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 900.0
POLL_ERRORS = (PecIngestError, StoreError, SQLAlchemyError, OSError)


def backoff_delay(failures: int, initial: float = BACKOFF_INITIAL_SECONDS,
                  maximum: float = BACKOFF_MAX_SECONDS) -> float:
    """Seconds to wait after ``failures`` consecutive failures: exponential, capped, with
    jitter (between half and all of the step), so several daemons do not retry in step."""
    step = min(maximum, initial * 2 ** max(0, failures - 1))
    return step * random.uniform(0.5, 1.0)


@dataclass
class MailboxReport:
    """The result of polling one mailbox (all its folders)."""

    name: str
    ok: bool
    error: str | None = None
    fetched: int = 0
    ingested: int = 0
    skipped: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    busy: bool = False  # another worker held the mailbox: not polled this time

    def summary(self) -> str:
        """One line for people (``poll --once``, the service's STATUS)."""
        if not self.ok:
            return f"{self.name}: ERRORE - {self.error}"
        if self.busy:
            return f"{self.name}: già in lettura da un altro processo, saltata"
        detail = ", ".join(f"{OUTCOME_LABELS.get(k, k)} {v}"
                           for k, v in sorted(self.outcomes.items()))
        return (f"{self.name}: ok, {self.fetched} scaricati, {self.ingested} registrati, "
                f"{self.skipped} non scaricati{f' ({detail})' if detail else ''}, "
                f"{self.seconds:.2f} s")


@dataclass
class _Health:
    failures: int = 0
    error: str = ""
    retry_at: float = 0.0


class Poller:
    """Polls the configured mailboxes into ``pipeline``; keeps failure state between polls."""

    def __init__(self, config: Config, sessions: sessionmaker[Session], pipeline: Pipeline,
                 *, open_mailbox: Callable[[MailboxSection], Mailbox] = Mailbox.open,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.sessions = sessions
        self.pipeline = pipeline
        self.open_mailbox = open_mailbox
        self.clock = clock
        self.engine: Engine = sessions.kw["bind"]
        self._health: dict[str, _Health] = {}
        self.stop_event = threading.Event()  # set: finish the batch in hand, then return
        self.on_scan: Callable[[FolderScan], None] | None = None  # test hook
        pipeline.parse([])  # start the lazily-built parser pool here, not in racing threads
        cores = len(os.sched_getaffinity(0))  # the cores this service may use
        pipeline.read_envelopes_in(cores if cores > 1 else 0)  # all of them (envelopes.py)

    def poll_all(self) -> list[MailboxReport]:
        """One cycle over every mailbox; a mailbox still in its backoff is not contacted.
        Mailboxes after a set ``stop_event`` are not polled (and have no report)."""
        reports = []
        for box in self.config.mailboxes:
            if self.stop_event.is_set():
                break
            health = self._health.get(box.name)
            if health is not None and health.failures and self.clock() < health.retry_at:
                wait = health.retry_at - self.clock()
                log.info("mailbox=%s not polled: retrying in %.0f s after: %s", box.name, wait,
                         health.error)
                reports.append(MailboxReport(box.name, False, f"{health.error} (nuovo "
                                             f"tentativo fra {wait:.0f} s)"))
                continue
            try:
                reports.append(self.poll_mailbox(box))
            except Exception as exc:  # the per-mailbox guard: one mailbox never stops the rest
                log.exception("mailbox=%s: unexpected error", box.name)
                reports.append(MailboxReport(box.name, False, f"errore interno: {exc}"))
        return reports

    def poll_mailbox(self, box: MailboxSection) -> MailboxReport:
        """Poll ``box`` now (every folder); failures are reported, not raised."""
        started = time.monotonic()
        report = MailboxReport(box.name, True)
        tally = Tally()
        try:
            with mailbox_lock(self.engine, box.name) as taken:
                if not taken:
                    report.busy = True
                else:
                    self._poll_folders(box, tally)
        except POLL_ERRORS as exc:
            report.ok, report.error = False, str(exc)
            self._failed(box, report.error)
        else:
            self._recovered(box)
        report.fetched, report.ingested, report.skipped = (tally.fetched, tally.ingested,
                                                           tally.skipped)
        report.outcomes = tally.outcomes
        report.seconds = time.monotonic() - started
        self._log(report)
        return report

    def _poll_folders(self, box: MailboxSection, tally: Tally) -> None:
        workers = box.ingest_workers or os.cpu_count() or 1
        with self.open_mailbox(box) as mailbox:
            for folder in box.folders:
                if self.stop_event.is_set():
                    return
                scan = FolderScan(mailbox, box, folder, self.sessions, self.pipeline, workers,
                                  tally, self.stop_event)
                if self.on_scan is not None:
                    self.on_scan(scan)
                scan.run()

    def _failed(self, box: MailboxSection, error: str) -> None:
        health = self._health.setdefault(box.name, _Health())
        health.failures += 1
        health.retry_at = self.clock() + backoff_delay(health.failures)
        if _signature(error) != _signature(health.error):
            log.error("mailbox=%s: %s", box.name, error)
        else:
            log.debug("mailbox=%s: still failing (%d times): %s", box.name, health.failures,
                      error)
        health.error = error

    def _recovered(self, box: MailboxSection) -> None:
        health = self._health.pop(box.name, None)
        if health is not None and health.failures:
            log.info("mailbox=%s: working again after %d failed polls", box.name,
                     health.failures)

    def failing(self, name: str) -> str | None:
        """The current error of mailbox ``name``, or None when its last poll succeeded."""
        health = self._health.get(name)
        return health.error if health is not None and health.failures else None

    @staticmethod
    def _log(report: MailboxReport) -> None:
        if report.busy:
            log.info("mailbox=%s busy: another worker is polling it, skipped", report.name)
            return
        outcomes = ",".join(f"{k}={v}" for k, v in sorted(report.outcomes.items())) or "-"
        log.info("mailbox=%s ok=%s fetched=%d ingested=%d skipped=%d outcomes=%s seconds=%.2f",
                 report.name, report.ok, report.fetched, report.ingested, report.skipped,
                 outcomes, report.seconds)


def _signature(error: str) -> str:
    """An error without its numbers (times, counters, ports): 'the same error' for logging."""
    return re.sub(r"\d+", "#", error)
