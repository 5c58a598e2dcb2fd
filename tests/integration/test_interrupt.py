"""Ctrl-C during ``demo`` (the parser children busy) ends it with a message and exit 130: no
traceback from the program or from its parser processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


def test_ctrl_c_during_demo(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEC_INGEST_")}
    env["HOME"] = str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pec_ingest", "demo", "--dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the demo has started: the samples are being read
    assert first.startswith(b"Demo:"), first
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does: the whole process group
    _, err = proc.communicate(timeout=120)
    text = err.decode()
    assert "Traceback" not in text, text
    assert proc.returncode == 130, (proc.returncode, text)
    assert "interrotto" in text
