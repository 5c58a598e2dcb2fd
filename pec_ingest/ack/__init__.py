"""Acknowledgements: the certified reply to each submission, its outbox and the receipts.

::

    policy      whom we answer; the row queued in the submission's transaction
    compose     the words (templates) and the MIME message
    templates   Jinja2: staff's override folder first, then pec_ingest/templates
    transport   SMTP (implicit TLS or STARTTLS, verified) or a folder of .eml files
    outbox      send_pending(): due rows, rate limit, retries, the crash window
    receipts    PEC receipts move an acknowledgement along (accepted, delivered, failed)

Wiring: ``send_pending(config, sessions, make_transport(config))`` from the scheduler and
from ``poll --once`` (after ingesting, so that fresh receipts settle rows first).
"""

from pec_ingest.ack.outbox import SendReport, send_pending
from pec_ingest.ack.receipts import apply_receipt, reconcile
from pec_ingest.ack.transport import (
    DeliveryUnknown,
    FileTransport,
    SmtpTransport,
    Transport,
    make_transport,
)

__all__ = ["DeliveryUnknown", "FileTransport", "SendReport", "SmtpTransport", "Transport",
           "apply_receipt", "make_transport", "reconcile", "send_pending"]
