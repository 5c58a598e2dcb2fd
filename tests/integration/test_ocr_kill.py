"""A parser child killed at its timeout takes the OCR program it was running along: no
tesseract is left working for a document whose reading was given up."""

from __future__ import annotations

import io
import random
import subprocess
import threading
import time
from pathlib import Path

import pytest

from parsers.limits import DEFAULT_LIMITS
from parsers.vocabulary import DEFAULT_VOCABULARY
from pec_ingest.isolation import IsolatedResult, ParserPool, ParseTask


def _tesseracts() -> set[int]:
    """Running tesseract processes (a killed one may linger as a zombie until reaped)."""
    out = subprocess.run(["pgrep", "-x", "tesseract"], capture_output=True, text=True).stdout
    return {int(p) for p in out.split() if _running(int(p))}


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _noise_png() -> bytes:
    from PIL import Image

    rnd = random.Random(7)
    side = 3000  # noise: tesseract starts at ~0.4 s and works on it for seconds
    pixels = rnd.randbytes(side * side)
    image = Image.frombytes("L", (side, side), pixels)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.slow
def test_a_timed_out_ocr_leaves_no_tesseract_running() -> None:
    before = _tesseracts()
    pool = ParserPool(DEFAULT_VOCABULARY, DEFAULT_LIMITS, timeout=60.0, memory_mb=1024, size=1)
    results: list[IsolatedResult] = []
    try:
        # the child started beforehand (forkserver and child can take seconds on a busy
        # machine), so the 2 s given to the scan are all tesseract's: it starts after ~0.4 s and
        # works on the noise for 4-9 s, so it is killed in the middle
        assert pool.parse(ParseTask(b"not a document", "nota.txt")).outcome != "timeout"
        worker = threading.Thread(target=lambda: results.append(
            pool.parse(ParseTask(_noise_png(), "foto.png"), time.monotonic() + 2.0)))
        worker.start()
        seen: set[int] = set()
        deadline = time.monotonic() + 5.0
        while not seen and time.monotonic() < deadline:
            seen = _tesseracts() - before
            time.sleep(0.05)
        assert seen, "tesseract never started: the test proves nothing"
        worker.join(30)
        assert results and results[0].outcome == "timeout"
        time.sleep(0.5)
        assert not (_tesseracts() - before)  # neither the first run nor a later one
    finally:
        pool.close()
