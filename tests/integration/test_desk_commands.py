"""The desk commands as staff type them (in-process, on a filled database): the queue, show
with --save, set refused and accepted, tavoli, accept/reject, reprocess, purge."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from pec_ingest.cli import main
from pec_ingest.desk.queue import find_submission
from store.audit import AuditEntry
from store.model import Message
from tests.integration.desk_support import Desk, desk_fixture, keep_logging  # noqa: F401


def call(desk: Desk, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(desk.config_file), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_queue_and_show_with_saved_attachments(desk: Desk, capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    code, out, _ = call(desk, capsys, "review")
    assert code == 0
    scan, other = desk.number("d-scan"), desk.number("g-other-sender")
    assert out.index(scan) < out.index(other)  # received 5/9, before 8/9
    assert "PEC dichiarata diversa dal mittente certificato" in out
    code, out, _ = call(desk, capsys, "review", "--format", "json")
    items = json.loads(out)
    assert {scan, other} <= {i["id"] for i in items}
    signed = desk.number("a-docx-p7m")
    code, out, _ = call(desk, capsys, "review", "show", signed, "--save", str(tmp_path / "a"))
    assert code == 0 and signed in out and "allegato [form]" in out
    saved = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert saved == ["Allegato1_firmato.docx", "Allegato1_firmato.docx.p7m"]
    assert (tmp_path / "a" / "Allegato1_firmato.docx").read_bytes()[:2] == b"PK"


def test_set_refused_then_accepted_with_the_ack_hint(desk: Desk,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    number = desk.number("g-other-sender")
    code, out, err = call(desk, capsys, "review", "set", number, "pec", "non-un-indirizzo",
                          "--by", "anna")
    assert code == 2 and "rifiutata" in err and "non valido" in err
    code, out, _ = call(desk, capsys, "review", "set", number, "pec",
                        "Segreteria@PEC.altroente.it", "--by", "anna")
    assert code == 0
    assert "segreteria@pec.altroente.it" in out
    assert f"pec-ingest acks send {number}" in out
    code, out, _ = call(desk, capsys, "review", "tavoli", number, "famiglia,autonomie")
    assert code == 0 and "→ autonomie,famiglia" in out
    code, out, _ = call(desk, capsys, "review", "accept", number, "--by", "bruno")
    assert code == 0 and "accettata da bruno" in out
    code, out, _ = call(desk, capsys, "review", "show", number)
    assert "Registro delle azioni" in out and "anna" in out and "bruno" in out
    with desk.sessions() as s:
        sub = find_submission(s, number)
        assert sub.pec == "segreteria@pec.altroente.it"
        assert sub.review_state == "accepted"
        entries = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        # the refused value left no trace: set, tavoli, accept
        assert [(e.actor, e.action) for e in entries][::2] == [("anna", "set_field"),
                                                               ("bruno", "accept")]
        assert len(entries) == 3


def test_reject_and_message_items(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    number = desk.number("d-scan")
    with pytest.raises(SystemExit) as refused:
        call(desk, capsys, "review", "reject", number)
    assert refused.value.code == 2 and "--reason" in capsys.readouterr().err
    code, out, _ = call(desk, capsys, "review", "reject", number, "--reason", "non leggibile")
    assert code == 0 and "respinta" in out
    rows = json.loads(call(desk, capsys, "adherents", "--format", "json")[1])
    assert number not in {r["registration_number"] for r in rows}
    rows = json.loads(call(desk, capsys, "adherents", "--format", "json",
                           "--include-rejected")[1])
    assert number in {r["registration_number"] for r in rows}
    with desk.sessions() as s:
        anomaly = s.scalars(select(Message).where(Message.outcome == "anomaly")).one()
    code, out, _ = call(desk, capsys, "review", "show", f"M{anomaly.id}")
    assert code == 0 and "anomalia" in out


def test_reprocess_command(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    number = desk.number("e-last-minute")
    assert call(desk, capsys, "review", "set", number, "referente", "giulia bianchi")[0] == 0
    code, out, _ = call(desk, capsys, "reprocess", number, "--by", "carla")
    assert code == 0 and "correzioni del personale mantenute: referente" in out
    with desk.sessions() as s:
        assert find_submission(s, number).referente == "Giulia Bianchi"


def test_purge_dry_run_then_real(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    config = desk.config_file
    config.write_text(config.read_text() + "\n[procedure]\nclosing = 2019-12-31\n")
    code, dry, _ = call(desk, capsys, "purge", "--before", "2019-09-07", "--dry-run")
    assert code == 0
    listed = re.findall(r"^\s+M(\d+)", dry, re.MULTILINE)
    assert listed
    with desk.sessions() as s:
        paths = {m.id: m.archive_path for m in s.scalars(select(Message))}
    assert all(desk.archive.exists(p) for p in paths.values())
    code, refused, _ = call(desk, capsys, "purge", "--before", "2019-09-07", "--by", "anna")
    assert code == 1 and "--yes" in refused  # no terminal to ask: nothing deleted
    assert all(desk.archive.exists(p) for p in paths.values())
    code, real, _ = call(desk, capsys, "purge", "--before", "2019-09-07", "--by", "anna",
                         "--yes")
    assert code == 0
    assert re.findall(r"^\s+M(\d+)", real, re.MULTILINE) == listed
    gone = {int(m) for m in listed}
    assert {i for i, p in paths.items() if not desk.archive.exists(p)} == gone
    code, again, _ = call(desk, capsys, "purge", "--before", "2019-09-07", "--dry-run")
    assert re.findall(r"^\s+M(\d+)", again, re.MULTILINE) == []
