"""``pec-ingest acks``: list, resend, send; with the file transport (the demo's and dry runs')."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.ack import make_transport, send_pending
from pec_ingest.cli import main
from pec_ingest.config import Config
from pec_ingest.pipeline import Pipeline, Source
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.mailbox import COMUNE_PEC, DOCX
from pec_ingest.samples.pec import build_envelope, build_original, build_receipt
from pec_ingest.samples.people import make_organisation
from store.model import Acknowledgement

WHEN = datetime(2019, 9, 5, 10, 0, tzinfo=timezone(timedelta(hours=2)))
NOW = datetime(2019, 9, 5, 9, 0, tzinfo=UTC)


def submit(pipeline: Pipeline, seed: int) -> tuple[str, str]:
    org = make_organisation(seed)
    original = build_original(sender=org.pec, to=[COMUNE_PEC], subject="Allegato 1", date=WHEN,
                              message_id=f"<o{seed}@esempio.it>",
                              attachments=[("Allegato_1.docx", build_docx(org, "table"), DOCX)])
    raw = build_envelope(original, mittente=org.pec, destinatari=[COMUNE_PEC],
                         identificativo=f"opec.{seed}@pec.simulato.example", data=WHEN)
    out = pipeline.ingest(raw, Source())
    assert out.registration_number is not None
    return out.registration_number, org.pec


def acks_json(config_file: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:
    capsys.readouterr()
    assert main(["--config", str(config_file), "acks", "--format", "json", *args]) == 0
    out: list[dict] = json.loads(capsys.readouterr().out)
    return out


@pytest.fixture
def config_file(tmp_path: Path, config: Config, database_url: str) -> Path:
    path = tmp_path / "pec-ingest.toml"
    path.write_text(f'[state]\ndir = "{config.state.dir}"\n[database]\nurl = "{database_url}"\n',
                    encoding="utf-8")
    return path


def test_list_resend_and_send(pipeline: Pipeline, config: Config, config_file: Path,
                              sessions: sessionmaker[Session],
                              capsys: pytest.CaptureFixture[str]) -> None:
    number, sender = submit(pipeline, 91)
    submit(pipeline, 92)
    report = send_pending(config, sessions, make_transport(config), now=NOW)
    assert report.sent == 2
    emls = sorted((config.state.dir / "outbox").glob("*.eml"))
    first = message_from_bytes(emls[0].read_bytes(), policy=policy.default)
    assert first["Auto-Submitted"] == "auto-replied" and "PDZ2019-000" in first["Subject"]

    rows = acks_json(config_file, capsys)
    assert {"id", "registration_number", "to", "message_id", "status", "sent_at",
            "accepted_at", "delivered_at", "error"} <= set(rows[0])
    assert (rows[0]["registration_number"], rows[0]["status"]) == (number, "sent")
    assert rows[0]["to"] == sender and rows[0]["sent_at"].startswith("2019-09-05T09:00")
    assert acks_json(config_file, capsys, "--status", "pending") == []

    pipeline.ingest(build_receipt("errore-consegna", msgid=rows[0]["message_id"],
                                  mittente=COMUNE_PEC, destinatari=[sender],
                                  identificativo="opec.r91@pec.simulato.example", data=WHEN,
                                  errore="no-dest", errore_esteso="casella inesistente"),
                    Source())
    [failed] = acks_json(config_file, capsys, "--status", "failed")
    assert "casella inesistente" in failed["error"]

    capsys.readouterr()
    assert main(["--config", str(config_file), "acks", "resend", str(failed["id"])]) == 0
    with sessions() as s:
        again = s.get(Acknowledgement, failed["id"])
        assert again is not None and again.status == "pending" and again.error is None
        assert again.message_id != failed["message_id"] and again.attempts == 0
    audit = capsys.readouterr().err  # the audit note, in the log (stderr)
    assert "audit" in audit and failed["message_id"] in audit

    assert main(["--config", str(config_file), "acks", "resend", str(rows[1]["id"])]) == 1
    assert "si rimanda solo" in capsys.readouterr().err

    assert main(["--config", str(config_file), "acks", "send", number]) == 0
    with sessions() as s:
        mine = s.scalars(select(Acknowledgement).where(
            Acknowledgement.to_address == sender).order_by(Acknowledgement.id)).all()
        assert [a.status for a in mine] == ["pending", "pending"]
        assert mine[0].submission_id == mine[1].submission_id
    capsys.readouterr()
    assert main(["--config", str(config_file), "acks"]) == 0
    table = capsys.readouterr().out
    statuses = {line[22:44].strip() for line in table.splitlines()[1:]}
    assert number in table and {"in coda", "inviata"} <= statuses, table


def test_unknown_ids_are_reported(config_file: Path, sessions: sessionmaker[Session],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config_file), "acks", "resend", "999"]) == 1
    assert main(["--config", str(config_file), "acks", "send", "PDZ2019-0999"]) == 1
    assert "nessuna" in capsys.readouterr().err


def test_resend_of_a_reply_still_sending_waits_for_the_grace_period_and_is_audited(
        pipeline: Pipeline, config_file: Path, sessions: sessionmaker[Session],
        capsys: pytest.CaptureFixture[str]) -> None:
    from store.audit import AuditEntry

    number, _ = submit(pipeline, 93)
    with sessions() as s, s.begin():
        ack = s.scalars(select(Acknowledgement)).one()
        ack.status, ack.sent_at = "sending", datetime.now(UTC)
        ack_id, first_id = ack.id, ack.message_id
    assert main(["--config", str(config_file), "acks", "resend", str(ack_id),
                 "--by", "anna"]) == 1
    assert "attendere la ricevuta di accettazione" in capsys.readouterr().err
    with sessions() as s, s.begin():
        ack = s.get(Acknowledgement, ack_id)
        assert ack is not None and ack.message_id == first_id and ack.status == "sending"
        ack.sent_at = datetime.now(UTC) - timedelta(days=1)  # grace period over
    assert main(["--config", str(config_file), "acks", "resend", str(ack_id),
                 "--by", "anna"]) == 0
    assert main(["--config", str(config_file), "acks", "send", number, "--by", "anna"]) == 0
    with sessions() as s:
        entries = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(e.actor, e.action) for e in entries] == [("anna", "ack_resend"),
                                                         ("anna", "ack_send")]
        assert entries[0].before["message_id"] == first_id
