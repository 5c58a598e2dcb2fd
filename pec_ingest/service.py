"""The daemon: ``pec-ingest run`` under systemd (Type=notify).

Start-up: configuration, database (refused when not migrated), a first poll of every mailbox
(the first login), then ``READY=1``. An APScheduler 3 background scheduler runs one poll job per
mailbox (interval from the config, never overlapping, coalesced) and the acknowledgement job;
IMAP IDLE watchers, where the server offers IDLE, bring a poll forward when mail arrives.
``WATCHDOG=1`` is sent while polls succeed, and while a long poll (a backlog, slow documents)
keeps finishing messages: the parse budget bounds one message well inside ``WatchdogSec``, so
a long parse never gets the service killed and restarted in a loop; a stuck or failing daemon
stops pinging and is restarted. Likewise a first poll working through a backlog extends the
start timeout (``EXTEND_TIMEOUT_USEC``) as long as messages keep being finished.
``STATUS=`` tells the last poll.

Signals: SIGTERM/SIGINT stop the scheduler; the poll in hand finishes the message it is on and
returns, so the service exits well within the unit's stop timeout: open IMAP connections are
cut at once (a server that accepted and went silent would otherwise hold a read for
``read_timeout_seconds``), SMTP ones after ``SMTP_GRACE_SECONDS``; only a connection still
being opened waits for its ``connect_timeout_seconds`` (SMTP: ``timeout_seconds``).
SIGHUP reloads the configuration file: mailboxes, intervals, procedure dates, relevance, review and
acknowledgement settings take effect at once; the parser's limits and vocabulary, the database
URL and the state directory need a restart (a changed database or state directory is refused);
an invalid file is reported and the running configuration kept.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from pec_ingest import interruption
from pec_ingest.ack import make_transport, send_pending
from pec_ingest.config import Config, load_config
from pec_ingest.database import Database, open_database
from pec_ingest.errors import ConfigError
from pec_ingest.pipeline import Pipeline
from pec_ingest.poller import MailboxReport, Poller
from pec_ingest.systemd import Notifier, watchdog_interval

log = logging.getLogger(__name__)
ACK_JOB_SECONDS = 30
START_CHECK_SECONDS = 30.0
SMTP_GRACE_SECONDS = 15


class Service:
    """One running daemon; ``run()`` blocks until a stop signal and returns the exit code."""

    def __init__(self, config_path: str | None, config: Config,
                 notifier: Notifier | None = None) -> None:
        self.config_path = config_path
        self.config = config
        self.notifier = notifier or Notifier()
        self.stop_event = threading.Event()
        self.reload_event = threading.Event()
        self.last_success: float | None = None
        self.last_status = "avvio"
        self._lock = threading.Lock()
        self.db: Database | None = None
        self.pipeline: Pipeline | None = None
        self.poller: Poller | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.extra_jobs: list[Callable[[Service], None]] = []
        self._watchers: list[threading.Thread] = []

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Open everything, poll once, schedule the jobs, tell systemd we are ready."""
        self.db = open_database(self.config)
        self.pipeline = Pipeline(self.config, self.db.sessions)
        self.poller = Poller(self.config, self.db.sessions, self.pipeline)
        self.poller.stop_event = self.stop_event
        started = threading.Event()
        threading.Thread(target=self._extend_start, args=(started,), daemon=True,
                         name="start-keepalive").start()
        try:
            self._poll_all()
        finally:
            started.set()
        if self.stop_event.is_set():
            return  # stopped during the first poll: nothing to schedule
        self.scheduler = BackgroundScheduler(
            timezone=self.config.zone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300})
        self._schedule()
        self.scheduler.start()
        self._start_watchers()
        self.notifier.ready(self.last_status)
        log.info("pec-ingest pronto: %d caselle, database %s", len(self.config.mailboxes),
                 "ok")

    def run(self) -> int:
        self._install_signals()
        threading.Thread(target=self._cut_on_stop, name="stop", daemon=True).start()
        self.start()
        try:
            while not self.stop_event.wait(1.0):
                if self.reload_event.is_set():
                    self.reload_event.clear()
                    self.reload()
        finally:
            self.shutdown()
        return 0

    def shutdown(self) -> None:
        self.stop_event.set()
        self.notifier.stopping()
        log.info("arresto: attendo la fine del lavoro in corso")
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        for thread in self._watchers:
            thread.join(timeout=10)
        if self.pipeline is not None:
            self.pipeline.close()
        if self.db is not None:
            self.db.close()
        log.info("pec-ingest arrestato")

    def _cut_on_stop(self) -> None:
        """On stop, cut the IMAP connections at once (a read from a silent server would last
        ``read_timeout_seconds``) and, after ``SMTP_GRACE_SECONDS`` for an acknowledgement in
        hand to finish, the SMTP ones (see :mod:`pec_ingest.interruption`)."""
        self.stop_event.wait()
        if interruption.interrupt("imap"):
            log.info("arresto: connessioni IMAP interrotte")
        time.sleep(SMTP_GRACE_SECONDS)
        if interruption.interrupt():
            log.warning("arresto: connessione SMTP interrotta dopo %d s", SMTP_GRACE_SECONDS)

    def _install_signals(self) -> None:
        def stop(signum: int, _frame: FrameType | None) -> None:
            log.info("segnale %s ricevuto: arresto", signal.Signals(signum).name)
            self.stop_event.set()

        def reload(_signum: int, _frame: FrameType | None) -> None:
            self.reload_event.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    # -- jobs ---------------------------------------------------------------------------------
    def _schedule(self) -> None:
        assert self.scheduler is not None
        for job in self.scheduler.get_jobs():
            job.remove()
        now = datetime.now(self.config.zone)
        for box in self.config.mailboxes:
            self.scheduler.add_job(
                self._poll_one, "interval", args=[box.name], id=f"poll:{box.name}",
                seconds=box.poll_interval_seconds,
                next_run_time=now + timedelta(seconds=box.poll_interval_seconds))
        self.scheduler.add_job(self._send_acknowledgements, "interval", seconds=ACK_JOB_SECONDS,
                               id="acknowledgements",
                               next_run_time=now + timedelta(seconds=5))
        for extra in self.extra_jobs:
            extra(self)
        interval = watchdog_interval()
        if interval is not None:
            self.scheduler.add_job(self._watchdog, "interval", seconds=max(1.0, interval),
                                   id="watchdog")
            if self._message_bound() >= interval:  # interval: half of WatchdogSec
                log.warning("il tempo massimo per un messaggio (%.0f s: parser."
                            "message_budget_seconds e timeout_seconds) non è ben dentro "
                            "WatchdogSec (%.0f s): ridurre il budget o alzare WatchdogSec",
                            self._message_bound(), 2 * interval)

    def poll_now(self, name: str) -> None:
        """Bring a mailbox's poll forward (called by the IDLE watchers)."""
        if self.scheduler is not None and not self.stop_event.is_set():
            job = self.scheduler.get_job(f"poll:{name}")
            if job is not None:
                job.modify(next_run_time=datetime.now(self.config.zone))

    def _poll_all(self) -> None:
        assert self.poller is not None
        self._record(self.poller.poll_all())

    def _poll_one(self, name: str) -> None:
        assert self.poller is not None
        box = next((b for b in self.config.mailboxes if b.name == name), None)
        if box is not None and not self.stop_event.is_set():
            self._record([self.poller.poll_mailbox(box)])

    def _record(self, reports: list[MailboxReport]) -> None:
        with self._lock:
            ok = all(r.ok for r in reports)
            if ok:
                self.last_success = time.monotonic()
            stamp = datetime.now(self.config.zone).strftime("%H:%M:%S")
            parts = [f"{r.name}: {'ok' if r.ok else 'ERRORE'} {r.ingested} nuovi"
                     for r in reports]
            self.last_status = f"ultimo controllo {stamp} - " + "; ".join(parts or ["nessuna "
                                                                                    "casella"])
        self.notifier.status(self.last_status)

    def _send_acknowledgements(self) -> None:
        """Send what the outbox holds (a fresh transport each time: a reload takes effect)."""
        if self.db is None or self.stop_event.is_set():
            return
        report = send_pending(self.config, self.db.sessions, make_transport(self.config))
        if report.attempted:
            log.info("ricevute: %s", report)

    def _message_bound(self) -> float:
        """The longest one message may keep a poll busy: its parse budget (plus one document's
        timeout, for the one cut off at the deadline) and a margin for mail and database."""
        p = self.config.parser
        return p.message_budget_seconds + p.timeout_seconds + 60.0

    def _extend_start(self, started: threading.Event) -> None:
        """While the first poll works through a backlog, push systemd's start timeout on
        (``EXTEND_TIMEOUT_USEC``) each time messages keep being finished."""
        while not started.wait(START_CHECK_SECONDS):
            self._extend_start_once()

    def _extend_start_once(self) -> bool:
        progress = self.pipeline.last_progress if self.pipeline is not None else None
        if progress is None or time.monotonic() - progress >= self._message_bound():
            return False
        usec = int((self._message_bound() + START_CHECK_SECONDS) * 1_000_000)
        return self.notifier.send(extend_timeout_usec=usec, status="primo controllo in corso")

    def _watchdog(self) -> None:
        """Ping systemd while the daemon works: polls succeed, or the poll in hand keeps
        finishing messages. A stuck or failing daemon stops pinging and gets restarted."""
        longest = max((b.poll_interval_seconds for b in self.config.mailboxes), default=60)
        now = time.monotonic()
        polled = self.last_success is not None and now - self.last_success < 3 * longest
        progress = self.pipeline.last_progress if self.pipeline is not None else None
        working = progress is not None and now - progress < self._message_bound()
        if polled or working:
            self.notifier.watchdog()

    def _start_watchers(self) -> None:
        try:
            from pec_ingest.idle import watch
        except ImportError:  # pragma: no cover - IDLE support is optional
            return
        for box in self.config.mailboxes:
            if not box.idle:
                continue
            for folder in box.folders:
                thread = threading.Thread(
                    target=watch, name=f"idle:{box.name}/{folder}", daemon=True,
                    args=(box, folder, self.stop_event,
                          lambda name=box.name: self.poll_now(name)))
                thread.start()
                self._watchers.append(thread)

    # -- reload -------------------------------------------------------------------------------
    def reload(self) -> None:
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            log.error("SIGHUP: configurazione non valida, resta quella in uso:\n%s", exc)
            return
        if new.database_url != self.config.database_url or new.state != self.config.state:
            log.error("SIGHUP: database o sezione [state] (cartella, archive_sync) cambiati: "
                      "serve un riavvio")
            return
        self.config = new
        assert self.pipeline is not None and self.poller is not None
        self.pipeline.config = new
        self.poller.config = new
        self._schedule()
        log.info("SIGHUP: configurazione ricaricata (%d caselle)", len(new.mailboxes))


def run_service(config_path: str | None, **kwargs: Any) -> int:
    return Service(config_path, load_config(config_path), **kwargs).run()
