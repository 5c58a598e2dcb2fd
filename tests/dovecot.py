"""A private Dovecot IMAP server for tests and benchmarks, on 127.0.0.1, started as root.

``DovecotServer.start(directory)`` writes its own configuration (``dovecot -c FILE``) with
``base_dir``/``state_dir``, Maildirs and a ``passwd-file`` inside ``directory``, listens on two
free ports: plain IMAP with STARTTLS, and implicit TLS, both with a server certificate from a
throw-away ``trustme`` CA (``ca_file`` is the CA to trust). Users are added at any time
(``add_user``: one passwd-file per user, so no cached file hides a new one). ``kill()`` ends
the whole process group at once (a crash); ``start()`` brings it back on the same ports and
mail. Failed logins are not slowed down by anvil's auth penalty (disabled).

Mail is owned by ``nobody`` (Dovecot refuses uid 0 and uids below ``first_valid_uid``); the
auth process runs as ``dovecot`` and must traverse to the passwd file, hence the o+x on the
parent directories (see ``test-servers.md``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

from pec_ingest.samples.pec import build_envelope, build_original, build_receipt
from pec_ingest.settings_imap import MailboxSection

CONFIG = """\
base_dir = {d}/run
state_dir = {d}/state
instance_name = pec-test-{port}
listen = 127.0.0.1
protocols = imap
log_path = {d}/dovecot.log
ssl = yes
ssl_cert = <{d}/server.pem
ssl_key = <{d}/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
first_valid_uid = 500
mail_location = maildir:{d}/mail/%u
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users/%u
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


MAIL_UID, MAIL_GID = 65534, 65534  # nobody/nogroup: Dovecot refuses mail owned by uid < 500


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot",) if os.access(p, os.X_OK)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"dovecot: port {port} not listening after {timeout}s")


@dataclass
class DovecotServer:
    """A running private Dovecot; see the module docstring."""

    directory: Path
    port: int = 0
    tls_port: int = 0
    users: dict[str, str] = field(default_factory=dict)

    @property
    def config_file(self) -> Path:
        return self.directory / "dovecot.conf"

    @property
    def ca_file(self) -> str:
        return str(self.directory / "ca.pem")

    @classmethod
    def create(cls, directory: Path) -> DovecotServer:
        """Write the configuration and the TLS material (not yet started)."""
        import trustme

        directory.mkdir(parents=True, exist_ok=True)
        server = cls(directory, free_port(), free_port())
        for sub in ("run", "state", "mail", "home", "users"):
            (directory / sub).mkdir(exist_ok=True)
        for path in (directory, *directory.parents):  # let the auth process traverse
            mode = path.stat().st_mode
            if mode & 0o001 == 0:
                path.chmod(mode | 0o011)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        cert.private_key_pem.write_to_path(str(directory / "server.key"))
        cert.cert_chain_pems[0].write_to_path(str(directory / "server.pem"))
        ca.cert_pem.write_to_path(server.ca_file)
        for sub in ("mail", "home"):
            os.chown(directory / sub, MAIL_UID, MAIL_GID)
        server.config_file.write_text(CONFIG.format(
            d=directory, port=server.port, tls_port=server.tls_port, uid=MAIL_UID, gid=MAIL_GID))
        return server

    def start(self) -> None:
        binary = dovecot_binary()
        if binary is None:
            raise RuntimeError("dovecot not installed")
        with (self.directory / "start.log").open("ab") as log:
            subprocess.run([binary, "-c", str(self.config_file)], check=True,
                           stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=30)
        wait_for_port(self.port)
        wait_for_port(self.tls_port)

    def master_pid(self) -> int | None:
        try:
            return int((self.directory / "run" / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL the master and its children (its own process group): a crash."""
        pid = self.master_pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        self._wait_gone(pid)
        (self.directory / "run" / "master.pid").unlink(missing_ok=True)

    def stop(self) -> None:
        """Stop cleanly (``dovecot stop``), falling back to kill."""
        pid = self.master_pid()
        if pid is None:
            return
        binary = dovecot_binary() or "dovecot"
        subprocess.run([binary, "-c", str(self.config_file), "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
                       check=False)
        if not self._wait_gone(pid, 10):
            self.kill()

    @staticmethod
    def _wait_gone(pid: int, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.02)
        return False

    def add_user(self, name: str, password: str = "segreto-di-prova") -> str:
        """Add a mail user (own Maildir); returns its password."""
        self.users[name] = password
        tmp = self.directory / "users" / f".{name}.tmp"
        tmp.write_text(f"{name}:{{PLAIN}}{password}::::::\n")
        tmp.chmod(0o644)
        tmp.replace(self.directory / "users" / name)  # one file per user: no stale cache
        return password

    def section(self, user: str, **settings: Any) -> MailboxSection:
        """A ``[[mailboxes]]`` entry for ``user`` (plain IMAP unless ``security`` says else;
        the password in a file beside the server's)."""
        secret = self.directory / f"password-{user}"
        secret.write_text(self.users[user])
        defaults: dict[str, Any] = {
            "name": user, "host": "127.0.0.1", "port": self.port, "security": "plain",
            "username": user, "password_file": str(secret), "connect_timeout_seconds": 5.0,
            "read_timeout_seconds": 10.0,
            # groups written by batch_size alone (what most tests count), not cut by a slow
            # moment of a loaded machine; the time bound has tests of its own
            "batch_wait_ms": 600_000}
        return MailboxSection(**{**defaults, **settings})

    @contextlib.contextmanager
    def client(self, user: str) -> Iterator[IMAPClient]:
        """A logged-in plain IMAP client as ``user``, for filling and inspecting mailboxes."""
        client = IMAPClient("127.0.0.1", self.port, ssl=False, timeout=30)
        try:
            client.login(user, self.users[user])
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(self, user: str, messages: Iterable[bytes], folder: str = "INBOX",
               when: datetime | None = None) -> list[int]:
        """APPEND ``messages`` (no flags: unseen); returns their UIDs."""
        uids = []
        with self.client(user) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in messages:
                answer = client.append(folder, raw, flags=(), msg_time=when)
                uids.append(_appended_uid(answer))
        return uids

    def flags(self, user: str, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """FLAGS of every message in ``folder`` (read with EXAMINE: changes nothing)."""
        with self.client(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return {}
            return {uid: tuple(f for f in data[b"FLAGS"] if f != b"\\Recent")
                    for uid, data in client.fetch(uids, ["FLAGS"]).items()}


def _appended_uid(answer: bytes) -> int:
    """The UID from an ``APPENDUID validity uid`` response code (UIDPLUS)."""
    text = answer.decode("ascii", "replace")
    if "APPENDUID" in text:
        return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])
    return 0


# Cheap PEC messages for mailbox tests (byte-exact simulator output, no form to parse).

COMUNE = "comune.test@pec.example.it"
WHEN = datetime(2019, 9, 5, 10, 0, tzinfo=timezone(timedelta(hours=2)))


def pec_envelope(n: int, *, attachment: bytes | None = b"Si chiede copia degli atti.\n",
                 tag: str = "t") -> bytes:
    """A transport envelope numbered ``n``; with a small text attachment unless None."""
    sender = f"ente{n}@pec.altroente.example"
    files = [] if attachment is None else [(f"richiesta-{n}.txt", attachment, "text/plain")]
    original = build_original(sender=sender, to=[COMUNE], subject=f"Pratica {tag} {n}",
                              date=WHEN, message_id=f"<{tag}.{n}@altroente.example>",
                              attachments=files)
    return build_envelope(original, mittente=sender, destinatari=[COMUNE],
                          identificativo=f"opec.{tag}.{n}@pec.simulato.example", data=WHEN)


def pec_receipt(n: int, tag: str = "t") -> bytes:
    """An acceptance receipt of our own message ``n``."""
    return build_receipt("accettazione", msgid=f"<ack.{tag}.{n}@comune.example>",
                         mittente=COMUNE, destinatari=[f"ente{n}@pec.altroente.example"],
                         identificativo=f"opec.ack.{tag}.{n}@pec.simulato.example", data=WHEN)


def plain_mail(n: int) -> bytes:
    """Ordinary, non-PEC mail."""
    return build_original(sender="mario.rossi@example.org", to=[COMUNE], subject=f"Ciao {n}",
                          date=WHEN, message_id=f"<plain.{n}@example.org>")
