"""Whom we answer: the rules that decide whether a recorded submission gets an acknowledgement,
and its Message-ID and address (:func:`reply_for`; the row is written with the submission, in
its transaction, by ``store.submissions.add_version_rows``; :func:`queue_acknowledgement`
queues one for staff's commands).

Only a real certified message (``posta-certificata``) recorded as a submission is answered,
and only once per submission version, to the certified sender of daticert (never the inner
``From:``). Never answered: receipts, anomalies and unrelated mail (the pipeline never makes
them submissions; an anomaly that looks like an application is listed for staff, who can ask
for a certified resubmission), mail from ``posta-certificata@`` addresses,
automatic mail (``Auto-Submitted`` other than ``no``, on the envelope or the original) and our
own address.
"""

from __future__ import annotations

import logging
import secrets

from sqlalchemy.orm import Session

from parsers.envelope import PecMessage
from pec_ingest.config import Config
from store.model import Acknowledgement, Submission
from store.receipts import add_acknowledgement

# Every acknowledgement Message-ID starts with this (the poller downloads only the receipts
# that refer to one of ours).
ACK_ID_PREFIX = "ack."

log = logging.getLogger(__name__)


def from_address(config: Config) -> str:
    """The address acknowledgements come from: the SMTP mailbox, else the procedure's PEC."""
    return (config.smtp.from_address or config.procedure.address).strip()


def own_addresses(config: Config) -> set[str]:
    return {a.strip().casefold() for a in (config.smtp.from_address, config.procedure.address)
            if a and a.strip()}


def is_automatic(value: str | None) -> bool:
    """``Auto-Submitted`` other than ``no`` (``auto-replied; owner=...`` counts)."""
    if value is None:
        return False
    token = value.split(";", 1)[0].strip().casefold()
    return token not in ("", "no")


def reason_not_to_reply(config: Config, env: PecMessage, sender: str | None) -> str | None:
    """Why this submission gets no acknowledgement, or None when it gets one."""
    settings = config.acknowledgements
    if not settings.enabled:
        return "ricevute disattivate (acknowledgements.enabled = false)"
    if env.kind == "anomalia":
        return "anomalia: posta non certificata, nessuna risposta automatica"
    if env.kind != "posta-certificata":
        return f"messaggio di tipo {env.kind}: non è una PEC"
    address = (sender or "").strip().casefold()
    if "@" not in address:
        return "mittente certificato sconosciuto"
    if address.split("@", 1)[0] == "posta-certificata":
        return f"mittente di sistema del gestore ({address})"
    if address in own_addresses(config):
        return f"messaggio inviato dalla nostra casella ({address})"
    if is_automatic(env.auto_submitted) or is_automatic(env.original_auto_submitted):
        return "messaggio automatico (Auto-Submitted)"
    return None


def new_message_id(config: Config, registration_number: str) -> str:
    """A fresh Message-ID: ``<ack.PDZ2019-0042.<random>@<our domain>>``."""
    domain = from_address(config).rpartition("@")[2] or "localhost"
    return f"<{ACK_ID_PREFIX}{registration_number}.{secrets.token_hex(8)}@{domain}>"


def queue_acknowledgement(session: Session, config: Config, submission: Submission,
                          to_address: str, flush: bool = True) -> Acknowledgement:
    """A new pending acknowledgement of ``submission`` (Message-ID generated now, stored;
    ``flush=False``: with the next flush)."""
    return add_acknowledgement(session, submission,
                               message_id=new_message_id(config, submission.registration_number),
                               to_address=to_address, flush=flush)


def reply_for(config: Config, registration_number: str, env: PecMessage,
              sender: str | None) -> tuple[str, str] | None:
    """The acknowledgement of a just-recorded submission, when the rules allow one: its new
    Message-ID and the address it goes to (None: no reply, and why is logged)."""
    why_not = reason_not_to_reply(config, env, sender)
    if why_not is not None or sender is None:
        log.info("registration=%s acknowledgement=none reason=%s", registration_number,
                 why_not)
        return None
    return new_message_id(config, registration_number), sender.strip().lower()
