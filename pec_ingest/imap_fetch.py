"""``UID FETCH`` sent on imaplib's connection and its answer read without imaplib's response loop.

imaplib reads an answer one line at a time through its general machinery: every line is matched
against four regular expressions, stored under its response type, formatted for the debug log
(imapclient turns imaplib's debug output on) and looked up again. On a first poll that loop was
the largest single cost of reading the mailbox's headers. Here the command goes out through
imaplib's public ``send`` and the answer comes back through its public ``readline`` and ``read``
(so imaplib's line limit and the socket's timeout still apply), read by a loop that knows the
shape of a FETCH answer. What it returns is exactly what ``imaplib.IMAP4.uid("FETCH", ...)``
returns, for :func:`pec_ingest.fetch_response.parse_fetch`:

* ``[None]`` when no FETCH response came, else a list of records, each either the text of a
  response after ``* `` with the ``FETCH`` keyword taken out (``b"1 (UID 7 RFC822.SIZE 9)"``), or,
  where a line ends in a literal's ``{n}``, a pair ``(text up to and with {n}, the n bytes)``, the
  text after the literal being the next record;
* untagged responses of other kinds (EXISTS, EXPUNGE, FLAGS, OK...) are read past and dropped,
  as imapclient's fetch drops them; a ``BYE`` raises ``imaplib.IMAP4.abort`` as imaplib does.

The tagged completion decides: OK returns the records, NO raises
:class:`imapclient.exceptions.IMAPClientError` (imapclient's "fetch failed"), BAD or anything
the loop cannot read raises ``imaplib.IMAP4.error``; a lost connection raises
``imaplib.IMAP4.abort`` (or the socket's own ``OSError``/``TimeoutError``). After an error the
connection may be out of step: the caller reopens it (``Mailbox.reopen``).
"""

from __future__ import annotations

import imaplib
import itertools
import logging
from collections.abc import Sequence
from typing import Any

from imapclient.exceptions import IMAPClientError

log = logging.getLogger(__name__)

_TAGS = itertools.count(1)
_LINE_END = b"\r\n"
_MAX_LITERAL_DIGITS = 12  # up to a terabyte: imap.read(n) reserves n bytes at once


def uid_fetch(imap: imaplib.IMAP4, uids: Sequence[int], items: Sequence[str]) -> list[Any]:
    """``imap.uid("FETCH", uids, items)``'s data (see the module docstring); ``uids`` not empty."""
    tag = b"pf%d" % next(_TAGS)
    command = b"%s UID FETCH %s (%s)" % (tag, ",".join(str(int(u)) for u in uids).encode(),
                                         " ".join(i.upper() for i in items).encode("ascii"))
    debug = log.isEnabledFor(logging.DEBUG)
    if debug:
        log.debug("> %s", command[:200].decode("ascii", "replace"))
    imap.send(command + _LINE_END)
    records: list[Any] = []
    literal_bytes = 0
    tagged = tag + b" "
    while True:
        line = _line(imap)
        if line.startswith(tagged):
            break
        if not line.startswith(b"* "):
            raise imaplib.IMAP4.abort(f"unexpected response: {line[:200]!r}")
        literal_bytes += _untagged(imap, line, records)
    status, _, text = line[len(tagged):].partition(b" ")
    if debug:
        log.debug("< %s %s: %d records, %d bytes of literals", tag.decode(),
                  status.decode("ascii", "replace"), len(records), literal_bytes)
    status = status.upper()
    if status == b"OK":
        return records or [None]
    if status == b"NO":
        raise IMAPClientError(f"fetch failed: {text.decode('utf-8', 'replace')}")
    raise imaplib.IMAP4.error(f"UID FETCH command error: {status.decode('ascii', 'replace')} "
                              f"{text[:200].decode('utf-8', 'replace')}")


def _untagged(imap: imaplib.IMAP4, line: bytes, records: list[Any]) -> int:
    """Read one untagged response starting with ``line`` (its literals too); keep it in
    ``records`` when it is a FETCH. Returns the bytes of literals read."""
    number, _, rest = line[2:].partition(b" ")
    kind, _, text = rest.partition(b" ")
    if not number.isdigit():  # a status or data response without a number: OK, FLAGS, BYE...
        if number.upper() == b"BYE":
            raise imaplib.IMAP4.abort(f"server closed the connection: {line[:200]!r}")
        keep = None
    elif kind.upper() == b"FETCH":
        keep = records
        line = number + b" " + text if text else number
    else:  # EXISTS, EXPUNGE, RECENT...
        keep = None
    read = 0
    while line.endswith(b"}"):
        opening = line.rfind(b"{")
        size = line[opening + 1:-1]
        if opening < 0 or not size.isdigit():
            break  # a "}" that ends no literal marker: plain text
        if len(size) > _MAX_LITERAL_DIGITS:  # no message is that large: the server is broken
            raise imaplib.IMAP4.abort(f"literal of {len(size)} digits announced")
        literal = imap.read(int(size))
        if len(literal) != int(size):
            raise imaplib.IMAP4.abort(f"socket error: literal of {int(size)} bytes cut at "
                                      f"{len(literal)}")
        read += len(literal)
        if keep is not None:
            keep.append((line, literal))
        line = _line(imap)
    if keep is not None:
        keep.append(line)
    return read


def _line(imap: imaplib.IMAP4) -> bytes:
    """One response line without its CRLF, as imaplib's ``_get_line`` checks it."""
    line = imap.readline()  # imaplib refuses a line over its limit (imaplib.IMAP4.error)
    if not line:
        raise imaplib.IMAP4.abort("socket error: EOF")
    if not line.endswith(_LINE_END):
        raise imaplib.IMAP4.abort(f"socket error: unterminated line: {line[:200]!r}")
    return line[:-2]
