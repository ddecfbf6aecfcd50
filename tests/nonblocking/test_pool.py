"""The service pool: real threads, at most its threads running and its waiting room waiting, the rest refused."""

from __future__ import annotations

import threading

import pytest

from cfxstore.errors import Error, NotFound
from cfxstore.nonblocking import PoolClosed, PoolFull, ServicePool
from nonblocking_holds import wait_for

TIMEOUT = 30


def _held(pool: ServicePool, gate: threading.Event, n: int) -> list:
    """n calls that each wait for gate."""
    return [pool.submit(gate.wait, TIMEOUT) for _ in range(n)]


def test_beyond_its_threads_and_waiting_room_a_call_is_refused_at_once_and_memory_stays_bounded(pool):
    gate = threading.Event()
    held = _held(pool, gate, 4)  # 2 threads + 2 waiting
    try:
        with pytest.raises(PoolFull, match="test-pool pool is full: 2 calls running and 2 waiting"):
            pool.submit(lambda: "never")
        assert pool.pending == 4
        assert isinstance(PoolFull("x"), Error) and PoolFull.uri == "cfxstore.error.busy"
    finally:
        gate.set()
    assert [f.result(TIMEOUT) for f in held] == [True] * 4
    assert pool.submit(lambda: "room again").result(TIMEOUT) == "room again"


def test_at_most_its_threads_run_at_once_and_they_start_only_as_calls_need_them():
    pool = ServicePool(threads=3, max_waiting=10, name="lazy-pool")
    gate = threading.Event()
    try:
        assert not [t for t in threading.enumerate() if t.name.startswith("lazy-pool")]
        assert pool.submit(lambda: 1).result(TIMEOUT) == 1
        held = _held(pool, gate, 6)
        wait_for(lambda: pool.running == 3, "three calls to run")
        assert pool.pending == 6
        assert len([t for t in threading.enumerate() if t.name.startswith("lazy-pool")]) == 3
    finally:
        gate.set()
    assert all(f.result(TIMEOUT) for f in held)
    pool.close(wait=True)
    assert not [t for t in threading.enumerate() if t.name.startswith("lazy-pool")]


def test_a_call_s_exception_is_the_one_it_raised():
    with ServicePool(threads=1, max_waiting=0) as pool:
        def missing() -> None:
            raise NotFound("role 1 not found")

        exc = pool.submit(missing).exception(TIMEOUT)
        assert type(exc) is NotFound and str(exc) == "role 1 not found"


def test_a_call_cancelled_while_it_waits_never_runs(pool):
    gate = threading.Event()
    ran: list = []
    held = _held(pool, gate, 2)
    waiting = pool.submit(ran.append, "ran")
    assert waiting.cancel()
    gate.set()
    assert all(f.result(TIMEOUT) for f in held)
    assert pool.submit(lambda: "after").result(TIMEOUT) == "after"  # the cancelled call was taken and skipped
    assert ran == [] and pool.pending == 0


def test_close_fails_the_waiting_calls_lets_the_running_ones_finish_and_refuses_new_ones():
    pool = ServicePool(threads=1, max_waiting=5, name="closing-pool")
    gate = threading.Event()
    running = pool.submit(gate.wait, TIMEOUT)
    wait_for(lambda: pool.running == 1, "the first call to run")
    waiting = [pool.submit(lambda: "never") for _ in range(3)]
    pool.close()
    for f in waiting:
        assert isinstance(f.exception(TIMEOUT), PoolClosed)
    with pytest.raises(PoolClosed, match="closing-pool pool is closed"):
        pool.submit(lambda: "never")
    gate.set()
    assert running.result(TIMEOUT) is True


@pytest.mark.parametrize("threads,waiting,message", [
    (0, 1, "threads must be an int >= 1, got 0"),
    (True, 1, "threads must be an int >= 1, got True"),
    (2, -1, "max_waiting must be an int >= 0, got -1"),
    (2, "10", "max_waiting must be an int >= 0, got '10'"),
])
def test_sizes_out_of_range_are_refused_in_one_line(threads, waiting, message):
    with pytest.raises(ValueError, match=message):
        ServicePool(threads, waiting)
