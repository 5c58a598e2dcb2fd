"""store.bulk.insert_rows: the rows it writes are those SQLAlchemy's own INSERT writes, on both
backends (on PostgreSQL by its own statement: arrays taken apart by the server)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Table, event, select
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import Session

from store.bulk import insert_rows
from store.cleaning import header_text
from store.mailbox_state import Skipped, record_skipped, skipped_messages
from store.model import Message
from store.model_mailbox import SkippedMessage

MESSAGES = cast(Table, Message.__table__)
ROME = ZoneInfo("Europe/Rome")
# what a driver or an array literal could take for syntax, and text from outside
AWKWARD = ["{a,b}", 'quote " and \\ backslash', "it's", "NULL", "", "  spaces  ", "àèìòù €",
           "comma, brace } and [bracket]", "😀 emoji", "tab\tand\nnewline", "%s %(x)s"]


def message_row(n: int, **overrides: Any) -> dict[str, Any]:
    digest = hashlib.sha256(f"bulk {n}".encode()).hexdigest()
    row: dict[str, Any] = {
        "sha256": digest, "size": 2**40 + n, "archive_path": f"{digest[:2]}/{digest}.eml",
        "source": "imap", "mailbox": AWKWARD[n % len(AWKWARD)], "folder": "INBOX",
        "uidvalidity": 2**33, "uid": n, "kind": "accettazione", "identificativo": None,
        "message_id_header": "x" * 450 if n == 1 else f"<m{n}@example.org>",
        "riferimento_message_id": None, "sender": AWKWARD[(n + 3) % len(AWKWARD)],
        "subject": AWKWARD[(n + 5) % len(AWKWARD)], "outcome": "receipt",
        "legal_time": None if n % 3 == 0 else datetime(2026, 3, 29, 1, 30, tzinfo=ROME)
        + timedelta(hours=n),
        "reason": None, "signature_valid": None if n % 2 else n % 4 == 0,
        "warnings": [] if n % 2 else [AWKWARD[n % len(AWKWARD)], {"k": [1, None, "v"]}],
    }
    row.update(overrides)
    return row


STORED = [c.name for c in MESSAGES.columns if c.name not in ("id", "first_seen_at")]


def stored(session: Session, shas: list[str]) -> dict[str, tuple[Any, ...]]:
    rows = session.execute(select(*(MESSAGES.c[name] for name in STORED))
                           .where(MESSAGES.c.sha256.in_(shas)))
    return {row.sha256: tuple(row) for row in rows}


@pytest.fixture
def statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = session.get_bind()

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_rows_written_equal_those_of_sqlalchemys_insert(
        session: Session, backend: str, statements: list[str]) -> None:
    ours = [message_row(n) for n in range(1, 24)]
    theirs = [message_row(n + 100, sha256=hashlib.sha256(b"%d" % n).hexdigest()) for n in
              range(1, 24)]
    for row in theirs:  # the same values but the key
        row.update({k: v for k, v in message_row(int(row["uid"]) - 100).items()
                    if k not in ("sha256", "uid")})
    before = datetime.now(UTC)
    returned = insert_rows(session, MESSAGES, ours, ("id", "sha256"))
    session.execute(MESSAGES.insert(), theirs)
    mine, reference = stored(session, [r["sha256"] for r in ours]), stored(
        session, [r["sha256"] for r in theirs])
    assert len(mine) == len(ours) == len(reference)
    uid, sha = STORED.index("uid"), STORED.index("sha256")
    for a, b in zip(sorted(mine.values(), key=lambda r: r[uid]),
                    sorted(reference.values(), key=lambda r: r[uid]), strict=True):
        assert a[:sha] + a[sha + 1:uid] + a[uid + 1:] == b[:sha] + b[sha + 1:uid] + b[uid + 1:]
    assert {sha for _id, sha in returned} == set(mine)
    ids = {row.sha256: row.id for row in session.execute(select(MESSAGES.c.id, MESSAGES.c.sha256))}
    assert {(ident, sha) for ident, sha in returned} == {(ids[s], s) for s in mine}
    # the Python-side defaults of the columns left out: a time of now, False, 0
    first_seen = session.scalars(select(Message.first_seen_at).where(
        Message.sha256.in_(list(mine)))).all()
    assert all(before - timedelta(seconds=5) <= t <= datetime.now(UTC) for t in first_seen)
    clipped = session.scalar(select(Message.message_id_header).where(Message.uid == 1))
    assert clipped == "x" * 400
    unnest = [s for s in statements if "unnest(" in s]
    assert len(unnest) == (1 if backend == "postgresql" else 0)


def test_a_refused_row_writes_none_of_the_batch(session: Session) -> None:
    insert_rows(session, MESSAGES, [message_row(1)])
    session.commit()
    batch = [message_row(n) for n in (2, 3, 1, 4)]  # 1 is there already: UNIQUE sha256
    with pytest.raises(IntegrityError), session.begin_nested():
        insert_rows(session, MESSAGES, batch, ("id",))
    assert session.scalars(select(Message.uid).order_by(Message.uid)).all() == [1]


def test_skipped_rows_keep_their_values_and_get_their_time(session: Session) -> None:
    before = datetime.now(UTC)
    items = [Skipped(uid, 10 * uid, "too_big", f"detail {AWKWARD[uid % len(AWKWARD)]}\x00",
                     None if uid % 2 else f"<s{uid}@example.org>", AWKWARD[uid % len(AWKWARD)],
                     None if uid % 3 else "a" * 400)
             for uid in range(1, 13)]
    assert record_skipped(session, "pec", "INBOX", 7, items) == 12
    assert record_skipped(session, "pec", "INBOX", 7, items[:3]) == 0  # known: not twice
    rows = {row.uid: row for row in skipped_messages(session, "pec")}
    assert sorted(rows) == list(range(1, 13))
    for item in items:
        row: SkippedMessage = rows[item.uid]
        assert (row.size, row.reason, row.message_id_header, row.subject) == (
            item.size, item.reason, item.message_id_header, header_text(item.subject))
        assert row.detail == item.detail.replace("\x00", "\ufffd")
        assert row.sender == (None if item.sender is None else item.sender[:320])
        assert before - timedelta(seconds=5) <= row.seen_at <= datetime.now(UTC)


def sqlalchemys_answer(session: Session, row: dict[str, Any]) -> type[Exception] | None:
    """What SQLAlchemy's own INSERT of ``row`` does (rolled back either way)."""
    try:
        with session.begin_nested():
            session.execute(MESSAGES.insert(), [row])
            raise _Undo
    except _Undo:
        return None
    except (StatementError, DBAPIError) as exc:
        return type(exc)


class _Undo(Exception):
    pass


@pytest.mark.parametrize("bad", [
    {"mailbox": "m" * 201},  # String(200): PostgreSQL refuses it, SQLite keeps it whole
    {"legal_time": datetime(2026, 3, 1, 12, 0)},  # no time zone: refused by the column type
    {"warnings": [object()]},  # not JSON
], ids=["too-long", "naive-time", "not-json"])
def test_a_value_refused_is_refused_as_by_sqlalchemy(session: Session, bad: dict[str, Any]
                                                     ) -> None:
    row = message_row(3, **bad)
    expected = sqlalchemys_answer(session, row)
    batch = [message_row(1), row, message_row(2)]
    if expected is None:
        with session.begin_nested():
            assert len(insert_rows(session, MESSAGES, batch, ("id",))) == 3
        return
    with pytest.raises(expected), session.begin_nested():
        insert_rows(session, MESSAGES, batch, ("id",))
    assert session.scalars(select(Message.uid)).all() == []
