"""The whole round trip through real servers: a submission arrives in Dovecot, the poller
ingests it, the acknowledgement goes out over SMTP with TLS, the simulated PEC provider's
receipts are appended to the mailbox, and the next poll marks it delivered."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.ack import SmtpTransport, send_pending
from pec_ingest.config import Config, StateSection
from pec_ingest.isolation import ParserPool
from pec_ingest.pipeline import Pipeline
from pec_ingest.poller import Poller
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.mailbox import COMUNE_PEC, DOCX
from pec_ingest.samples.pec import build_envelope, build_original
from pec_ingest.samples.people import make_organisation
from pec_ingest.settings_smtp import AcknowledgementSection, SmtpSection
from store.model import Acknowledgement
from tests.dovecot import DovecotServer
from tests.smtp_server import PASSWORD, USERNAME, SmtpServer, provider_receipts

WHEN = datetime(2019, 9, 4, 11, 30, tzinfo=timezone(timedelta(hours=2)))


def test_submission_ack_and_receipts_through_dovecot_and_smtp(
        tmp_path: Path, sessions: sessionmaker[Session], parser_pool: ParserPool,
        dovecot: DovecotServer, imap_user: str, smtp: SmtpServer) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD, encoding="utf-8")
    config = dataclasses.replace(
        Config(), state=StateSection(dir=tmp_path / "state"),
        mailboxes=(dovecot.section(imap_user),),
        smtp=SmtpSection(host="127.0.0.1", port=smtp.starttls.port, security="starttls",
                         username=USERNAME, password_file=str(secret),
                         ca_file=str(smtp.ca_file), from_address=USERNAME, timeout_seconds=5),
        acknowledgements=AcknowledgementSection(transport="smtp"))
    org = make_organisation(81)
    original = build_original(sender=org.pec, to=[COMUNE_PEC], subject="Allegato 1", date=WHEN,
                              message_id="<orig.81@esempio.it>",
                              attachments=[("Allegato_1.docx", build_docx(org, "table"), DOCX)])
    dovecot.append(imap_user, [build_envelope(original, mittente=org.pec,
                                              destinatari=[COMUNE_PEC],
                                              identificativo="opec.81@pec.simulato.example",
                                              data=WHEN)])
    poller = Poller(config, sessions, Pipeline(config, sessions, parse=parser_pool.parse_many))
    assert all(r.ok for r in poller.poll_all())
    assert send_pending(config, sessions, SmtpTransport(config.smtp)).sent == 1
    [received] = smtp.received
    assert received.rcpt_tos == [org.pec]
    dovecot.append(imap_user, provider_receipts(received, datetime.now(UTC)))
    assert all(r.ok for r in poller.poll_all())
    with sessions() as s:
        [ack] = s.scalars(select(Acknowledgement))
        assert ack.status == "delivered" and ack.to_address == org.pec
        assert {r.kind for r in ack.receipts} == {"accettazione", "avvenuta-consegna"}
