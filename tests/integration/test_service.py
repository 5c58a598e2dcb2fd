"""The daemon as systemd runs it: ``pec-ingest run`` in a real process, a real Dovecot, the
sd_notify protocol on a real datagram socket, SIGTERM and SIGHUP, and the unit file."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from pec_ingest.config import Config
from pec_ingest.samples.docx_forms import build_docx
from pec_ingest.samples.mailbox import COMUNE_PEC, DOCX
from pec_ingest.samples.pec import build_envelope, build_original
from pec_ingest.samples.people import make_organisation
from pec_ingest.systemd import Notifier
from tests.dovecot import DovecotServer

ROOT = Path(__file__).resolve().parents[2]


def form_message(seed: int) -> bytes:
    org = make_organisation(seed)
    when = datetime(2019, 9, 2, 9, 0, tzinfo=UTC) + timedelta(minutes=seed)
    original = build_original(sender=org.pec, to=[COMUNE_PEC], subject="Allegato 1", date=when,
                              message_id=f"<svc{seed}@x.example>",
                              attachments=[("Allegato_1.docx", build_docx(org, "table"), DOCX)])
    return build_envelope(original, mittente=org.pec, destinatari=[COMUNE_PEC],
                          identificativo=f"opec.svc.{seed}@pec.example", data=when)


@dataclass
class Daemon:
    proc: subprocess.Popen[bytes]
    sock: socket.socket
    db: Path
    config: Path

    def notifications(self, until: str, timeout: float = 60.0) -> list[str]:
        """Datagrams received until one contains ``until`` (or the timeout)."""
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                got.append(self.sock.recv(4096).decode())
            except TimeoutError:
                break
            if until in got[-1]:
                break
        return got

    def count(self, table: str) -> int:
        with sqlite3.connect(self.db) as c:
            return int(c.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def write_config(path: Path, state: Path, dovecot: DovecotServer, user: str,
                 interval: int = 5) -> None:
    box = dovecot.section(user)
    path.write_text(f"""
[state]
dir = "{state}"
[database]
url = "sqlite:///{state / 'db.sqlite'}"
[[mailboxes]]
name = "{box.name}"
host = "127.0.0.1"
port = {box.port}
security = "plain"
username = "{box.username}"
password_file = "{box.password_file}"
poll_interval_seconds = {interval}
idle = false
""", encoding="utf-8")


def env_for(tmp: Path, notify: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEC_INGEST_")}
    env.update(HOME=str(tmp), XDG_STATE_HOME=str(tmp / "xdg"), NOTIFY_SOCKET=str(notify),
               WATCHDOG_USEC="2000000", PYTHONPATH=str(ROOT))
    return env


@pytest.fixture
def daemon_files(tmp_path: Path, dovecot: DovecotServer,
                 imap_user: str) -> Iterator[tuple[Path, Path, socket.socket, dict[str, str]]]:
    state = tmp_path / "state"
    config = tmp_path / "config.toml"
    write_config(config, state, dovecot, imap_user)
    notify = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    env = env_for(tmp_path, notify)
    subprocess.run([sys.executable, "-m", "pec_ingest", "--config", str(config), "db",
                    "upgrade"], check=True, env=env, capture_output=True)
    yield config, state, sock, env
    sock.close()


def start(config: Path, state: Path, sock: socket.socket, env: dict[str, str]) -> Daemon:
    proc = subprocess.Popen([sys.executable, "-m", "pec_ingest", "--config", str(config), "run"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return Daemon(proc, sock, state / "db.sqlite", config)


def stop(daemon: Daemon, timeout: float = 60) -> tuple[int, str]:
    if daemon.proc.poll() is None:
        daemon.proc.send_signal(signal.SIGTERM)
    try:
        _, err = daemon.proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        daemon.proc.kill()
        raise
    return daemon.proc.returncode, err.decode()


def test_notifier_sends_datagrams(tmp_path: Path) -> None:
    path = tmp_path / "n.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        notifier = Notifier(str(path))
        notifier.ready("pronto")
        assert sock.recv(100) == b"READY=1\nSTATUS=pronto"
    assert not Notifier("").send(ready=1)


def test_run_notifies_polls_pings_and_stops_on_sigterm(
        daemon_files: tuple[Path, Path, socket.socket, dict[str, str]],
        dovecot: DovecotServer, imap_user: str) -> None:
    config, state, sock, env = daemon_files
    dovecot.append(imap_user, [form_message(1), form_message(2)])
    daemon = start(config, state, sock, env)
    try:
        ready = daemon.notifications("READY=1")
        assert any("READY=1" in n for n in ready), ready
        assert daemon.count("submissions") == 2  # the first poll happened before READY
        status = next(n for n in ready if "READY=1" in n)
        assert f"{imap_user}: ok 2 nuovi" in status
        # new mail arrives: the next scheduled poll takes it; the watchdog is pinged
        dovecot.append(imap_user, [form_message(3)])
        later = daemon.notifications("1 nuovi", timeout=30)
        assert any("WATCHDOG=1" in n for n in later + daemon.notifications("WATCHDOG=1", 5))
        assert daemon.count("submissions") == 3
        assert all(not f for f in dovecot.flags(imap_user).values())  # nothing marked
    finally:
        code, err = stop(daemon)
    assert code == 0, err
    assert any("STOPPING=1" in n for n in daemon.notifications("STOPPING=1", timeout=5))
    assert "arrestato" in err


def test_sigterm_during_a_poll_finishes_the_message_in_hand(
        daemon_files: tuple[Path, Path, socket.socket, dict[str, str]],
        dovecot: DovecotServer, imap_user: str) -> None:
    config, state, sock, env = daemon_files
    total = 60
    dovecot.append(imap_user, [form_message(100 + i) for i in range(total)])
    daemon = start(config, state, sock, env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if daemon.count("submissions") >= 1:
                break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    started = time.monotonic()
    code, err = stop(daemon, timeout=90)
    assert code == 0, err
    assert time.monotonic() - started < 60  # well within the unit's TimeoutStopSec
    done = daemon.count("submissions")
    assert 1 <= done <= total
    assert daemon.count("messages") == done  # every recorded message is whole
    with sqlite3.connect(daemon.db) as c:
        assert c.execute("SELECT count(*) FROM messages WHERE outcome != 'submission'"
                         ).fetchone()[0] == 0
    # the next cycle completes the work, nothing twice
    subprocess.run([sys.executable, "-m", "pec_ingest", "--config", str(config), "poll",
                    "--once"], env=env, check=True, capture_output=True, timeout=300)
    assert daemon.count("submissions") == total
    assert daemon.count("messages") == total


def test_sighup_reloads_and_keeps_a_valid_configuration(
        daemon_files: tuple[Path, Path, socket.socket, dict[str, str]]) -> None:
    config, state, sock, env = daemon_files
    daemon = start(config, state, sock, env)
    try:
        assert any("READY=1" in n for n in daemon.notifications("READY=1"))
        good = config.read_text(encoding="utf-8")
        config.write_text(good + "\nbogus_key = 1\n", encoding="utf-8")
        daemon.proc.send_signal(signal.SIGHUP)
        time.sleep(2)
        assert daemon.proc.poll() is None  # still running on the old configuration
        config.write_text(good.replace("poll_interval_seconds = 5", "poll_interval_seconds = 7"),
                          encoding="utf-8")
        daemon.proc.send_signal(signal.SIGHUP)
        time.sleep(2)
    finally:
        code, err = stop(daemon)
    assert code == 0, err
    assert "configurazione non valida, resta quella in uso" in err and "bogus_key" in err
    assert "configurazione ricaricata" in err


def test_run_refuses_an_unmigrated_database_with_ex_config(tmp_path: Path,
                                                          dovecot: DovecotServer,
                                                          imap_user: str) -> None:
    config = tmp_path / "c.toml"
    write_config(config, tmp_path / "state", dovecot, imap_user)
    proc = subprocess.run([sys.executable, "-m", "pec_ingest", "--config", str(config), "run"],
                          env=env_for(tmp_path, tmp_path / "none.sock"), capture_output=True,
                          timeout=60)
    assert proc.returncode == 78
    assert "pec-ingest db upgrade" in proc.stdout.decode() + proc.stderr.decode()


def test_run_with_a_wrong_config_exits_78(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[[mailboxes]]\nname = 'x'\nhost = 'imap.example.it'\nsecurity = 'plain'\n")
    proc = subprocess.run([sys.executable, "-m", "pec_ingest", "--config", str(config), "run"],
                          env=env_for(tmp_path, tmp_path / "none.sock"), capture_output=True,
                          timeout=60)
    assert proc.returncode == 78
    err = proc.stderr.decode()
    assert "username: obbligatorio" in err and "'plain'" in err


UNIT = ROOT / "deploy" / "pec-ingest.service"


def test_unit_file_has_the_required_directives() -> None:
    text = UNIT.read_text(encoding="utf-8")
    for directive in ("Type=notify", "Restart=on-failure", "RestartPreventExitStatus=78",
                      "WatchdogSec=", "User=pec-ingest", "Group=pec-ingest",
                      "StateDirectory=pec-ingest", "LoadCredential=imap-password:",
                      "LoadCredential=smtp-password:", "ProtectSystem=strict",
                      "NoNewPrivileges=yes", "ExecReload=/bin/kill -HUP $MAINPID"):
        assert directive in text, directive


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze assente")
def test_unit_file_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    exe = shutil.which("pec-ingest") or str(Path(sys.executable).with_name("pec-ingest"))
    unit = tmp_path / "pec-ingest.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace(
        "/opt/pec-ingest/.venv/bin/pec-ingest", exe), encoding="utf-8")
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "pec-ingest.service" not in proc.stderr, proc.stderr


def test_watchdog_is_fed_while_a_long_poll_finishes_messages(
        tmp_path: Path, config: Config, sessions: sessionmaker[Session]) -> None:
    """A poll that runs long (a backlog, slow documents) is work, not a hang: as long as
    messages keep being finished, WATCHDOG=1 goes on; when nothing finishes for longer than one
    message may take (its parse budget), it stops and systemd restarts a stuck service."""
    from pec_ingest.pipeline import Pipeline, Source
    from pec_ingest.service import Service

    path = tmp_path / "wd.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, \
            Pipeline(config, sessions) as pipeline:
        sock.bind(str(path))
        sock.settimeout(0.5)
        service = Service(None, config, notifier=Notifier(str(path)))
        service.pipeline = pipeline
        service.last_success = time.monotonic() - 10_000  # the last finished poll: long ago
        service._watchdog()
        with pytest.raises(TimeoutError):
            sock.recv(100)  # nothing is happening: no ping
        pipeline.ingest(form_message(70), Source())  # the long poll finishes a message
        service._watchdog()
        assert sock.recv(100) == b"WATCHDOG=1"
        assert pipeline.last_progress is not None
        pipeline.last_progress -= service._message_bound() + 1  # stuck on one message since
        service._watchdog()
        with pytest.raises(TimeoutError):
            sock.recv(100)


def test_a_first_poll_through_a_backlog_extends_the_start_timeout_while_it_progresses(
        tmp_path: Path, config: Config, sessions: sessionmaker[Session]) -> None:
    from pec_ingest.pipeline import Pipeline, Source
    from pec_ingest.service import Service

    path = tmp_path / "st.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, \
            Pipeline(config, sessions) as pipeline:
        sock.bind(str(path))
        sock.settimeout(0.5)
        service = Service(None, config, notifier=Notifier(str(path)))
        service.pipeline = pipeline
        assert not service._extend_start_once()  # nothing finished yet
        pipeline.ingest(form_message(71), Source())
        assert service._extend_start_once()
        sent = sock.recv(200).decode()
        assert sent.startswith("EXTEND_TIMEOUT_USEC=")
        assert int(sent.split("\n")[0].split("=")[1]) > service._message_bound() * 1_000_000
        assert pipeline.last_progress is not None
        pipeline.last_progress -= service._message_bound() + 1
        assert not service._extend_start_once()  # stuck: let systemd's timeout decide
