"""The IMAP mailbox: the one class that talks to the server (imapclient), read-only by default.

``Mailbox.open(box)`` connects (implicit TLS, STARTTLS or, to loopback only, plain), verifies the
server certificate (``ca_file`` for a private CA), logs in and returns a connected mailbox.
Folders are opened with ``EXAMINE`` and bodies fetched with ``BODY.PEEK[]``: reading changes no
flag. Only the optional post-actions (``add_keyword``, ``move``) select a folder read-write.
FETCH commands are sent and read by :mod:`pec_ingest.imap_fetch` and their answers parsed by
:mod:`pec_ingest.fetch_response` (imapclient's values, faster).

Every failure (refused connection, timeout, certificate, login, protocol, a server that went
away) becomes a :class:`~pec_ingest.errors.MailboxError` with an Italian message that never
contains the password. The IMAP dialogue is logged by imapclient at DEBUG on the
``imapclient`` loggers, with the LOGIN arguments redacted by its ``IMAPlibLoggerAdapter``.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from imapclient.imapclient import SocketTimeout

from pec_ingest import interruption
from pec_ingest.errors import MailboxError
from pec_ingest.fetch_response import parse_fetch
from pec_ingest.imap_fetch import uid_fetch
from pec_ingest.settings_imap import MailboxSection

log = logging.getLogger(__name__)

HEADER_FIELDS = ("MESSAGE-ID", "SUBJECT", "FROM", "X-TRASPORTO", "X-RICEVUTA",
                 "X-RIFERIMENTO-MESSAGE-ID", "AUTO-SUBMITTED", "CONTENT-TYPE")
HEADER_LOOK = (f"BODY.PEEK[HEADER.FIELDS ({' '.join(HEADER_FIELDS)})]", "RFC822.SIZE",
               "INTERNALDATE")
FIRST_LOOK = (*HEADER_LOOK, "BODYSTRUCTURE")


class LoginRefused(MailboxError):
    """The server refused the credentials (not a network problem)."""


class FetchRefused(MailboxError):
    """A FETCH answer the client could not read (a line over imaplib's limit, a response
    :mod:`pec_ingest.fetch_response` refuses): caused by what the fetched messages hold, not by
    the network.
    The connection is out of step afterwards: reopen it before the next command."""


@dataclass(frozen=True)
class FolderStatus:
    uidvalidity: int
    uidnext: int | None
    exists: int


@dataclass(frozen=True)
class FirstLook:
    """What a cheap fetch tells about one message: size, a few headers, MIME structure."""

    uid: int
    size: int
    header: bytes
    structure: Any  # imapclient BodyData (a nested tuple), or None
    internal_date: datetime | None = None  # when the server received it (aware)


def tls_context(ca_file: str = "") -> ssl.SSLContext:
    """Certificate and host name verified; ``ca_file`` replaces the system CAs when given."""
    return ssl.create_default_context(cafile=ca_file or None)


class Mailbox:
    """One configured mailbox: ``Mailbox(box)`` then ``login()`` (or ``Mailbox.open(box)``);
    a context manager that logs out on exit."""

    def __init__(self, box: MailboxSection) -> None:
        self.box = box
        self._client: IMAPClient | None = None
        self.capabilities: frozenset[str] = frozenset()
        self._quick_empty = 0

    @classmethod
    def open(cls, box: MailboxSection) -> Mailbox:
        """Connected and logged in."""
        mailbox = cls(box)
        mailbox.login()
        return mailbox

    def login(self) -> None:
        """Connect, verify the server, log in; raises MailboxError (LoginRefused)."""
        box, where = self.box, self.where
        password = box.secret.value()
        client = self._client = _connect(box, where)
        interruption.opened("imap", self)
        try:
            client.login(box.username, password)
            with _guard(where, "lettura delle capacità del server"):
                self.capabilities = frozenset(c.decode("ascii", "replace").upper()
                                              for c in client.capabilities())
        except LoginError as exc:
            self.close()
            detail = _scrub(_text(exc), password)
            raise LoginRefused(f"{where}: accesso rifiutato per l'utente {box.username} "
                               f"({detail}); controllare utente e password") from None
        except MailboxError:
            self.close()
            raise
        except (imaplib.IMAP4.error, OSError) as exc:
            self.close()
            raise MailboxError(f"{where}: accesso non riuscito: "
                               f"{_scrub(_text(exc), password)}") from None

    def reopen(self, folder: str) -> FolderStatus:
        """A new connection with ``folder`` examined again (after a :class:`FetchRefused`)."""
        self.close()
        self.login()
        return self.examine(folder)

    @property
    def client(self) -> IMAPClient:
        if self._client is None:
            raise MailboxError(f"{self.where}: non connessa")
        return self._client

    @property
    def where(self) -> str:
        return f"casella {self.box.name} ({self.box.host}:{self.box.port})"

    @property
    def has_idle(self) -> bool:
        return "IDLE" in self.capabilities

    def close(self) -> None:
        interruption.closed(self)
        if self._client is not None:
            _close_quietly(self._client)
            self._client = None

    def current_socket(self) -> socket.socket | None:
        """The connection's socket, for :func:`pec_ingest.interruption.interrupt`."""
        client = self._client
        return client.socket() if client is not None else None

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def examine(self, folder: str) -> FolderStatus:
        """Open ``folder`` read-only (EXAMINE)."""
        with _guard(self.where, f"apertura della cartella {folder}"):
            return _status(self.client.select_folder(folder, readonly=True))

    def search_after(self, last_uid: int, since: date | None = None) -> list[int]:
        """UIDs above ``last_uid`` (received on or after ``since``), ascending.

        ``UID n:*`` always matches the highest UID even when it is below n: filtered out."""
        criteria: list[Any] = ["UID", f"{last_uid + 1}:*"]
        if since is not None:
            criteria += ["SINCE", since]
        with _guard(self.where, "ricerca dei messaggi nuovi"):
            found = self.client.search(criteria)
        return sorted(int(u) for u in found if int(u) > last_uid)

    def first_look(self, uids: Sequence[int],
                   needs_structure: Callable[[FirstLook], bool] | None = None,
                   ) -> dict[int, FirstLook]:
        """Size, headers, INTERNALDATE and BODYSTRUCTURE of ``uids`` (nothing marked).

        Without ``needs_structure``: everything in one round trip. With it: size, headers and
        date of all first, then BODYSTRUCTURE (the costly part to read) only of the messages
        whose look ``needs_structure`` accepts; the others keep ``structure=None``. Either
        FETCH may raise :class:`FetchRefused`."""
        if not uids:
            return {}
        if needs_structure is None:
            return {uid: _as_look(uid, data)
                    for uid, data in self._fetch_look(uids, FIRST_LOOK).items()}
        looks = {uid: _as_look(uid, data)
                 for uid, data in self._fetch_look(uids, HEADER_LOOK).items()}
        wanted = [uid for uid, look in looks.items() if needs_structure(look)]
        structures = self._fetch_look(wanted, ("BODYSTRUCTURE",)) if wanted else {}
        for uid in wanted:
            if uid in structures:
                looks[uid] = replace(looks[uid], structure=structures[uid].get(b"BODYSTRUCTURE"))
            else:  # expunged between the two FETCHes: as if absent from a single one
                del looks[uid]
        return looks

    def _fetch_look(self, uids: Sequence[int],
                    items: Sequence[str]) -> dict[int, dict[bytes, Any]]:
        with _guard(self.where, "lettura delle intestazioni"):
            try:
                answer = _fetch(self.client, uids, items)
            except imaplib.IMAP4.abort:
                raise  # the connection went away: a network problem, not the messages
            except imaplib.IMAP4.error as exc:  # also imapclient's ProtocolError
                raise FetchRefused(f"{self.where}: risposta illeggibile alla lettura delle "
                                   f"intestazioni: {_text(exc)[:200]}") from exc
        return {int(uid): data for uid, data in answer.items()}

    def fetch_raw(self, uids: Sequence[int]) -> dict[int, bytes]:
        """The exact bytes of ``uids`` (BODY.PEEK[]); messages gone meanwhile are absent."""
        if not uids:
            return {}
        with _guard(self.where, "scaricamento dei messaggi"):
            answer = _fetch(self.client, uids, ("BODY.PEEK[]",))
        return {int(uid): bytes(data[b"BODY[]"]) for uid, data in answer.items()
                if data.get(b"BODY[]") is not None}

    def flags(self, uids: Sequence[int]) -> dict[int, tuple[bytes, ...]]:
        with _guard(self.where, "lettura dei flag"):
            return {int(u): tuple(f) for u, f in self.client.get_flags(list(uids)).items()}

    def select_writable(self, folder: str) -> FolderStatus:
        """Open ``folder`` read-write: only for the configured post-actions."""
        with _guard(self.where, f"apertura in scrittura della cartella {folder}"):
            return _status(self.client.select_folder(folder, readonly=False))

    def add_keyword(self, uids: Sequence[int], keyword: str) -> None:
        with _guard(self.where, f"impostazione della parola chiave {keyword}"):
            self.client.add_flags(list(uids), [keyword], silent=True)

    def move(self, uids: Sequence[int], folder: str, *, expunge_after_copy: bool) -> bool:
        """MOVE when offered; else COPY + \\Deleted + UID EXPUNGE, only if allowed.
        Returns whether the messages were moved."""
        with _guard(self.where, f"spostamento nella cartella {folder}"):
            if "MOVE" in self.capabilities:
                self.client.move(list(uids), folder)
                return True
            if not expunge_after_copy or "UIDPLUS" not in self.capabilities:
                return False
            self.client.copy(list(uids), folder)
            self.client.add_flags(list(uids), [b"\\Deleted"], silent=True)
            self.client.uid_expunge(list(uids))
            return True

    def noop(self) -> None:
        with _guard(self.where, "NOOP"):
            self.client.noop()

    def idle_start(self) -> None:
        with _guard(self.where, "IDLE"):
            self.client.idle()

    def idle_wait(self, timeout: float) -> list[Any]:
        """Untagged responses received during IDLE within ``timeout`` seconds.

        imapclient's ``idle_check`` swallows an end of file and returns nothing, at once:
        several quick empty returns in a row mean the server has gone."""
        started = time.monotonic()
        with _guard(self.where, "attesa IDLE"):
            responses = list(self.client.idle_check(timeout=timeout))
        if responses or time.monotonic() - started >= timeout / 2:
            self._quick_empty = 0
            return responses
        self._quick_empty += 1
        if self._quick_empty >= 3:
            raise MailboxError(f"{self.where}: connessione chiusa dal server durante IDLE")
        return responses

    def idle_stop(self) -> None:
        with _guard(self.where, "fine IDLE"):
            self.client.idle_done()


def _fetch(client: IMAPClient, uids: Sequence[int],
           items: Sequence[str]) -> dict[int, dict[bytes, Any]]:
    """``client.fetch(uids, items)``, sent and read by :mod:`pec_ingest.imap_fetch` and the
    answer parsed by :func:`~pec_ingest.fetch_response.parse_fetch`.

    imapclient's own ``fetch`` sends ``UID FETCH`` on the imaplib connection it wraps, lets
    imaplib's general response loop collect the untagged FETCH data and parses it with its
    character-by-character lexer (together, most of a poll's CPU time). Here the same command
    goes out on that connection (``client._imap``: the only private attribute this module uses)
    and comes back as the same data, read and parsed faster. As with imapclient: a NO answer
    raises ``IMAPClientError``, a BAD one ``imaplib.IMAP4.error``, an unreadable one
    imapclient's ``ProtocolError`` (a subclass), a lost connection ``imaplib.IMAP4.abort``;
    unsolicited FETCH responses about other messages are dropped."""
    if not uids:
        return {}
    data = uid_fetch(client._imap, uids, items)  # see the docstring
    answer = parse_fetch(data, client.normalise_times, uid_is_key=True)
    return {int(uid): answer[int(uid)] for uid in uids if int(uid) in answer}


def _connect(box: MailboxSection, where: str) -> IMAPClient:
    context = tls_context(box.ca_file) if box.security != "plain" else None
    timeout = SocketTimeout(box.connect_timeout_seconds, box.read_timeout_seconds)
    with _guard(where, "connessione"):
        client = IMAPClient(box.host, box.port, ssl=box.security == "tls",
                            ssl_context=context, timeout=timeout)
    if box.security == "starttls":
        try:
            with _guard(where, "STARTTLS"):
                client.starttls(context)
        except MailboxError:
            _close_quietly(client)
            raise
    return client


@contextlib.contextmanager
def _guard(where: str, what: str) -> Iterator[None]:
    """Translate imapclient, socket and TLS failures into MailboxError."""
    try:
        yield
    except MailboxError:
        raise
    except ssl.SSLCertVerificationError as exc:
        raise MailboxError(f"{where}: certificato del server non valido o non attendibile "
                           f"({exc.verify_message}); indicare ca_file per una CA privata") from exc
    except TimeoutError as exc:
        raise MailboxError(f"{where}: {what}: tempo scaduto") from exc
    except (imaplib.IMAP4.error, OSError) as exc:
        raise MailboxError(f"{where}: {what} non riuscita: {_text(exc)}") from exc


def _as_look(uid: int, data: dict[bytes, Any]) -> FirstLook:
    header = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER")), b"")
    return FirstLook(uid, int(data.get(b"RFC822.SIZE", 0)), header or b"",
                     data.get(b"BODYSTRUCTURE"), _aware(data.get(b"INTERNALDATE")))


def _aware(value: Any) -> datetime | None:
    """imapclient gives INTERNALDATE as a naive local time (``normalise_times``)."""
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo is None else value


def _status(answer: dict[bytes, Any]) -> FolderStatus:
    uidnext = answer.get(b"UIDNEXT")
    return FolderStatus(int(answer[b"UIDVALIDITY"]), int(uidnext) if uidnext else None,
                        int(answer.get(b"EXISTS", 0)))


def _text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    value = exc.args[0] if exc.args else exc
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value or type(exc).__name__).strip()


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def _close_quietly(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:
        with contextlib.suppress(Exception):
            client.shutdown()
