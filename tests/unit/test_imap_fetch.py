"""pec_ingest.imap_fetch's reading loop on scripted answers: the cases a healthy Dovecot does not
produce (the integration tests compare it with imaplib on a real one)."""

from __future__ import annotations

import imaplib
import io
import re
from typing import Any

import pytest

from pec_ingest.imap_fetch import uid_fetch


class Scripted:
    """imaplib's public send/readline/read over an answer given in advance; the tag of the
    command sent replaces ``TAG`` in the answer."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.sent = b""
        self.file: io.BytesIO | None = None

    def send(self, data: bytes) -> None:
        self.sent += data
        tag = data.split(b" ", 1)[0]
        self.file = io.BytesIO(self.answer.replace(b"TAG", tag))

    def readline(self) -> bytes:
        assert self.file is not None
        return self.file.readline()

    def read(self, size: int) -> bytes:
        assert self.file is not None
        return self.file.read(size)


def fetch(answer: bytes, uids: tuple[int, ...] = (3, 4), items: tuple[str, ...] = ("body.peek[]",),
          ) -> tuple[list[Any], bytes]:
    imap = Scripted(answer)
    records = uid_fetch(imap, uids, items)  # type: ignore[arg-type]
    return records, imap.sent


def test_command_and_records() -> None:
    records, sent = fetch(b"* 1 FETCH (UID 3 BODY[] {5}\r\nab}\r\n UID 3)\r\n"
                          b"* 2 fetch (UID 4 BODY[] {0}\r\n)\r\n"
                          b"* 1 FETCH (FLAGS (\\Seen))\r\n"
                          b"TAG OK done\r\n")
    assert re.fullmatch(rb"pf\d+ UID FETCH 3,4 \(BODY\.PEEK\[\]\)\r\n", sent)
    assert records == [(b"1 (UID 3 BODY[] {5}", b"ab}\r\n"), b" UID 3)",
                       (b"2 (UID 4 BODY[] {0}", b""), b")", b"1 (FLAGS (\\Seen))"]


def test_several_literals_in_one_response_and_a_brace_that_is_text() -> None:
    records, _ = fetch(b"* 7 FETCH (UID 3 BODY[HEADER] {2}\r\nab BODY[TEXT] {1}\r\nc)\r\n"
                       b"* OK [ALERT] not a literal {x}\r\n"
                       b"* 8 FETCH (UID 4 X {abc})\r\n"
                       b"TAG OK done\r\n")
    assert records == [(b"7 (UID 3 BODY[HEADER] {2}", b"ab"), (b" BODY[TEXT] {1}", b"c"), b")",
                       b"8 (UID 4 X {abc})"]


def test_other_untagged_responses_dropped_with_their_literals() -> None:
    records, _ = fetch(b"* 9 EXISTS\r\n* 3 EXPUNGE\r\n* OK [HIGHESTMODSEQ 4] {3}\r\nxyz\r\n"
                       b"* FLAGS (\\Seen)\r\nTAG OK done\r\n")
    assert records == [None]


@pytest.mark.parametrize(("answer", "error", "match"), [
    (b"TAG NO [SERVERBUG] broken\r\n", imaplib.IMAP4.error, "fetch failed: .SERVERBUG. broken"),
    (b"TAG BAD Error in IMAP command\r\n", imaplib.IMAP4.error, "BAD Error in IMAP command"),
    (b"* 1 FETCH (UID 3)\r\n* BYE shutting down\r\n", imaplib.IMAP4.abort, "BYE shutting"),
    (b"* 1 FETCH (UID 3)\r\n", imaplib.IMAP4.abort, "EOF"),
    (b"* 1 FETCH (UID 3)", imaplib.IMAP4.abort, "unterminated line"),
    (b"* 1 FETCH (UID 3 BODY[] {10}\r\nabc", imaplib.IMAP4.abort, "cut at 3"),
    (b"+ go ahead\r\n", imaplib.IMAP4.abort, "unexpected response"),
    (b"* 1 FETCH (UID 3 BODY[] {" + b"9" * 5000 + b"}\r\n", imaplib.IMAP4.abort, "5000 digits"),
    (b"other7 OK done\r\n", imaplib.IMAP4.abort, "unexpected response"),
])
def test_refusals(answer: bytes, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        fetch(answer)


def test_no_is_not_abort() -> None:
    """A NO answer is the command's failure (the connection is fine), not a lost connection."""
    with pytest.raises(imaplib.IMAP4.error) as caught:
        fetch(b"TAG NO no such message\r\n")
    assert not isinstance(caught.value, imaplib.IMAP4.abort)
