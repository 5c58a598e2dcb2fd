"""SIGTERM ends ``pec-ingest run`` within seconds when the IMAP server accepted the connection
and then went silent (at LOGIN, or in the middle of a FETCH), far inside the unit's
``TimeoutStopSec=120``: the daemon cuts its open connections instead of waiting for the
120-second read timeout. The server is a real socket server on 127.0.0.1 that speaks just
enough IMAP to get there."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_service import env_for

CANNED = {
    "CAPABILITY": "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n",
    "LOGIN": "{tag} OK [CAPABILITY IMAP4rev1] logged in\r\n",
    "EXAMINE": ("* FLAGS ()\r\n* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] u\r\n"
                "* OK [UIDNEXT 4] n\r\n{tag} OK [READ-ONLY] done\r\n"),
    "SEARCH": "* SEARCH 1 2 3\r\n{tag} OK done\r\n",
    "LOGOUT": "* BYE\r\n{tag} OK bye\r\n",
}


class SilentImap:
    """Greets, answers the commands it knows, and falls silent at ``hang_at``."""

    def __init__(self, hang_at: str) -> None:
        self.hang_at = hang_at
        self.reached = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closing = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.closing.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] pronto\r\n")
            for raw in lines:
                tag, _, rest = raw.decode("ascii", "replace").strip().partition(" ")
                words = rest.upper().split()
                command = words[1] if words[:1] == ["UID"] and len(words) > 1 else words[0]
                if command == self.hang_at:
                    self.reached.set()
                    self.closing.wait()
                    return
                reply = CANNED.get(command, "{tag} OK done\r\n")
                conn.sendall(reply.format(tag=tag).encode())

    def close(self) -> None:
        self.closing.set()
        self.listener.close()


@pytest.fixture(params=["LOGIN", "FETCH"])
def silent(request: pytest.FixtureRequest) -> Iterator[SilentImap]:
    server = SilentImap(request.param)
    yield server
    server.close()


def test_sigterm_ends_run_quickly_with_a_silent_imap_server(tmp_path: Path,
                                                             silent: SilentImap) -> None:
    state = tmp_path / "state"
    (tmp_path / "password").write_text("segreto", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f"""
[state]
dir = "{state}"
[database]
url = "sqlite:///{state / 'db.sqlite'}"
[[mailboxes]]
name = "silenziosa"
host = "127.0.0.1"
port = {silent.port}
security = "plain"
username = "utente"
password_file = "{tmp_path / 'password'}"
idle = false
""", encoding="utf-8")
    env = env_for(tmp_path, tmp_path / "no-notify.sock")
    base = [sys.executable, "-m", "pec_ingest", "--config", str(config)]
    subprocess.run([*base, "db", "upgrade"], check=True, env=env, capture_output=True)
    proc = subprocess.Popen([*base, "run"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert silent.reached.wait(60), "the daemon never reached the silent command"
        time.sleep(0.5)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=40)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert elapsed < 30, elapsed  # measured about a second; systemd waits 120
    assert "arrestato" in err.decode()
