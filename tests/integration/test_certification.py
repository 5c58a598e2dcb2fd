"""Certified means certified: an envelope with no provider signature, a signature that does not
verify, a daticert altered after signing, or (with ``[trust] ca_file``) a provider outside the
trust bundle gives no legal time: the IMAP arrival time is used, said so to staff and in the
reply. Receipts move an acknowledgement only when their signature verifies. SQLite and
PostgreSQL."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.ack.compose import build
from pec_ingest.config import Config
from pec_ingest.isolation import ParserPool
from pec_ingest.pipeline import Pipeline, Source
from pec_ingest.poller import Poller
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.mailbox import COMUNE_PEC, DOCX
from pec_ingest.samples.pec import (
    ProviderKey,
    build_envelope,
    build_original,
    build_receipt,
    default_provider_key,
)
from pec_ingest.samples.people import make_organisation
from pec_ingest.trust import TrustSection
from store.model import Acknowledgement, Message, Receipt, ReviewReason, Submission
from tests.dovecot import DovecotServer

ROME = timezone(timedelta(hours=2))
EARLY = datetime(2026, 9, 1, 10, 0, tzinfo=ROME)  # before the deadline below
ARRIVED = datetime(2026, 9, 20, 8, 0, tzinfo=UTC)  # after it: what IMAP says
DEADLINE = "2026-09-09"


def envelope(seed: int, when: datetime = EARLY) -> bytes:
    org = make_organisation(seed)
    original = build_original(sender=org.pec, to=[COMUNE_PEC], subject="Allegato 1", date=when,
                              message_id=f"<c{seed}@x.example>",
                              attachments=[("Allegato_1.docx", build_docx(org, "table"), DOCX)])
    return build_envelope(original, mittente=org.pec, destinatari=[COMUNE_PEC],
                          identificativo=f"opec.cert.{seed}@pec.example", data=when)


def unsigned(raw: bytes) -> bytes:
    """The same envelope with the provider's signature taken off (its signed part promoted)."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    boundary = message.get_boundary()
    assert boundary is not None
    head, _, rest = raw.partition(b"\r\n\r\n")
    inner = rest.split(b"--" + boundary.encode())[1].lstrip(b"\r\n")
    kept = [line for line in head.split(b"\r\n")
            if not line.lower().startswith(b"content-type") and not line.startswith((b" ", b"\t"))]
    return b"\r\n".join(kept) + b"\r\n" + inner


def altered(raw: bytes, seed: int) -> bytes:
    """``raw`` (late) with the daticert of the same envelope dated EARLY spliced in."""
    def daticert(data: bytes) -> bytes:
        message = email.message_from_bytes(data, policy=email.policy.compat32)
        part = next(p for p in message.walk() if p.get_filename() == "daticert.xml")
        text = str(part.get_payload()).replace("\r\n", "\n").strip()
        return text.encode().replace(b"\n", b"\r\n")

    early = envelope(seed, EARLY)
    spliced = raw.replace(daticert(raw), daticert(early))
    assert spliced != raw
    return spliced


@pytest.fixture
def deadline_config(config: Config) -> Config:
    return dataclasses.replace(config, procedure=dataclasses.replace(
        config.procedure, deadline=datetime.fromisoformat(DEADLINE).date()))


def _pipeline(config: Config, sessions: sessionmaker[Session], pool: ParserPool) -> Pipeline:
    return Pipeline(config, sessions, parse=pool.parse_many)


@pytest.mark.parametrize("damage", ["unsigned", "altered"])
def test_an_uncertified_envelope_gets_the_arrival_time_not_the_legal_one(
        damage: str, deadline_config: Config, sessions: sessionmaker[Session],
        parser_pool: ParserPool) -> None:
    pipeline = _pipeline(deadline_config, sessions, parser_pool)
    raw = unsigned(envelope(401)) if damage == "unsigned" else altered(
        envelope(401, ARRIVED.astimezone(ROME)), 401)
    out = pipeline.ingest(raw, Source("imap", "m", "INBOX", 1, 1, internal_date=ARRIVED))
    assert out.outcome == "submission", out.reason
    with sessions() as s:
        sub = s.get(Submission, out.submission_id)
        assert sub is not None and sub.message.legal_time is None
        assert sub.received_at == ARRIVED and sub.late is True  # not the claimed EARLY time
        codes = {r.code for r in sub.review_reasons}
        assert "not_certified" in codes
        if damage == "altered":
            assert "envelope_signature" in codes and sub.message.signature_valid is False
        [ack] = s.scalars(select(Acknowledgement))
        text = build(deadline_config, ack, datetime.now(UTC)).get_body(("plain",))
        assert text is not None
        body = text.get_content()
        assert "data e ora legali" not in body and "non sono certificate" in body


def test_a_certified_envelope_keeps_its_legal_time(
        deadline_config: Config, sessions: sessionmaker[Session],
        parser_pool: ParserPool) -> None:
    out = _pipeline(deadline_config, sessions, parser_pool).ingest(
        envelope(402), Source("imap", "m", "INBOX", 1, 2, internal_date=ARRIVED))
    with sessions() as s:
        sub = s.get(Submission, out.submission_id)
        assert sub is not None and sub.received_at == EARLY and sub.late is False
        assert sub.message.provider_trusted is None  # no trust bundle: not judged
        assert "not_certified" not in {r.code for r in sub.review_reasons}
        [ack] = s.scalars(select(Acknowledgement))
        text = build(deadline_config, ack, datetime.now(UTC)).get_body(("plain",))
        assert text is not None and "data e ora legali" in text.get_content()


def _bundle(path: Path, key: ProviderKey) -> str:
    path.write_bytes(key.certificate.public_bytes(Encoding.PEM))
    return str(path)


@pytest.mark.parametrize("trusted", [True, False])
def test_the_provider_is_judged_against_the_trust_bundle(
        trusted: bool, deadline_config: Config, sessions: sessionmaker[Session],
        parser_pool: ParserPool, tmp_path: Path) -> None:
    key = default_provider_key() if trusted else ProviderKey.generate("Altro Gestore",
                                                                      "altro.example")
    config = dataclasses.replace(deadline_config, trust=TrustSection(
        ca_file=_bundle(tmp_path / "gestori.pem", key)))
    out = _pipeline(config, sessions, parser_pool).ingest(
        envelope(403), Source("imap", "m", "INBOX", 1, 3, internal_date=ARRIVED))
    with sessions() as s:
        sub = s.get(Submission, out.submission_id)
        assert sub is not None
        message = sub.message
        assert message.signature_valid is True  # integrity holds either way
        assert message.provider_trusted is trusted
        assert (message.legal_time is not None) is trusted
        assert sub.received_at == (EARLY if trusted else ARRIVED)
        codes = {r.code for r in sub.review_reasons}
        assert ({"not_certified", "envelope_signature"} <= codes) is not trusted


@pytest.mark.parametrize("signed", [True, False])
def test_only_a_verified_receipt_changes_the_acknowledgement(
        signed: bool, deadline_config: Config, sessions: sessionmaker[Session],
        parser_pool: ParserPool) -> None:
    pipeline = _pipeline(deadline_config, sessions, parser_pool)
    pipeline.ingest(envelope(404), Source())
    with sessions() as s, s.begin():
        [ack] = s.scalars(select(Acknowledgement))
        ack.status, ack.sent_at = "sent", datetime.now(UTC)
        msgid, before = ack.message_id, ack.status
    receipt = build_receipt("avvenuta-consegna", msgid=msgid, mittente=COMUNE_PEC,
                            destinatari=[make_organisation(404).pec],
                            identificativo="opec.ack.404@pec.example", data=EARLY)
    out = pipeline.ingest(receipt if signed else unsigned(receipt), Source())
    assert out.outcome == "receipt"
    with sessions() as s:
        [ack] = s.scalars(select(Acknowledgement))
        [row] = s.scalars(select(Receipt))
        assert row.kind == "avvenuta-consegna"
        assert ack.status == ("delivered" if signed else before)
        flagged = s.scalars(select(ReviewReason).join(Message, ReviewReason.message_id ==
                                                      Message.id)).all()
        assert bool([r for r in flagged if r.code == "envelope_signature"]) is not signed


def test_through_dovecot_the_fallback_is_the_imap_internal_date(
        deadline_config: Config, sessions: sessionmaker[Session], parser_pool: ParserPool,
        dovecot: DovecotServer, imap_user: str) -> None:
    dovecot.append(imap_user, [unsigned(envelope(405))], when=ARRIVED)
    config = dataclasses.replace(deadline_config, mailboxes=(dovecot.section(imap_user),))
    poller = Poller(config, sessions, _pipeline(config, sessions, parser_pool))
    [report] = poller.poll_all()
    assert report.ok, report.error
    with sessions() as s:
        [sub] = s.scalars(select(Submission))
        assert sub.message.legal_time is None
        assert sub.received_at == ARRIVED and sub.late is True
