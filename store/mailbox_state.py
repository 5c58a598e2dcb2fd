"""Where each mailbox folder was left, what was skipped, and who may poll a mailbox now.

Query functions take a Session, flush and never commit (the caller owns the transaction).
``mailbox_lock`` keeps two daemons from polling the same mailbox at once: on PostgreSQL a
session-level advisory lock (``pg_try_advisory_lock``) held on a dedicated connection for the
whole poll; on SQLite (one host) an exclusive ``flock`` on a file beside the database.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from sqlalchemy import Engine, Table, select, text, update
from sqlalchemy.orm import Session

from store.bulk import insert_rows
from store.cleaning import header_text, without_nul
from store.model import Message
from store.model_mailbox import MailboxReset, MailboxState, SkippedMessage


@dataclass(frozen=True)
class Skipped:
    """A message not downloaded: its IMAP coordinates, what its headers said, and why."""

    uid: int
    size: int
    reason: str
    detail: str
    message_id_header: str | None = None
    subject: str | None = None
    sender: str | None = None


def get_state(session: Session, mailbox: str, folder: str) -> MailboxState | None:
    return session.get(MailboxState, (mailbox, folder))


def save_state(session: Session, mailbox: str, folder: str, uidvalidity: int,
               last_uid: int) -> None:
    """Record how far ``folder`` was read: one UPDATE (what the session holds of the row is
    updated with it), or an INSERT for a folder never read before."""
    done = session.execute(
        update(MailboxState)
        .where(MailboxState.mailbox == mailbox, MailboxState.folder == folder)
        .values(uidvalidity=uidvalidity, last_uid=last_uid))
    if done.rowcount == 0:  # type: ignore[attr-defined]
        session.add(MailboxState(mailbox=mailbox, folder=folder, uidvalidity=uidvalidity,
                                 last_uid=last_uid))
        session.flush()


def record_reset(session: Session, mailbox: str, folder: str, old: MailboxState,
                 new_uidvalidity: int) -> MailboxReset:
    reset = MailboxReset(mailbox=mailbox, folder=folder, old_uidvalidity=old.uidvalidity,
                         new_uidvalidity=new_uidvalidity, old_last_uid=old.last_uid)
    session.add(reset)
    session.flush()
    return reset


def record_skipped(session: Session, mailbox: str, folder: str, uidvalidity: int,
                   skipped: Iterable[Skipped]) -> int:
    """Add the skipped messages not already recorded at these coordinates; returns how many."""
    items = {s.uid: s for s in skipped}
    if not items:
        return 0
    known = set(session.scalars(select(SkippedMessage.uid).where(
        SkippedMessage.mailbox == mailbox, SkippedMessage.folder == folder,
        SkippedMessage.uidvalidity == uidvalidity, SkippedMessage.uid.in_(list(items)))))
    # plain rows, not mapped objects: nothing reads them back in this session (and the
    # session's flush has nothing of them to do); NUL characters taken out as a flush does
    rows = [without_nul({
        "mailbox": mailbox, "folder": folder, "uidvalidity": uidvalidity, "uid": s.uid,
        "message_id_header": _cut(header_text(s.message_id_header), 400),
        "subject": header_text(s.subject), "sender": _cut(header_text(s.sender), 320),
        "size": s.size, "reason": s.reason, "detail": s.detail})
        for uid, s in items.items() if uid not in known]
    insert_rows(session, _SKIPPED, rows)
    return len(rows)


_SKIPPED = cast(Table, SkippedMessage.__table__)


def skipped_messages(session: Session, mailbox: str | None = None) -> list[SkippedMessage]:
    query = select(SkippedMessage).order_by(SkippedMessage.id)
    if mailbox is not None:
        query = query.where(SkippedMessage.mailbox == mailbox)
    return list(session.scalars(query))


def known_message_ids(session: Session, message_ids: Iterable[str]) -> set[str]:
    """Of these Message-ID header values, those of messages already recorded for good
    (any outcome but ``failed``, which the pipeline retries)."""
    wanted = {m for m in message_ids if m}
    if not wanted:
        return set()
    bare = {bare_message_id(m) for m in wanted}
    variants = wanted | bare | {f"<{m}>" for m in bare}
    found = set(session.scalars(select(Message.message_id_header).where(
        Message.message_id_header.in_(sorted(variants)), Message.outcome != "failed")))
    found_bare = {bare_message_id(f) for f in found if f}
    return {m for m in wanted if bare_message_id(m) in found_bare}


def bare_message_id(message_id: str) -> str:
    """A Message-ID without its angle brackets and spaces (how two spellings are compared)."""
    return message_id.strip().removeprefix("<").removesuffix(">").strip()


def _cut(value: str | None, length: int) -> str | None:
    return None if value is None else value[:length]


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (same on every host and Python run)."""
    digest = hashlib.sha256(f"pec-ingest:mailbox:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def mailbox_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Try to take the poll lock of mailbox ``name``; yields whether it was taken."""
    if engine.dialect.name == "postgresql":
        with _pg_lock(engine, lock_key(name)) as taken:
            yield taken
    elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with _file_lock(Path(f"{engine.url.database}.lock-{lock_key(name) & 0xFFFFFFFF:08x}")) \
                as taken:
            yield taken
    else:
        yield True


@contextlib.contextmanager
def _pg_lock(engine: Engine, key: int) -> Iterator[bool]:
    connection = engine.connect()
    taken = False
    try:
        taken = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
                     .scalar())
        connection.commit()
        yield taken
    finally:
        try:
            if taken:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                connection.commit()
        except Exception:
            connection.invalidate()  # a lost connection releases the lock with it
        finally:
            connection.close()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[bool]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
