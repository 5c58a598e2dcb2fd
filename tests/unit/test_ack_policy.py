"""Whom an acknowledgement goes to: bytes in (PEC envelopes), decisions out."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from parsers.envelope import PecMessage, parse_envelope
from pec_ingest.ack.policy import is_automatic, new_message_id, reason_not_to_reply
from pec_ingest.config import Config
from pec_ingest.samples.mailbox import COMUNE_PEC
from pec_ingest.samples.pec import build_anomaly, build_envelope, build_original, build_receipt
from pec_ingest.settings_smtp import AcknowledgementSection, SmtpSection

WHEN = datetime(2019, 9, 3, 8, 15, tzinfo=UTC)
SENDER = "associazione@pec.esempio.it"


def envelope(sender: str = SENDER, *, inner_auto: str | None = None,
             outer_auto: str | None = None) -> PecMessage:
    original = build_original(sender=sender, to=[COMUNE_PEC], subject="Allegato 1", date=WHEN,
                              message_id="<m1@esempio.it>", auto_submitted=inner_auto)
    raw = build_envelope(original, mittente=sender, destinatari=[COMUNE_PEC],
                         identificativo="opec.1@pec.simulato.example", data=WHEN)
    if outer_auto is not None:
        raw = f"Auto-Submitted: {outer_auto}\r\n".encode() + raw
    return parse_envelope(raw)


def config(**ack: Any) -> Config:
    smtp = SmtpSection(host="smtps.pec.example", from_address=COMUNE_PEC.upper())
    return dataclasses.replace(Config(), smtp=smtp,
                               acknowledgements=AcknowledgementSection(transport="smtp", **ack))


def test_a_certified_submission_is_answered() -> None:
    env = envelope()
    assert env.kind == "posta-certificata"
    assert reason_not_to_reply(config(), env, env.sender) is None


@pytest.mark.parametrize(("inner", "outer"), [
    ("auto-replied", None), (None, "auto-generated"), ("auto-notified; owner=x", None)])
def test_automatic_mail_is_not_answered(inner: str | None, outer: str | None) -> None:
    env = envelope(inner_auto=inner, outer_auto=outer)
    assert reason_not_to_reply(config(), env, env.sender) == \
        "messaggio automatico (Auto-Submitted)"


def test_auto_submitted_no_is_a_person() -> None:
    env = envelope(inner_auto="no", outer_auto="No")
    assert reason_not_to_reply(config(), env, env.sender) is None
    assert not is_automatic(None) and not is_automatic(" no ") and is_automatic("auto-replied")


def test_provider_and_own_addresses_are_not_answered() -> None:
    provider = envelope("posta-certificata@pec.aruba.it")
    assert "gestore" in (reason_not_to_reply(config(), provider, provider.sender) or "")
    own = envelope(COMUNE_PEC)  # our own sent mail, whatever the case of the configuration
    assert "nostra casella" in (reason_not_to_reply(config(), own, own.sender) or "")


def test_receipts_and_anomalies_are_not_answered() -> None:
    receipt = parse_envelope(build_receipt(
        "accettazione", msgid="<x@y>", mittente=SENDER, destinatari=[COMUNE_PEC],
        identificativo="opec.2@pec.simulato.example", data=WHEN))
    assert reason_not_to_reply(config(), receipt, receipt.sender) is not None
    original = build_original(sender="mario@gmail.example", to=[COMUNE_PEC], subject="x",
                              date=WHEN, message_id="<a@b>")
    anomaly = parse_envelope(build_anomaly(original, mittente="mario@gmail.example",
                                           destinatari=[COMUNE_PEC], identificativo="opec.3@x",
                                           data=WHEN))
    assert anomaly.kind == "anomalia"
    assert "anomalia" in (reason_not_to_reply(config(), anomaly, anomaly.sender) or "")


def test_disabled_means_no_reply() -> None:
    env = envelope()
    assert "disattivate" in (reason_not_to_reply(config(enabled=False), env, env.sender) or "")


def test_message_id_is_ours_and_unique() -> None:
    first, second = (new_message_id(config(), "PDZ2019-0042") for _ in range(2))
    assert re.fullmatch(r"<ack\.PDZ2019-0042\.[0-9a-f]{16}@PEC\.REGIONE\.LOMBARDIA\.IT>", first)
    assert first != second
