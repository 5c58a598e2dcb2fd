"""IMAP IDLE: learn about new mail within seconds instead of at the next poll.

``watch(box, folder, stop, on_news)`` is meant to run in its own thread next to the interval
poll. It keeps a separate connection on ``folder`` (EXAMINE: read-only) in IDLE, renewed every
``idle_renew_minutes`` (servers may drop an IDLE after 30 minutes), and calls ``on_news()``
when the server announces new messages (``EXISTS``), and once after every reconnection
(something may have arrived while it was away). ``on_news`` should only wake the poller (set an
event); the poll itself does the reading.

It returns when ``stop`` is set (within about a second), and at once when IDLE is switched off
(``idle = false``) or the server does not offer it: the interval poll is then the fallback.
Disconnections and failed logins are retried with exponential backoff and jitter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from pec_ingest.errors import PecIngestError
from pec_ingest.mailbox import Mailbox
from pec_ingest.poller import backoff_delay
from pec_ingest.settings_imap import MailboxSection

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0  # how often the IDLE wait looks at ``stop``


def watch(box: MailboxSection, folder: str, stop: threading.Event,
          on_news: Callable[[], None], *,
          open_mailbox: Callable[[MailboxSection], Mailbox] = Mailbox.open) -> None:
    """Call ``on_news`` when ``folder`` of ``box`` gets new mail, until ``stop`` is set."""
    if not box.idle:
        return
    failures = 0
    while not stop.is_set():
        try:
            with open_mailbox(box) as mailbox:
                if not mailbox.has_idle:
                    log.info("mailbox=%s: the server does not offer IDLE; interval polling "
                             "only", box.name)
                    return
                mailbox.examine(folder)
                if failures:
                    log.info("mailbox=%s folder=%s: IDLE connection restored", box.name,
                             folder)
                    failures = 0
                    on_news()
                _idle(mailbox, box, folder, stop, on_news)
        except PecIngestError as exc:
            failures += 1
            delay = backoff_delay(failures)
            level = logging.WARNING if failures == 1 else logging.DEBUG
            log.log(level, "mailbox=%s folder=%s: IDLE interrupted (%s); reconnecting in "
                    "%.0f s", box.name, folder, exc, delay)
            stop.wait(delay)


def _idle(mailbox: Mailbox, box: MailboxSection, folder: str, stop: threading.Event,
          on_news: Callable[[], None]) -> None:
    """IDLE until ``stop``; restart it after news and every ``idle_renew_minutes``."""
    renew = box.idle_renew_minutes * 60.0
    while not stop.is_set():
        mailbox.idle_start()
        started = time.monotonic()
        news = False
        while not stop.is_set() and not news and time.monotonic() - started < renew:
            news = any(_is_news(r) for r in mailbox.idle_wait(CHECK_SECONDS))
        mailbox.idle_stop()
        if news:
            log.debug("mailbox=%s folder=%s: new mail announced", box.name, folder)
            on_news()


def _is_news(response: Any) -> bool:
    """``(n, b'EXISTS')``: the folder now has n messages (new mail, in practice)."""
    return (isinstance(response, tuple) and len(response) >= 2
            and response[1] in (b"EXISTS", b"RECENT"))
