"""The web desk's actions over HTTP on a database filled by the pipeline (SQLite and
PostgreSQL): tables, reprocess, acknowledgements, a message turned into a submission, the
reverse proxy's single sign-on, sessions that expire."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select, update
from starlette.testclient import TestClient

from pec_ingest.desk.queue import find_submission
from pec_ingest.pipeline import Pipeline, Source
from pec_ingest.samples.pec import build_envelope, build_original
from pec_ingest.samples.people import make_organisation
from pec_ingest.web.app import create_app
from store.accounts import DeskSession
from store.audit import AuditEntry
from store.model import Acknowledgement, Message, Submission
from tests.integration.desk_support import Desk, desk_fixture, keep_logging  # noqa: F401
from tests.integration.web_support import csrf_of, desk_config, login, web_fixture  # noqa: F401

COMUNE_PEC = "comune.cernuscosulnaviglio@pec.regione.lombardia.it"


def _post(client: TestClient, path: str, **data: str) -> tuple[int, str]:
    csrf = csrf_of(client.get("/").text)
    answer = client.post(path, data={**data, "csrf": csrf})
    return answer.status_code, answer.text


def test_tables_are_replaced_with_ranks(web: tuple[Desk, TestClient]) -> None:
    desk, client = web
    assert login(client, "otto") == 303
    with desk.sessions() as s:
        sub_id = find_submission(s, desk.number("d-scan")).id
    status, page = _post(client, f"/domande/{sub_id}/tavoli", tavolo_poverta="1",
                         rango_poverta="2", tavolo_autonomie="1", rango_autonomie="1")
    assert status == 200 and "Tavoli aggiornati" in page
    with desk.sessions() as s:
        sub = s.get(Submission, sub_id)
        assert sub is not None
        assert [(t.code, t.rank) for t in sub.tavoli] == [("autonomie", 1), ("poverta", 2)]
    status, page = _post(client, f"/domande/{sub_id}/tavoli", tavolo_poverta="1",
                         rango_poverta="0")
    assert status == 422 and "Tavoli non cambiati" in page


def test_reject_needs_a_reason_and_leaves_the_adherent_list(
        web: tuple[Desk, TestClient]) -> None:
    desk, client = web
    assert login(client, "rita") == 303
    number = desk.number("g-other-sender")
    with desk.sessions() as s:
        sub_id = find_submission(s, number).id
    status, page = _post(client, f"/domande/{sub_id}/decisione", decisione="reject",
                         motivo="  ")
    assert status == 422 and "motivo" in page
    status, page = _post(client, f"/domande/{sub_id}/decisione", decisione="reject",
                         motivo="ente fuori ambito")
    assert status == 200 and "Domanda respinta" in page
    assert number not in client.get("/aderenti").text
    assert number in client.get("/aderenti?respinte=si").text


def test_reprocess_keeps_the_staff_corrections(web: tuple[Desk, TestClient]) -> None:
    desk, client = web
    assert login(client, "otto") == 303
    with desk.sessions() as s:
        sub_id = find_submission(s, desk.number("d-scan")).id
    _post(client, f"/domande/{sub_id}/campo", campo="denominazione", valore="Ente Prova APS")
    status, page = _post(client, f"/domande/{sub_id}/rilettura")
    assert status == 200 and "riletta" in page
    with desk.sessions() as s:
        assert s.get(Submission, sub_id).denominazione == "Ente Prova APS"  # type: ignore[union-attr]
        actions = s.scalars(select(AuditEntry.action).where(
            AuditEntry.submission_id == sub_id, AuditEntry.actor == "otto")).all()
        assert list(actions) == ["set_field", "reprocess"]


def test_an_updated_acknowledgement_is_queued_and_a_failed_one_resent(
        web: tuple[Desk, TestClient]) -> None:
    desk, client = web
    assert login(client, "rita") == 303
    with desk.sessions() as s:
        sub = find_submission(s, desk.number("b-pdf"))
        sub_id, before = sub.id, len(s.scalars(select(Acknowledgement).where(
            Acknowledgement.submission_id == sub.id)).all())
    status, page = _post(client, f"/domande/{sub_id}/ricevuta")
    assert status == 200 and "Ricevuta aggiornata messa in coda" in page
    with desk.sessions() as s, s.begin():
        acks = s.scalars(select(Acknowledgement).where(
            Acknowledgement.submission_id == sub_id)).all()
        assert len(acks) == before + 1
        acks[0].status, acks[0].error = "failed", "550 casella piena"
        failed_id = acks[0].id
    assert "550 casella piena" in client.get("/ricevute?stato=failed").text
    status, page = _post(client, f"/ricevute/{failed_id}/reinvio")
    assert status == 200 and "rimessa in coda" in page
    with desk.sessions() as s:
        assert s.get(Acknowledgement, failed_id).status == "pending"  # type: ignore[union-attr]
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "ack_resend")).one()
        assert entry.actor == "rita"


def _photo_pdf() -> bytes:
    """A PDF of a picture with no text (OCR reads nothing): the pipeline ignores the message,
    a person knows better (the form scanned so badly that no value can be read)."""
    import io
    import random

    from PIL import Image

    image = Image.frombytes("L", (300, 400), random.Random(3).randbytes(300 * 400))
    out = io.BytesIO()
    image.save(out, "PDF", resolution=100)
    return out.getvalue()


def test_an_ignored_message_becomes_a_submission(web: tuple[Desk, TestClient],
                                                 pipeline: Pipeline) -> None:
    desk, client = web
    org = make_organisation(42)
    when = datetime(2019, 9, 7, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    original = build_original(sender=org.pec, to=[COMUNE_PEC], subject="Invio documentazione",
                              date=when, message_id=f"<doc.1@{org.pec.split('@')[1]}>",
                              attachments=[("documento.pdf", _photo_pdf(),
                                            "application/pdf")])
    raw = build_envelope(original, mittente=org.pec, destinatari=[COMUNE_PEC],
                         identificativo="opec.doc.1@pec.simulato.example", data=when)
    outcome = pipeline.ingest(raw, Source(kind="file", path="doc"))
    assert outcome.outcome == "ignored"
    msg_id = outcome.message_id
    assert login(client, "otto") == 303
    assert "Registra come domanda" not in client.get(f"/messaggi/{msg_id}").text
    assert _post(client, f"/messaggi/{msg_id}/domanda", motivo="x")[0] == 403
    client.cookies.clear()
    assert login(client, "rita") == 303
    assert "Registra come domanda" in client.get(f"/messaggi/{msg_id}").text
    status, page = _post(client, f"/messaggi/{msg_id}/domanda", motivo="  ")
    assert status == 422 and "motivo" in page
    status, page = _post(client, f"/messaggi/{msg_id}/domanda",
                         motivo="telefonata dell'ente: è l'Allegato 1 scansionato")
    assert status == 200 and "registrato come domanda" in page
    with desk.sessions() as s:
        sub = s.scalars(select(Submission).where(Submission.message_id == msg_id)).one()
        assert not sub.late and sub.status == "needs_review" and sub.attachment is not None
        assert s.get(Message, msg_id).outcome == "submission"  # type: ignore[union-attr]
        entry = s.scalars(select(AuditEntry).where(AuditEntry.message_id == msg_id)).one()
        assert (entry.actor, entry.after, entry.submission_id) == ("rita", "submission", sub.id)
    assert client.get(f"/domande/{sub.id}/documento").content.startswith(b"%PDF")
    status, page = _post(client, f"/messaggi/{msg_id}/domanda", motivo="di nuovo")
    assert status == 422


def test_a_message_without_a_possible_form_is_not_turned_into_one(
        web: tuple[Desk, TestClient]) -> None:
    desk, client = web
    with desk.sessions() as s:
        msg_id = s.scalars(select(Message.id).where(
            Message.outcome == "ignored", Message.subject.like("%Richiesta accesso%"))).one()
    assert login(client, "rita") == 303
    status, page = _post(client, f"/messaggi/{msg_id}/domanda", motivo="prova")
    assert status == 422 and "nessun allegato che possa essere il modulo" in page
    with desk.sessions() as s:
        assert s.get(Message, msg_id).outcome == "ignored"  # type: ignore[union-attr]


def test_single_sign_on_header_is_believed_only_from_the_proxy(
        web: tuple[Desk, TestClient]) -> None:
    desk, _ = web
    sso = desk_config(desk.config, trusted_header="X-Remote-User",
                      trusted_proxies=("testclient",))
    with TestClient(create_app(sso, desk.sessions)) as proxy_client:
        assert proxy_client.get("/", headers={"X-Remote-User": "lia"}).status_code == 200
    with TestClient(create_app(sso, desk.sessions)) as fresh:
        assert fresh.get("/", headers={"X-Remote-User": "nessuno"},
                         follow_redirects=False).status_code == 303
    other = desk_config(desk.config, trusted_header="X-Remote-User",
                        trusted_proxies=("10.0.0.1",))
    with TestClient(create_app(other, desk.sessions)) as direct:
        assert direct.get("/", headers={"X-Remote-User": "lia"},
                          follow_redirects=False).status_code == 303


def test_an_expired_session_is_refused(web: tuple[Desk, TestClient]) -> None:
    desk, client = web
    assert login(client, "lia") == 303
    assert client.get("/", follow_redirects=False).status_code == 200
    with desk.sessions() as s, s.begin():
        s.execute(update(DeskSession).values(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert client.get("/", follow_redirects=False).status_code == 303


def test_configuration_without_desk_section_has_safe_defaults(desk: Desk) -> None:
    section = dataclasses.replace(desk.config).desk
    assert section.host == "127.0.0.1" and section.secure_cookie and not section.trusted_header
