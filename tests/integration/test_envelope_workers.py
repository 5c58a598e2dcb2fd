"""Envelopes read in worker processes (pec_ingest/envelopes.py): the same envelope as in
process, the reader's own errors raised again here, a worker killed in the middle replaced
without losing the message, and no worker outliving a SIGKILLed service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from parsers.envelope import parse_envelope
from parsers.limits import DEFAULT_LIMITS
from pec_ingest.envelopes import EnvelopeReader
from tests.dovecot import pec_envelope, pec_receipt
from tests.integration.test_parser_orphans import _descendants, _running, sigkill_and_survivors


def test_workers_read_the_same_envelope_as_the_service() -> None:
    reader = EnvelopeReader(DEFAULT_LIMITS, workers=2, memory_mb=768)
    try:
        for raw in (pec_envelope(1), pec_receipt(2), b"From: a@b.example\r\n\r\nciao\r\n"):
            assert reader.read(raw) == parse_envelope(raw, DEFAULT_LIMITS)
    finally:
        reader.close()


def test_what_the_reader_raises_in_a_worker_is_raised_here() -> None:
    """The reader tolerates any bytes (warnings, never an exception); what it raises is a bug
    of ours, here provoked with text instead of bytes: the same exception, the worker's
    traceback attached, for the per-message guard to log and count."""
    with pytest.raises(Exception) as in_process:
        parse_envelope("testo, non byte", DEFAULT_LIMITS)  # type: ignore[arg-type]
    reader = EnvelopeReader(DEFAULT_LIMITS, workers=1, memory_mb=768)
    try:
        with pytest.raises(Exception) as in_worker:
            reader.read("testo, non byte")  # type: ignore[arg-type]
    finally:
        reader.close()
    assert type(in_worker.value) is type(in_process.value)
    assert str(in_worker.value) == str(in_process.value)
    assert "parse_envelope" in str(in_worker.value.__cause__)  # the worker's traceback


def test_a_worker_killed_mid_read_costs_no_message_anything() -> None:
    """One worker killed while two messages are being read: the pool breaks for both; each is
    read again alone and comes out as read in process (neither is counted as failed)."""
    reader = EnvelopeReader(DEFAULT_LIMITS, workers=2, memory_mb=768)
    try:
        reader.read(pec_receipt(4))
        pool = reader._current()
        big = [pec_envelope(n, attachment=b"x" * 20_000_000) for n in (5, 6)]
        results: dict[int, object] = {}
        threads = [threading.Thread(target=lambda k=k: results.__setitem__(k, reader.read(
            big[k]))) for k in (0, 1)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)  # both in the middle of their read
        victim = next(iter(pool._processes.values()))  # type: ignore[attr-defined]
        os.kill(victim.pid, signal.SIGKILL)
        for thread in threads:
            thread.join(120)
        assert results == {k: parse_envelope(big[k], DEFAULT_LIMITS) for k in (0, 1)}
        assert reader._current() is not pool  # a new pool for what comes next
        assert reader.read(pec_receipt(7)) == parse_envelope(pec_receipt(7), DEFAULT_LIMITS)
    finally:
        reader.close()


def test_read_ahead_reads_a_batch_several_per_task_as_in_process() -> None:
    raws = [pec_receipt(n) if n % 3 else pec_envelope(n) for n in range(20)]
    raws.append(b"From: a@b.example\r\n\r\nciao\r\n")
    reader = EnvelopeReader(DEFAULT_LIMITS, workers=2, memory_mb=768)
    try:
        ahead = reader.read_ahead(raws)
        assert ahead is not None and len(ahead) == len(raws)
        assert len({id(a.task) for a in ahead}) < len(raws)  # several messages per task
        assert [a.result() for a in ahead] == [parse_envelope(r, DEFAULT_LIMITS) for r in raws]
    finally:
        reader.close()
    assert EnvelopeReader(DEFAULT_LIMITS, workers=0, memory_mb=768).read_ahead(raws) is None


def test_what_one_message_of_a_task_raises_is_raised_for_it_alone() -> None:
    with pytest.raises(Exception) as in_process:
        parse_envelope("testo, non byte", DEFAULT_LIMITS)  # type: ignore[arg-type]
    raws: list[bytes] = [pec_receipt(n) for n in range(12)]
    raws[4] = "testo, non byte"  # type: ignore[call-overload]
    reader = EnvelopeReader(DEFAULT_LIMITS, workers=1, memory_mb=768)
    try:
        ahead = reader.read_ahead(raws)
        assert ahead is not None
        assert ahead[3].task is ahead[4].task is ahead[5].task  # tasks of three
        for n in (0, 3, 5, 11):
            assert ahead[n].result() == parse_envelope(raws[n], DEFAULT_LIMITS)
        with pytest.raises(Exception) as in_worker:
            ahead[4].result()
    finally:
        reader.close()
    assert type(in_worker.value) is type(in_process.value)
    assert str(in_worker.value) == str(in_process.value)
    assert "parse_envelope" in str(in_worker.value.__cause__)  # the worker's traceback


def test_a_worker_killed_mid_batch_costs_no_message_of_the_batch_anything(
        caplog: pytest.LogCaptureFixture) -> None:
    """A worker killed once the batch's first task is done, the others running or queued:
    the pool fails every task it still holds; each of their messages is read again (one per
    task, in a new pool) and comes out as read in process; the next batch gets a new pool."""
    reader = EnvelopeReader(DEFAULT_LIMITS, workers=2, memory_mb=768)
    try:
        reader.read(pec_receipt(4))
        pool = reader._current()
        big = [pec_envelope(n, attachment=b"x" * 4_000_000) for n in range(5, 37)]
        ahead = reader.read_ahead(big)
        assert ahead is not None and ahead[0].task is ahead[3].task  # four per task
        first = ahead[0].task
        assert first is not None
        first.result(timeout=120)
        assert not all(a.task is not None and a.task.done() for a in ahead)  # more to come
        victim = next(iter(pool._processes.values()))  # type: ignore[attr-defined]
        os.kill(victim.pid, signal.SIGKILL)
        assert [a.result() for a in ahead] == [parse_envelope(r, DEFAULT_LIMITS) for r in big]
        assert caplog.text.count("an envelope reader died") == 1
        assert reader._current() is not pool
        again = reader.read_ahead([pec_receipt(7)])
        assert again is not None
        assert again[0].result() == parse_envelope(pec_receipt(7), DEFAULT_LIMITS)
    finally:
        reader.close()


def test_stuck_workers_are_killed_and_their_messages_read_again(
        caplog: pytest.LogCaptureFixture) -> None:
    """The pool's workers stopped (SIGSTOP: a read that never ends) under a batch: once no task
    has finished for the bound, the workers are killed and every message of the batch is read
    again elsewhere, as in process; the next batch gets a new pool."""
    reader = EnvelopeReader(DEFAULT_LIMITS, workers=2, memory_mb=768, seconds=2.0)
    try:
        warm = reader.read_ahead([pec_receipt(n) for n in range(8)])
        assert warm is not None and [a.result() for a in warm]
        pool = reader._current()
        stopped = [p.pid for p in pool._processes.values()]  # type: ignore[attr-defined]
        assert stopped  # a worker started on demand later runs: the rest waits on the others
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        raws = [pec_receipt(n) if n % 2 else pec_envelope(n) for n in range(10, 22)]
        ahead = reader.read_ahead(raws)
        assert ahead is not None
        started = time.monotonic()
        assert [a.result() for a in ahead] == [parse_envelope(r, DEFAULT_LIMITS) for r in raws]
        assert 2.0 <= time.monotonic() - started < 60
        assert caplog.text.count("envelope readers stuck") == 1
        deadline = time.monotonic() + 10
        while any(_running(pid) for pid in stopped) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_running(pid) for pid in stopped)  # killed, not left stopped
        assert reader._current() is not pool
        again = reader.read_ahead([pec_receipt(7)])
        assert again is not None
        assert again[0].result() == parse_envelope(pec_receipt(7), DEFAULT_LIMITS)
    finally:
        reader.close()


def test_a_message_not_read_within_the_bound_alone_fails_alone() -> None:
    """A read slower than the bound (here a bound far below what a 20 MB message takes) in the
    pool, then again alone: the message fails with EnvelopeReadTimeout (the pipeline's guard
    records it, the next poll retries it); no worker is left running; the reader goes on."""
    from pec_ingest.envelopes import EnvelopeReadTimeout
    from pec_ingest.errors import PecIngestError

    reader = EnvelopeReader(DEFAULT_LIMITS, workers=1, memory_mb=768, seconds=0.05)
    big = pec_envelope(9, attachment=b"x" * 20_000_000)
    try:
        time.sleep(0.1)  # nothing finished since the reader was made: a timeout is final
        with pytest.raises(EnvelopeReadTimeout) as raised:
            reader.read(big)
        assert isinstance(raised.value, PecIngestError)
        assert "oltre 0.05 s" in str(raised.value)
        deadline = time.monotonic() + 10
        while _descendants(os.getpid()) - _forkservers() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not {p for p in _descendants(os.getpid()) - _forkservers() if _running(p)}
        reader.seconds = 30.0
        assert reader.read(pec_receipt(3)) == parse_envelope(pec_receipt(3), DEFAULT_LIMITS)
    finally:
        reader.close()


def _forkservers() -> set[int]:
    """The forkserver and the children it keeps (other tests' parser pools) are not ours."""
    out = set()
    for pid in _descendants(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"forkserver" in cmdline or b"resource_tracker" in cmdline:
            out.add(pid)
    return out


PARENT = """
import sys, time
from parsers.limits import DEFAULT_LIMITS
from pec_ingest.envelopes import EnvelopeReader
from tests.dovecot import pec_receipt

def main():
    reader = EnvelopeReader(DEFAULT_LIMITS, workers=2, memory_mb=768)
    for n in range(4):
        reader.read(pec_receipt(n))
    print("ready", flush=True)
    time.sleep(600)

if __name__ == "__main__":
    main()
"""


def test_no_envelope_worker_outlives_a_sigkilled_service(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)})
    family: set[int] = set()
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        family = _descendants(proc.pid)
        assert len(family) >= 3  # the forkserver and two workers
        left = sigkill_and_survivors(proc, family)
        assert not left, f"envelope workers still running: {left}"
    finally:
        proc.kill()
        for p in family:
            if _running(p):
                os.kill(p, signal.SIGKILL)


@pytest.mark.slow
def test_the_largest_message_read_in_full_fits_in_a_worker() -> None:
    """A message just under the reader's input limit (read in full: about 8.5 times its size
    at the peak) fits in a worker under the default memory limit, as in process."""
    from pec_ingest.config import Config

    config = Config()
    size = int(config.limits.max_input_bytes * 0.72)  # base64 and the envelope around it
    raw = pec_envelope(8, attachment=bytes(range(256)) * (size // 256))
    assert config.limits.max_input_bytes * 0.9 < len(raw) < config.limits.max_input_bytes
    reader = EnvelopeReader(config.limits, workers=1, memory_mb=config.parser.memory_limit_mb)
    try:
        envelope = reader.read(raw)
    finally:
        reader.close()
    assert not envelope.warnings and len(envelope.attachments) == 1
    assert envelope.attachments[0].size == size // 256 * 256
