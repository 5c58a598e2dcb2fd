"""Send what the outbox holds: never twice in the normal case, never lost.

A row is written ``pending`` with the submission (see :mod:`pec_ingest.ack.policy`). Each call
of :func:`send_pending`, for every due row within the rate limit:

1. renders the message and marks the row ``sending`` (one more attempt; ``next_attempt_at`` =
   now + ``sending_grace_minutes``) and COMMITS, before any word goes to the SMTP server;
2. sends it;
3. records the outcome: ``sent`` (``sent_at``); a temporary failure back to ``pending`` with
   exponential backoff, ``failed`` after ``max_attempts``; a permanent one ``failed`` with the
   server's words and a review reason ``ack_failed`` on the submission.

A crash between 2 and 3 leaves the row ``sending``: it is not due again until the grace period
ends, and the acceptance receipt that comes back for its Message-ID settles it meanwhile
(:mod:`pec_ingest.ack.receipts`). Only after the grace period without one is it sent again.
The rate limit counts the rows whose ``sent_at`` falls in the last minute, so a restart does not
reset it; a temporary failure ends the batch (the server is busy or unreachable).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.ack.compose import build
from pec_ingest.ack.policy import from_address
from pec_ingest.ack.templates import TemplateProblem
from pec_ingest.ack.transport import DeliveryUnknown, Transport
from pec_ingest.config import Config
from pec_ingest.errors import PermanentTransportError, TransportError
from store.acknowledgements import (
    claim_acknowledgement,
    count_sent_since,
    due_acknowledgements,
    lock_acknowledgement,
)
from store.base import utcnow
from store.model import Acknowledgement
from store.review import add_review_reason

log = logging.getLogger(__name__)
WINDOW = timedelta(minutes=1)


@dataclass
class SendReport:
    """What one call did. ``deferred``: due rows left for a later call by the rate limit or
    because a temporary failure ended the batch."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    uncertain: int = 0
    deferred: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed + self.uncertain


def backoff(config: Config, attempts: int) -> timedelta:
    """Delay before the next attempt after ``attempts`` failed ones (exponential, capped)."""
    s = config.acknowledgements
    seconds = s.retry_initial_seconds * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(s.retry_max_seconds, seconds))


def send_pending(config: Config, sessions: sessionmaker[Session], transport: Transport,
                 now: datetime | None = None) -> SendReport:
    """Send the due acknowledgements, as many as the rate limit allows now; safe to call from
    several places (a row is owned by whoever marks it ``sending``). Nothing is sent while
    ``acknowledgements.enabled`` is false; queued rows wait."""
    now = now or utcnow()
    report = SendReport()
    if not config.acknowledgements.enabled:
        transport.close()
        return report
    with sessions() as session:
        budget = config.acknowledgements.rate_per_minute - count_sent_since(session,
                                                                            now - WINDOW)
        due = [a.id for a in due_acknowledgements(session, now)]
    batch = due[:max(0, budget)]
    report.deferred = len(due) - len(batch)
    try:
        for position, ack_id in enumerate(batch):
            outcome = _guarded(config, sessions, transport, ack_id, now, report)
            if outcome in ("retrying", "uncertain"):
                report.deferred += len(batch) - position - 1
                break
    finally:
        transport.close()
    if report.attempted or report.deferred:
        log.info("acknowledgements: sent=%s retrying=%s failed=%s uncertain=%s deferred=%s",
                 report.sent, report.retrying, report.failed, report.uncertain, report.deferred)
    return report


def _guarded(config: Config, sessions: sessionmaker[Session], transport: Transport,
             ack_id: int, now: datetime, report: SendReport) -> str:
    """The per-acknowledgement guard: an unexpected error fails this one, not the queue."""
    try:
        return _send_one(config, sessions, transport, ack_id, now, report)
    except Exception as exc:  # the single per-acknowledgement guard (house style)
        log.exception("ack=%s: unexpected error", ack_id)
        error = f"errore interno durante l'invio: {type(exc).__name__}: {exc}"[:500]
        with sessions() as session, session.begin():
            ack = lock_acknowledgement(session, ack_id)
            if ack is not None and ack.status in ("pending", "sending"):
                _fail(session, ack, error)
        report.failed += 1
        report.errors.append(f"ack {ack_id}: {error}")
        return "failed"


def address_problem(address: str) -> str | None:
    """Why ``address`` cannot be an SMTP recipient as it is, or None. Never corrected: a
    guessed address would send personal data to someone else."""
    if any(ord(c) < 32 or c in " <>,;\x7f" for c in address):
        return (f"indirizzo del destinatario con spazi o caratteri di controllo ({address!r}): "
                "verificare il mittente certificato")
    if not address.isascii():
        return (f"indirizzo del destinatario con caratteri non ASCII ({address}): il server "
                "SMTP non lo accetta; verificare l'indirizzo PEC dell'ente")
    local, at, domain = address.rpartition("@")
    if not (at and local and "." in domain):
        return f"indirizzo del destinatario non valido ({address!r})"
    return None


def _send_one(config: Config, sessions: sessionmaker[Session], transport: Transport,
              ack_id: int, now: datetime, report: SendReport) -> str:
    prepared = _claim(config, sessions, ack_id, now, report)
    if isinstance(prepared, str):
        return prepared
    message, recipient = prepared
    try:
        transport.send(message, from_address(config), recipient)
    except DeliveryUnknown as exc:
        outcome = _settle(config, sessions, ack_id, now, "uncertain", str(exc))
    except PermanentTransportError as exc:
        outcome = _settle(config, sessions, ack_id, now, "failed", str(exc))
    except TransportError as exc:
        outcome = _settle(config, sessions, ack_id, now, "retrying", str(exc))
    else:
        outcome = _settle(config, sessions, ack_id, now, "sent", None)
    setattr(report, outcome, getattr(report, outcome) + 1)
    if outcome != "sent":
        report.errors.append(f"ack {ack_id}: {outcome}")
    return outcome


def _claim(config: Config, sessions: sessionmaker[Session], ack_id: int, now: datetime,
           report: SendReport) -> tuple[EmailMessage, str] | str:
    """Render and mark ``sending``, committed; or say why not (an outcome name)."""
    settings = config.acknowledgements
    with sessions() as session, session.begin():
        ack = session.get(Acknowledgement, ack_id)
        if ack is None or ack.status not in ("pending", "sending"):
            report.skipped += 1
            return "skipped"
        if ack.status == "sending" and ack.attempts >= settings.max_attempts:
            _fail(session, ack, f"nessuna ricevuta di accettazione dopo {ack.attempts} "
                                f"tentativi; ultimo errore: {ack.error or '-'}")
            report.failed += 1
            return "failed"
        if ack.status == "sending":
            log.warning("ack=%s message_id=%s: no acceptance receipt within %s minutes of "
                        "sending: sending again", ack.id, ack.message_id,
                        settings.sending_grace_minutes)
        problem = address_problem(ack.to_address)
        try:
            message = build(config, ack, now) if problem is None else None
        except ValueError as exc:  # email refuses a header value (a CR/LF from the mail)
            problem = f"ricevuta non componibile: {exc}"
        except TemplateProblem as exc:
            log.error("ack=%s: %s", ack.id, exc)
            ack.error = str(exc)
            ack.next_attempt_at = now + backoff(config, ack.attempts + 1)
            report.errors.append(f"ack {ack_id}: {exc}")
            report.deferred += 1
            return "deferred"
        if problem is not None or message is None:
            _fail(session, ack, problem)
            report.failed += 1
            report.errors.append(f"ack {ack_id}: {problem}")
            return "failed"
        grace = timedelta(minutes=settings.sending_grace_minutes)
        if not claim_acknowledgement(session, ack.id, expected_status=ack.status,
                                     expected_attempts=ack.attempts, until=now + grace):
            report.skipped += 1
            return "skipped"
        return message, ack.to_address


def _settle(config: Config, sessions: sessionmaker[Session], ack_id: int, now: datetime,
            outcome: str, error: str | None) -> str:
    """Record what the server said; a receipt may already have moved the row further."""
    with sessions() as session, session.begin():
        ack = lock_acknowledgement(session, ack_id)
        if ack is None:
            return outcome
        if ack.status != "sending":  # a receipt got there first (accepted, delivered, failed)
            if outcome == "sent" and ack.sent_at is None:
                ack.sent_at = now
            return outcome
        if outcome == "sent":
            ack.status, ack.sent_at, ack.next_attempt_at, ack.error = "sent", now, None, None
            log.info("ack=%s message_id=%s to=%s outcome=sent", ack.id, ack.message_id,
                     ack.to_address)
        elif outcome == "uncertain":
            ack.error = error  # stays "sending" until a receipt or the grace period
            log.warning("ack=%s message_id=%s outcome=uncertain reason=%s", ack.id,
                        ack.message_id, error)
        elif outcome == "failed" or ack.attempts >= config.acknowledgements.max_attempts:
            _fail(session, ack, error if outcome == "failed" else
                  f"dopo {ack.attempts} tentativi: {error}")
            return "failed"
        else:
            ack.status, ack.error = "pending", error
            ack.next_attempt_at = now + backoff(config, ack.attempts)
            log.warning("ack=%s outcome=retry attempt=%s next=%s reason=%s", ack.id,
                        ack.attempts, ack.next_attempt_at.isoformat(), error)
        return outcome


def _fail(session: Session, ack: Acknowledgement, error: str | None) -> None:
    ack.status, ack.error, ack.next_attempt_at = "failed", error, None
    log.error("ack=%s message_id=%s to=%s outcome=failed reason=%s", ack.id, ack.message_id,
              ack.to_address, error)
    flag_failure(session, ack, error)


def flag_failure(session: Session, ack: Acknowledgement, error: str | None) -> None:
    """Put the submission in the review queue: its acknowledgement did not reach the sender."""
    add_review_reason(session, code="ack_failed", submission=ack.submission,
                      detail=f"la ricevuta {ack.message_id} a {ack.to_address} non è stata "
                             f"consegnata: {error or 'motivo non indicato'}. Verificare "
                             "l'indirizzo e usare «pec-ingest acks resend "
                             f"{ack.id}» per inviarla di nuovo")
