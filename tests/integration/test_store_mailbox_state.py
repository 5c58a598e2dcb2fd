"""store.mailbox_state.save_state: how far a folder was read, by one statement once known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from store.mailbox_state import get_state, save_state
from store.model_mailbox import MailboxState


def test_the_state_is_inserted_once_then_updated_by_one_statement(session: Session) -> None:
    save_state(session, "pec", "INBOX", 7, 10)
    save_state(session, "pec", "Archivio", 7, 3)  # another folder: a row of its own
    session.commit()
    held = get_state(session, "pec", "INBOX")
    assert held is not None and (held.uidvalidity, held.last_uid) == (7, 10)
    first_update = held.updated_at
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        save_state(session, "pec", "INBOX", 8, 25)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert [s.split()[0] for s in seen if not s.startswith(("BEGIN", "SAVEPOINT"))] == [
        "UPDATE"]
    assert (held.uidvalidity, held.last_uid) == (8, 25)  # what the session held, updated
    session.commit()
    session.expire_all()
    rows = {(r.folder, r.uidvalidity, r.last_uid) for r in session.scalars(select(MailboxState))}
    assert rows == {("INBOX", 8, 25), ("Archivio", 7, 3)}
    again = get_state(session, "pec", "INBOX")
    assert again is not None
    assert first_update < again.updated_at <= datetime.now(UTC) + timedelta(seconds=1)
