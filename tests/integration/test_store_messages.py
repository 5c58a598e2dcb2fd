"""Messages, attachments, receipts and time, through the store's functions, on both backends."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from store.errors import DuplicateMessage, InvalidRecord
from store.messages import (
    add_attachment,
    add_message,
    add_messages,
    find_message,
    find_message_at,
    message_values,
    record_failure,
    set_outcome,
)
from store.model import Message, Receipt
from store.receipts import add_acknowledgement, add_receipt, normalise_message_id
from store.submissions import add_submission, get_or_create_organisation

ROME = ZoneInfo("Europe/Rome")


def sha(n: int) -> str:
    return hashlib.sha256(f"message {n}".encode()).hexdigest()


def new_message(session: Session, n: int, **overrides: object) -> Message:
    values: dict[str, object] = {
        "sha256": sha(n), "size": 100 + n, "archive_path": f"{sha(n)[:2]}/{sha(n)}.eml",
        "source": "file", "kind": "posta-certificata", "outcome": "submission"}
    values.update(overrides)
    return add_message(session, **values)  # type: ignore[arg-type]


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Message)) or 0


def test_add_and_find_a_message(session: Session) -> None:
    message = new_message(session, 1, identificativo="opec.1@pec.it", sender="ente@pec.it")
    assert message.id is not None
    assert find_message(session, sha256=sha(1)) is message
    assert find_message(session, identificativo="opec.1@pec.it") is message
    assert find_message(session, sha256=sha(2), identificativo="opec.1@pec.it") is message
    assert find_message(session, sha256=sha(2)) is None
    with pytest.raises(ValueError, match="sha256"):
        find_message(session)


def test_same_bytes_are_a_duplicate_and_the_session_survives(session: Session) -> None:
    first = new_message(session, 1)
    with pytest.raises(DuplicateMessage) as caught:
        new_message(session, 1, archive_path="elsewhere")
    assert caught.value.existing_id == first.id and caught.value.field == "sha256"
    new_message(session, 2)  # the transaction is still usable...
    session.commit()
    assert count(session) == 2  # ...and the first message was not lost with the savepoint


def test_same_identificativo_is_a_duplicate(session: Session) -> None:
    first = new_message(session, 1, identificativo="opec.1@pec.it")
    with pytest.raises(DuplicateMessage) as caught:
        new_message(session, 2, identificativo="opec.1@pec.it")
    assert (caught.value.existing_id, caught.value.field) == (first.id, "identificativo")
    session.commit()
    assert count(session) == 1


def test_same_imap_uid_is_a_duplicate(session: Session) -> None:
    where = {"mailbox": "protocollo", "folder": "INBOX", "uidvalidity": 5, "uid": 42}
    first = new_message(session, 1, source="imap", **where)
    assert find_message_at(session, mailbox="protocollo", folder="INBOX", uidvalidity=5,
                           uid=42) is first
    with pytest.raises(DuplicateMessage) as caught:
        new_message(session, 2, source="imap", **where)
    assert caught.value.field == "uid"


def test_a_duplicate_committed_by_another_session_is_seen(
        sessions: sessionmaker[Session]) -> None:
    with sessions() as one:
        new_message(one, 1)
        one.commit()
    with sessions() as two, pytest.raises(DuplicateMessage):
        new_message(two, 1)


def test_unknown_vocabulary_is_refused_before_the_database(session: Session) -> None:
    with pytest.raises(InvalidRecord, match="kind"):
        new_message(session, 1, kind="posta-normale")
    with pytest.raises(InvalidRecord, match="outcome"):
        new_message(session, 1, outcome="perso")


@pytest.mark.parametrize("zone", [ROME, UTC, ZoneInfo("America/New_York")])
def test_aware_datetimes_round_trip_as_the_same_instant(
        sessions: sessionmaker[Session], zone: ZoneInfo) -> None:
    sent = datetime(2019, 9, 9, 23, 59, 30, 123456, tzinfo=ROME).astimezone(zone)
    with sessions() as session:
        new_message(session, 1, legal_time=sent)
        session.commit()
    with sessions() as session:
        loaded = session.scalars(select(Message)).one()
        assert loaded.legal_time == sent
        assert loaded.legal_time is not None and loaded.legal_time.utcoffset() == timedelta(0)
        assert loaded.legal_time.astimezone(ROME).date().isoformat() == "2019-09-09"
        assert loaded.first_seen_at.utcoffset() == timedelta(0)
        # comparisons in SQL use the instant too
        deadline = datetime(2019, 9, 9, 22, 0, tzinfo=UTC)
        assert session.scalar(select(func.count()).select_from(Message).where(
            Message.legal_time < deadline)) == 1


def test_naive_datetimes_are_refused(session: Session) -> None:
    with pytest.raises(StatementError, match="fuso orario"):
        new_message(session, 1, legal_time=datetime(2019, 9, 9, 12, 0))


def test_server_default_timestamps_are_aware(session: Session) -> None:
    session.execute(text(
        "INSERT INTO messages (sha256, size, archive_path, source, kind, outcome) "
        "VALUES (:s, 1, 'x', 'file', 'not-pec', 'ignored')"), {"s": sha(9)})
    loaded = session.scalars(select(Message)).one()
    assert loaded.first_seen_at.tzinfo is not None
    assert abs(loaded.first_seen_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert loaded.warnings == [] and loaded.failure_count == 0 and not loaded.signature_present


def test_outcome_and_failures_until_quarantine(session: Session) -> None:
    message = new_message(session, 1, outcome="failed")
    set_outcome(session, message, "ignored", "non pertinente: nessun allegato")
    assert (message.outcome, message.reason) == ("ignored", "non pertinente: nessun allegato")
    record_failure(session, message, "errore del parser", quarantine_after=2)
    assert (message.failure_count, message.outcome) == (1, "failed")
    record_failure(session, message, "errore del parser", quarantine_after=2)
    assert (message.failure_count, message.outcome) == (2, "quarantined")
    session.commit()
    session.expire_all()
    assert session.get(Message, message.id).outcome == "quarantined"  # type: ignore[union-attr]


def test_attachments_keep_signers_as_json(session: Session) -> None:
    message = new_message(session, 1)
    signers = [{"name": "Maria Rossi", "codice_fiscale": "RSSMRA70A41F205Z"}]
    add_attachment(session, message, path="postacert.eml/allegato1.pdf.p7m", size=10,
                   sha256=sha(100), filename="allegato1.pdf.p7m", signed=True,
                   signature_valid=True, signers=signers, role="form", format="pdf")
    add_attachment(session, message, path="postacert.eml/ci.jpg", size=5, sha256=sha(101),
                   role="id_document")
    session.commit()
    session.expire_all()
    loaded = session.get(Message, message.id)
    assert loaded is not None
    assert [a.role for a in loaded.attachments] == ["form", "id_document"]
    assert loaded.attachments[0].signers == signers
    assert loaded.attachments[1].parse_status == "not_attempted"
    with pytest.raises(InvalidRecord):
        add_attachment(session, message, path="x", size=1, sha256=sha(102), role="firma")


def test_message_id_normalisation() -> None:
    assert normalise_message_id(" abc@x ") == "<abc@x>"
    assert normalise_message_id("<abc@x>") == "<abc@x>"
    assert normalise_message_id(" <> ") is None
    assert normalise_message_id(None) is None


def test_receipts_link_to_their_acknowledgement(session: Session) -> None:
    original = new_message(session, 1, sender="ente@pec.it")
    organisation = get_or_create_organisation(session, "97000000001", "ente@pec.it", "Ente")
    submission = add_submission(
        session, organisation, original, procedure="PDZ2019", fields={}, tavoli=[],
        received_at=datetime(2019, 9, 1, tzinfo=UTC), late=False, out_of_procedure=False,
        status="incomplete", warnings=[], parsed={})
    ack = add_acknowledgement(session, submission, message_id="ack-1@comune.it",
                              to_address=" ente@pec.it ")
    assert (ack.message_id, ack.to_address, ack.status) == ("<ack-1@comune.it>", "ente@pec.it",
                                                          "pending")
    ours = add_receipt(session, new_message(session, 2, kind="accettazione", outcome="receipt"),
                       kind="accettazione", referenced_message_id="ack-1@comune.it",
                       legal_time=datetime(2019, 9, 1, 10, tzinfo=ROME))
    stray = add_receipt(session, new_message(session, 3, kind="avvenuta-consegna",
                                             outcome="receipt"),
                        kind="avvenuta-consegna", referenced_message_id="<other@x>")
    session.commit()
    assert ours.acknowledgement_id == ack.id
    assert stray.acknowledgement_id is None and stray.referenced_message_id == "<other@x>"
    assert [r.kind for r in ack.receipts] == ["accettazione"]
    with pytest.raises(InvalidRecord):
        add_receipt(session, original, kind="posta-certificata", referenced_message_id=None)
    assert session.scalar(select(func.count()).select_from(Receipt)) == 2


def test_bulk_messages_take_the_table_defaults_and_refuse_rows_of_other_columns(
        session: Session) -> None:
    rows = [message_values(sha256=sha(n), size=n, archive_path=f"x/{n}.eml", source="imap",
                           kind="not-pec", outcome="ignored", reason="r\x00",
                           warnings=["w\x00"]) for n in (1, 2)]
    ids = add_messages(session, rows)
    stored = [session.get(Message, i) for i in ids]
    assert [m.sha256 for m in stored if m] == [sha(1), sha(2)]
    for m in stored:
        assert m is not None and m.first_seen_at.tzinfo is not None
        assert m.failure_count == 0 and m.signature_present is False
        assert m.reason == "r\ufffd" and m.warnings == ["w\ufffd"]
    odd = [message_values(sha256=sha(n), size=n, archive_path=f"x/{n}.eml", source="imap",
                          kind="not-pec", outcome="ignored", reason="r") for n in (3, 4)]
    del odd[1]["reason"]
    with pytest.raises(ValueError, match="colonne diverse"):
        add_messages(session, odd)
    assert session.scalar(select(func.count()).select_from(Message)) == 2


def _row(obj: object, skip: set[str]) -> dict[str, object]:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns  # type: ignore[attr-defined]
            if c.key not in skip}


def test_plain_inserts_write_the_rows_the_mapped_objects_write(session: Session) -> None:
    """insert_message and insert_attachments (a poll's path for a version's message and
    files) write the same columns as add_message and add_attachment: defaults, cleaned
    header values, NUL characters taken out, signers as JSON; files' ids in their order."""
    from store.messages import attachment_values, insert_attachments, insert_message

    header = {"kind": "posta-certificata", "outcome": "submission", "source": "imap",
              "sender": "Ente\r\n@pec.it", "subject": "Adesione\x00 tavoli",
              "identificativo": None, "legal_time": datetime(2019, 9, 2, 8, tzinfo=UTC),
              "warnings": ["nota\x00"], "signature_present": True, "signature_valid": True,
              "mailbox": "pec", "folder": "INBOX", "uidvalidity": 7}
    files = [dict(path="postacert.eml/allegato1.pdf.p7m", size=10, sha256=sha(200),
                  filename="allegato\x001.pdf.p7m", content_type="application/pkcs7-mime",
                  format="pdf", signed=True, signature_valid=True,
                  signers=[{"name": "Maria\x00 Rossi", "codice_fiscale": None}], role="form",
                  parse_status="parsed"),
             dict(path="postacert.eml/ci.jpg", size=5, sha256=sha(201), role="id_document",
                  parse_status="failed", parse_error="illeggibile")]

    mapped = add_message(session, sha256=sha(1), size=1, archive_path="a", uid=1,
                         **header)  # type: ignore[arg-type]
    for f in files:
        add_attachment(session, mapped, **f)  # type: ignore[arg-type]
    ident = insert_message(session, message_values(sha256=sha(2), size=1, archive_path="a",
                                                   uid=2, failure_count=0, **header),
                           alone=True)
    file_ids = insert_attachments(session, ident, [attachment_values(**f)  # type: ignore[arg-type]
                                                   for f in files])
    session.commit()
    session.expire_all()
    plain = session.get(Message, ident)
    assert plain is not None and mapped is not None
    skip = {"id", "sha256", "uid", "first_seen_at", "message_id"}
    assert _row(plain, skip) == _row(mapped, skip)
    assert plain.subject == "Adesione  tavoli" and plain.sender == "Ente @pec.it"
    assert plain.first_seen_at is not None
    assert [a.id for a in plain.attachments] == file_ids
    assert [_row(a, skip) for a in plain.attachments] == [_row(a, skip)
                                                          for a in mapped.attachments]
    assert plain.attachments[0].signers == [{"name": "Maria\ufffd Rossi", "codice_fiscale": None}]


def test_a_plain_insert_that_collides_is_a_duplicate_and_the_session_survives(
        session: Session) -> None:
    from store.messages import insert_message

    first = new_message(session, 1, identificativo="opec.9@pec.it")

    def values(n: int, **more: object) -> dict[str, object]:
        return message_values(sha256=sha(n), size=1, archive_path="a", source="file",
                              kind="posta-certificata", outcome="submission",
                              failure_count=0, **more)  # type: ignore[arg-type]

    with pytest.raises(DuplicateMessage) as caught:
        insert_message(session, values(1), alone=False)
    assert (caught.value.existing_id, caught.value.field) == (first.id, "sha256")
    with pytest.raises(DuplicateMessage) as caught:
        insert_message(session, values(2, identificativo="opec.9@pec.it"), alone=False)
    assert caught.value.field == "identificativo"
    assert insert_message(session, values(3), alone=False) > first.id  # still usable
    with pytest.raises(IntegrityError), session.begin_nested():  # alone: the caller's savepoint
        insert_message(session, values(1), alone=True)
    assert insert_message(session, values(4), alone=True) > first.id  # still usable
    session.commit()
    assert count(session) == 3
