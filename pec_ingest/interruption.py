"""Open network connections that a stop request may cut.

A read blocked on a server that accepted the connection and then went silent lasts until its
socket timeout (``read_timeout_seconds``, 120 s by default): longer than systemd waits after
SIGTERM (``TimeoutStopSec=120``). So every IMAP and SMTP connection registers here while it is
open, and the daemon's stop path calls :func:`interrupt`: it shuts the sockets down, and a
thread blocked on one of them gets an error at once (a :class:`MailboxError` or a
``TransportError``), which the usual paths handle (the batch in hand is read again next time; an
acknowledgement whose DATA was cut is "uncertain" and settled by its receipt).

Only ``shutdown`` is called on a socket, never ``close``: the owner still closes it, from its
own thread.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Protocol


class HasSocket(Protocol):
    def current_socket(self) -> socket.socket | None: ...


_OPEN: dict[int, tuple[str, HasSocket]] = {}


def opened(kind: str, connection: HasSocket) -> None:
    """``connection`` (``kind``: imap or smtp) may be cut from now on."""
    _OPEN[id(connection)] = (kind, connection)


def closed(connection: HasSocket) -> None:
    _OPEN.pop(id(connection), None)


def interrupt(kind: str | None = None) -> int:
    """Shut down the sockets of the open connections (of ``kind``); returns how many."""
    count = 0
    for which, connection in list(_OPEN.values()):
        if kind is not None and which != kind:
            continue
        sock = connection.current_socket()
        if sock is None:
            continue
        with contextlib.suppress(OSError):  # already closed by its owner meanwhile
            sock.shutdown(socket.SHUT_RDWR)
            count += 1
    return count
