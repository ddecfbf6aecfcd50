"""The per-authid lockout of failed logins."""

from __future__ import annotations

from cfxstore.router.config import ThrottleConfig
from cfxstore.router.throttle import FailureThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: FailureThrottle, key="a") -> float:
    wait = throttle.begin(key)
    if not wait:
        throttle.end(key, success=False)
    return wait


def test_free_failures_then_exponential_lockout():
    clock = Clock()
    throttle = FailureThrottle(ThrottleConfig(free_failures=2, base_delay=1.0, max_delay=4.0), clock)
    assert [fail(throttle) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert throttle.begin("a") == 1.0                      # third failure: locked for 1 s
    clock.now += 1.0
    assert fail(throttle) == 0.0                           # fourth failure: 2 s
    assert throttle.begin("a") == 2.0
    clock.now += 2.0
    fail(throttle)
    clock.now += 0.5
    assert throttle.begin("a") == 3.5                      # capped at max_delay 4 s


def test_success_clears_the_record():
    clock = Clock()
    throttle = FailureThrottle(ThrottleConfig(free_failures=1, base_delay=1.0), clock)
    fail(throttle)
    assert throttle.begin("a") == 0.0
    throttle.end("a", success=True)
    fail(throttle)
    assert throttle.begin("a") == 0.0


def test_other_authids_are_not_affected():
    throttle = FailureThrottle(ThrottleConfig(free_failures=0, base_delay=5.0), Clock())
    fail(throttle, "a")
    assert throttle.begin("a") > 0
    assert throttle.begin("b") == 0.0


def test_parallel_guesses_are_serialised_after_the_free_failures():
    throttle = FailureThrottle(ThrottleConfig(free_failures=1, base_delay=1.0), Clock())
    fail(throttle)
    assert throttle.begin("a") == 0.0                      # one attempt in flight ...
    assert throttle.begin("a") > 0                         # ... a second one must wait


def test_memory_is_bounded():
    throttle = FailureThrottle(ThrottleConfig(max_tracked=10), Clock())
    for i in range(100):
        fail(throttle, i)
    assert len(throttle._records) <= 10
