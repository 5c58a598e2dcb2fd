"""What a message raises in an envelope worker travels back for that message alone
(pec_ingest/envelopes.py): without the failed read's memory, and whatever the exception is."""

from __future__ import annotations

import pickle
import weakref

import pytest

from pec_ingest import envelopes


class _Holder:
    """Stands for what a read allocated before it failed."""


class _Stubborn(Exception):
    def __init__(self, code: int, detail: str) -> None:  # pickles, but does not unpickle
        super().__init__(f"{code}: {detail}")


def test_the_next_messages_of_a_task_are_read_without_the_failed_reads_memory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    held: list[weakref.ref[_Holder]] = []
    seen_alive: list[bool] = []

    def fake_read(raw: bytes) -> object:
        if raw == b"bomb":
            holder = _Holder()
            held.append(weakref.ref(holder))
            raise MemoryError("worker out of memory")
        seen_alive.append(held[0]() is not None)
        return raw.decode()

    monkeypatch.setattr(envelopes, "_read", fake_read)
    out = envelopes._read_many([b"bomb", b"ok 1", b"ok 2"])
    assert seen_alive == [False, False]  # freed before the next message was read
    assert out[1:] == ["ok 1", "ok 2"]  # type: ignore[comparison-overlap]
    raised = out[0]
    assert isinstance(raised, envelopes._Raised)
    again = pickle.loads(raised.pickled)
    assert isinstance(again, MemoryError) and again.__traceback__ is None
    assert "fake_read" in raised.trace  # the worker's traceback, as text


def test_the_failed_reads_memory_is_given_back_before_the_exception_is_pickled() -> None:
    held: list[weakref.ref[_Holder]] = []

    def failing() -> None:
        holder = _Holder()
        held.append(weakref.ref(holder))
        raise MemoryError("worker out of memory")

    try:
        failing()
    except MemoryError as exc:
        assert held[0]() is not None  # the traceback holds the failed read's frame
        envelopes._carried(exc)
        assert held[0]() is None  # given back while the exception is still being handled


def test_an_exception_that_cannot_be_rebuilt_travels_as_its_text() -> None:
    try:
        raise _Stubborn(7, "guasto")
    except _Stubborn as exc:
        raised = envelopes._carried(exc)
    again = pickle.loads(raised.pickled)
    assert type(again) is RuntimeError and str(again) == "_Stubborn: 7: guasto"
    assert "_Stubborn" in raised.trace


def test_a_task_that_failed_as_a_whole_has_its_messages_read_again(
        caplog: pytest.LogCaptureFixture) -> None:
    """Its results could not travel back (say): each message is read again on its own."""
    from concurrent.futures import Future, ProcessPoolExecutor

    from parsers.envelope import parse_envelope
    from parsers.limits import DEFAULT_LIMITS
    from tests.dovecot import pec_receipt

    task: Future[list[object]] = Future()
    task.set_exception(pickle.PicklingError("result list too large to send"))
    reader = envelopes.EnvelopeReader(DEFAULT_LIMITS, workers=0, memory_mb=768)
    unused = ProcessPoolExecutor(1)  # never started: no process is made until a submit
    try:
        ahead = [envelopes.Ahead(reader, unused, task, i, pec_receipt(i))  # type: ignore[arg-type]
                 for i in range(2)]
        assert [a.result() for a in ahead] == [parse_envelope(pec_receipt(i), DEFAULT_LIMITS)
                                               for i in range(2)]
    finally:
        unused.shutdown()
    assert caplog.text.count("failed as a whole") == 2


def test_a_wait_gives_up_when_the_pool_finishes_nothing_for_the_bound() -> None:
    """The time bound of a wait (pure logic, no process: a task that never ends)."""
    import time
    from concurrent.futures import Future, ProcessPoolExecutor

    from parsers.limits import DEFAULT_LIMITS

    reader = envelopes.EnvelopeReader(DEFAULT_LIMITS, workers=1, memory_mb=768, seconds=0.3)
    never: Future[int] = Future()
    started = time.monotonic()
    with pytest.raises(envelopes._Stuck):
        reader.wait(never, ProcessPoolExecutor.__new__(ProcessPoolExecutor))  # not its pool
    assert 0.3 <= time.monotonic() - started < 0.3 + 1.0  # one bound, not PATIENCE of them
    done: Future[int] = Future()
    done.set_result(7)
    assert reader.wait(done, ProcessPoolExecutor.__new__(ProcessPoolExecutor)) == 7


def test_a_wait_gives_up_after_its_patience_while_other_tasks_keep_finishing() -> None:
    """Another mailbox's backlog keeps the other worker finishing tasks: a task still queued
    waits on; one running that never ends is given up on after PATIENCE bounds."""
    import threading
    import time
    from concurrent.futures import Future, ProcessPoolExecutor

    from parsers.limits import DEFAULT_LIMITS

    reader = envelopes.EnvelopeReader(DEFAULT_LIMITS, workers=1, memory_mb=768, seconds=0.3)
    stop = threading.Event()

    def others_finishing() -> None:
        while not stop.wait(0.05):
            reader._done(Future())

    thread = threading.Thread(target=others_finishing)
    thread.start()
    try:
        queued: Future[int] = Future()  # not yet sent to the workers: waits on
        started = time.monotonic()
        threading.Timer(2.0, queued.set_result, (5,)).start()
        assert reader.wait(queued, ProcessPoolExecutor.__new__(ProcessPoolExecutor)) == 5
        assert time.monotonic() - started >= 2.0  # past PATIENCE bounds: still waited
        never: Future[int] = Future()
        assert never.set_running_or_notify_cancel()  # sent to the workers, never ends
        started = time.monotonic()
        with pytest.raises(envelopes._Stuck):
            reader.wait(never, ProcessPoolExecutor.__new__(ProcessPoolExecutor))
        waited = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
    bound = envelopes.PATIENCE * 0.3
    assert bound <= waited < bound + 0.3 + 1.0  # seen running at its first timeout


def test_a_tasks_own_timeout_error_is_its_own() -> None:
    from concurrent.futures import Future, ProcessPoolExecutor

    from parsers.limits import DEFAULT_LIMITS

    reader = envelopes.EnvelopeReader(DEFAULT_LIMITS, workers=1, memory_mb=768, seconds=0.3)
    failed: Future[int] = Future()
    failed.set_exception(TimeoutError("del messaggio"))
    with pytest.raises(TimeoutError, match="del messaggio"):
        reader.wait(failed, ProcessPoolExecutor.__new__(ProcessPoolExecutor))
