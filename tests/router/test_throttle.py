"""The lockout of failed logins per (realm, authid) and per peer address."""

from __future__ import annotations

import pytest

from cfxstore.node.config import ThrottleConfig
from cfxstore.router.throttle import FailureThrottle, Limits, LoginThrottle, Throttled


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wait_of(throttle: FailureThrottle, key="a") -> float:
    """0.0 if an attempt would be admitted now (it is then cancelled), else the wait."""
    try:
        throttle.cancel(throttle.begin(key))
        return 0.0
    except Throttled as exc:
        return exc.wait


def fail(throttle: FailureThrottle, key="a") -> None:
    throttle.end(throttle.begin(key), success=False)


def burst(throttle: FailureThrottle, n: int, key="a") -> list:
    admitted = []
    for _ in range(n):
        try:
            admitted.append(throttle.begin(key))
        except Throttled:
            pass
    return admitted


def test_free_failures_then_exponential_lockout():
    clock = Clock()
    throttle = FailureThrottle(Limits(free_failures=3, base_delay=1.0, max_delay=4.0), clock=clock)
    fail(throttle), fail(throttle)
    assert wait_of(throttle) == 0.0
    fail(throttle)
    assert wait_of(throttle) == 1.0                         # third failure: locked for 1 s
    clock.now += 1.0
    fail(throttle)
    assert wait_of(throttle) == 2.0                         # fourth failure: 2 s
    clock.now += 2.0
    fail(throttle)
    assert wait_of(throttle) == 4.0
    clock.now += 4.0
    fail(throttle)
    clock.now += 0.5
    assert wait_of(throttle) == 3.5                         # capped at max_delay 4 s


def test_success_clears_the_record():
    clock = Clock()
    throttle = FailureThrottle(Limits(free_failures=2, base_delay=1.0), clock=clock)
    fail(throttle)
    assert throttle.end(throttle.begin("a"), success=True) is True
    fail(throttle)
    assert wait_of(throttle) == 0.0


def test_parallel_successes_of_one_key_are_all_live():
    throttle = FailureThrottle(Limits(free_failures=3), clock=Clock())
    fail(throttle)
    first, second = throttle.begin("a"), throttle.begin("a")
    assert throttle.end(first, success=True) is True
    assert throttle._records["a"].failures == 0            # cleared, but the other attempt keeps its place
    assert throttle.end(second, success=True) is True
    assert len(throttle) == 0


def test_parallel_successes_never_count_against_the_peer():
    throttle = login_throttle(Clock(), free_failures=3, peer_free_failures=3, base_delay=60.0)
    attempts = [throttle.begin("realm1", "alice", "10.0.0.1") for _ in range(3)]
    assert all(throttle.end(a, success=True) for a in attempts)
    assert throttle.peers._records["10.0.0.1"].failures == 0


def test_other_authids_are_not_affected():
    throttle = FailureThrottle(Limits(free_failures=0, base_delay=5.0), clock=Clock())
    fail(throttle, "a")
    assert wait_of(throttle, "a") > 0
    assert wait_of(throttle, "b") == 0.0


def test_a_burst_of_50_parallel_attempts_admits_only_the_free_failures():
    throttle = FailureThrottle(Limits(free_failures=3), clock=Clock())
    admitted = burst(throttle, 50)
    assert len(admitted) == 3
    for attempt in admitted:
        throttle.end(attempt, success=False)
    assert wait_of(throttle) > 0                           # and the three failures lock it


def test_attempts_in_flight_count_against_the_remaining_free_failures():
    throttle = FailureThrottle(Limits(free_failures=3), clock=Clock())
    fail(throttle), fail(throttle)
    assert len(burst(throttle, 10)) == 1


def test_after_the_free_failures_attempts_run_one_at_a_time():
    clock = Clock()
    throttle = FailureThrottle(Limits(free_failures=2, base_delay=1.0), clock=clock)
    fail(throttle), fail(throttle)
    clock.now += 10
    assert len(burst(throttle, 10)) == 1


def test_an_abandoned_attempt_expires():
    clock = Clock()
    throttle = FailureThrottle(Limits(free_failures=0, base_delay=1.0, attempt_timeout=30.0), clock=clock)
    fail(throttle)
    clock.now += 1.0
    throttle.begin("a")                                    # a challenge nobody answers
    assert wait_of(throttle) > 0
    clock.now += 30.5
    assert wait_of(throttle) == 0.0                        # not locked out until restart


def test_a_late_answer_to_an_expired_attempt_is_refused_and_a_late_failure_counts():
    clock = Clock()
    throttle = FailureThrottle(Limits(free_failures=5, attempt_timeout=30.0), clock=clock)
    early, late = throttle.begin("a"), throttle.begin("a")
    clock.now += 31
    assert throttle.end(early, success=True) is False      # expired: a success must be refused
    throttle.end(late, success=False)
    assert throttle._records["a"].failures == 1           # ... but a failure still counts


def test_cancel_counts_neither_way():
    throttle = FailureThrottle(Limits(free_failures=1), clock=Clock())
    throttle.cancel(throttle.begin("a"))
    assert len(burst(throttle, 5)) == 1


def test_memory_is_bounded():
    throttle = FailureThrottle(Limits(max_tracked=10), clock=Clock())
    for i in range(100):
        fail(throttle, i)
    assert len(throttle) <= 10


def test_flooding_the_tracker_does_not_release_a_lockout():
    clock = Clock()
    throttle = FailureThrottle(Limits(free_failures=3, base_delay=60.0, max_delay=600.0, max_tracked=1000),
                               clock=clock)
    for _ in range(3):
        fail(throttle, "victim")
    clock.now += 61
    fail(throttle, "victim")                               # locked for 120 s now
    assert wait_of(throttle, "victim") > 0
    for i in range(100_001):                               # HELLOs for unknown authids, one failure each
        fail(throttle, f"unknown{i}")
    assert len(throttle) <= 1000
    assert wait_of(throttle, "victim") > 0


def test_eviction_keeps_the_worst_offenders():
    clock = Clock()
    throttle = FailureThrottle(Limits(free_failures=10, max_tracked=100), clock=clock)
    for _ in range(3):
        fail(throttle, "repeat")
    for i in range(500):
        fail(throttle, i)
    assert throttle._records["repeat"].failures == 3


def test_one_failure_is_forgiven_per_max_delay_of_quiet():
    clock = Clock()
    throttle = FailureThrottle(Limits(free_failures=3, base_delay=1.0, max_delay=10.0), clock=clock)
    for _ in range(3):
        fail(throttle)
    clock.now += 1.0
    fail(throttle)                                         # 4 failures, locked for 2 s
    clock.now += 2.0 + 10.0                                # 10 s quiet after the lock: one forgiven
    assert wait_of(throttle) == 0.0
    assert throttle._records["a"].failures == 3
    fail(throttle)                                         # so one more guess locks it again at once
    assert wait_of(throttle) > 0


def guesses_in_an_hour(every: float) -> int:
    """Failures checked in an hour for an attacker who tries every ``every`` seconds (max_delay 10 s)."""
    clock = Clock()
    throttle = FailureThrottle(Limits(free_failures=3, base_delay=1.0, max_delay=10.0), clock=clock)
    checked = 0
    for _ in range(int(3600 / every)):
        clock.now += every
        if wait_of(throttle) == 0.0:
            fail(throttle)
            checked += 1
    return checked


def test_over_time_a_key_gets_one_guess_per_max_delay_whether_it_pauses_or_not():
    eager = guesses_in_an_hour(1.0)
    assert eager <= 3 + 4 + 3600 / 10                      # free failures, lockouts 1, 2, 4, 8 s, then one per 10 s
    for every in (5.0, 15.0, 25.0, 60.0):
        assert guesses_in_an_hour(every) <= eager


def test_quiet_records_are_forgotten():
    clock = Clock()
    throttle = FailureThrottle(Limits(free_failures=0, base_delay=1.0, max_delay=10.0), clock=clock)
    fail(throttle)
    clock.now += 21
    assert wait_of(throttle) == 0.0
    assert len(throttle) == 1                              # only the probe's own (cancelled) record


def login_throttle(clock, **kw) -> LoginThrottle:
    return LoginThrottle(ThrottleConfig(**kw), clock)


def test_peer_limit_holds_across_authids():
    clock = Clock()
    throttle = login_throttle(clock, free_failures=3, peer_free_failures=10, base_delay=60.0)
    for i in range(10):
        throttle.end(throttle.begin("realm1", f"user{i}", "10.0.0.1"), success=False)
    with pytest.raises(Throttled, match="peer address"):
        throttle.begin("realm1", "fresh", "10.0.0.1")
    throttle.begin("realm1", "fresh", "10.0.0.2")          # another address may still try


def test_a_success_does_not_clear_the_peer_record():
    clock = Clock()
    throttle = login_throttle(clock, peer_free_failures=3, base_delay=60.0)
    throttle.end(throttle.begin("realm1", "a", "10.0.0.1"), success=False)
    throttle.end(throttle.begin("realm1", "own", "10.0.0.1"), success=True)
    throttle.end(throttle.begin("realm1", "b", "10.0.0.1"), success=False)
    throttle.end(throttle.begin("realm1", "c", "10.0.0.1"), success=False)
    with pytest.raises(Throttled):
        throttle.begin("realm1", "d", "10.0.0.1")


def test_a_peer_refusal_does_not_use_up_the_authid():
    clock = Clock()
    throttle = login_throttle(clock, free_failures=1, peer_free_failures=1, base_delay=60.0)
    throttle.end(throttle.begin("realm1", "x", "10.0.0.1"), success=False)
    with pytest.raises(Throttled, match="peer address"):
        throttle.begin("realm1", "alice", "10.0.0.1")
    throttle.begin("realm1", "alice", "10.0.0.2")          # alice's one attempt is still there


def test_peer_limit_can_be_switched_off():
    throttle = login_throttle(Clock(), free_failures=100, peer_free_failures=None)
    for i in range(200):
        throttle.end(throttle.begin("realm1", f"u{i}", "10.0.0.1"), success=False)


def test_a_success_is_accepted_after_flooding_evicted_its_record():
    throttle = FailureThrottle(Limits(free_failures=3, max_tracked=10), clock=Clock())
    attempt = throttle.begin("victim")
    for i in range(100):                                   # fresh keys, one failure each: the victim is dropped
        fail(throttle, f"flood{i}")
    assert "victim" not in throttle._records
    assert throttle.end(attempt, success=True) is True


def test_attempts_in_flight_hold_back_only_their_own_source():
    throttle = FailureThrottle(Limits(free_failures=3), clock=Clock())
    for _ in range(3):                                     # an attacker's guesses, still being checked
        throttle.begin("alice", "10.6.6.6")
    with pytest.raises(Throttled, match="in progress"):
        throttle.begin("alice", "10.6.6.6")
    mine = throttle.begin("alice", "10.0.0.1")            # another client is not held back
    assert throttle.end(mine, success=True) is True


def test_check_refuses_only_a_lockout_and_counts_nothing():
    throttle = login_throttle(Clock(), free_failures=1, peer_free_failures=2, base_delay=60.0)
    for _ in range(5):
        throttle.check("realm1", "alice", "10.0.0.1")      # a HELLO: nothing is in flight or counted
    assert len(throttle.authids._records) == 0
    throttle.end(throttle.begin("realm1", "alice", "10.0.0.1"), success=False)
    with pytest.raises(Throttled, match="authid"):
        throttle.check("realm1", "alice", "10.0.0.2")
