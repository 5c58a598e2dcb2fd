"""Parser children die with the service: after a SIGKILL of the main process (no clean-up code
runs), no parser child stays, not even one in the middle of a long parse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.test_pipeline import slow_pdf

PARENT = """
import sys, threading, time
from parsers.limits import DEFAULT_LIMITS
from parsers.vocabulary import DEFAULT_VOCABULARY
from pec_ingest.isolation import ParserPool, ParseTask

def main():
    data = open(sys.argv[1], "rb").read()
    pool = ParserPool(DEFAULT_VOCABULARY, DEFAULT_LIMITS, timeout=300, memory_mb=768, size=2)
    for _ in range(2):
        threading.Thread(target=pool.parse, args=(ParseTask(data, "lento.pdf"),),
                         daemon=True).start()
    time.sleep(2.0)
    print("busy", flush=True)
    time.sleep(600)

if __name__ == "__main__":
    main()
"""


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text()
        out.update(int(p) for p in text.split())
    return out


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in _children(todo.pop()) - found:
            found.add(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, only not reaped


def _busy_parsers(parent: int, wait: float = 60.0) -> list[int]:
    """Grandchildren of ``parent`` (the forkserver's children: the parsers) using the CPU,
    waiting for them as long as a busy machine needs to start them."""
    deadline = time.monotonic() + wait
    busy: list[int] = []
    while time.monotonic() < deadline and len(busy) < 2:
        parsers = {p for child in _children(parent) for p in _descendants(child)}
        before = {p: _cpu_ticks(p) for p in parsers}
        time.sleep(1.0)
        busy = [p for p in parsers if _running(p) and _cpu_ticks(p) > before[p]]
    return busy


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks


def sigkill_and_survivors(proc: subprocess.Popen[bytes], family: set[int]) -> list[int]:
    """SIGKILL ``proc`` (no clean-up code runs) and return which of ``family`` still run
    after 10 s."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(p) for p in family):
        time.sleep(0.1)
    return sorted(p for p in family if _running(p))


def test_no_parser_child_outlives_a_sigkilled_service(tmp_path: Path) -> None:
    pdf = tmp_path / "lento.pdf"
    pdf.write_bytes(slow_pdf())  # about 30 s of layout: the children are busy when we kill
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    proc = subprocess.Popen([sys.executable, str(script), str(pdf)], stdout=subprocess.PIPE,
                            cwd=Path(__file__).resolve().parents[2])
    family: set[int] = set()
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"busy"
        assert len(_busy_parsers(proc.pid)) >= 2  # two children in the middle of the parse
        family = _descendants(proc.pid)
        left = sigkill_and_survivors(proc, family)
        assert not left, f"orphans still running: {left}"
    finally:
        proc.kill()
        for p in family:
            if _running(p):
                os.kill(p, signal.SIGKILL)  # clean up after a failure
