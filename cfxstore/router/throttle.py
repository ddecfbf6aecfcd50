"""Slow down password guessing: an in-memory lockout per (realm, authid).

The first ``free_failures`` failures cost nothing. Each failure after that
locks the authid for ``base_delay * 2**n`` seconds (capped at ``max_delay``);
a success clears the record. While an authid has used up its free failures,
only one verification runs at a time, so parallel guesses cannot slip past
the lockout. At most ``max_tracked`` authids are remembered (oldest dropped).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable, Hashable

from cfxstore.router.config import ThrottleConfig


class _Record:
    __slots__ = ("failures", "locked_until", "inflight", "last")

    def __init__(self) -> None:
        self.failures = 0
        self.locked_until = 0.0
        self.inflight = 0
        self.last = 0.0


class FailureThrottle:
    def __init__(self, config: ThrottleConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._records: OrderedDict[Hashable, _Record] = OrderedDict()

    def _record(self, key: Hashable, now: float) -> _Record | None:
        record = self._records.get(key)
        if record is not None and record.inflight == 0 and now - record.last > self._config.max_delay * 2 \
                and now >= record.locked_until:
            # Long quiet: forget old failures.
            del self._records[key]
            return None
        return record

    def begin(self, key: Hashable) -> float:
        """Start an attempt: 0.0 if it may proceed (call end() later), else seconds to wait."""
        now = self._clock()
        record = self._record(key, now)
        if record is not None:
            if now < record.locked_until:
                return record.locked_until - now
            if record.inflight and record.failures >= self._config.free_failures:
                return max(self._config.base_delay, 0.001)
        else:
            record = self._records[key] = _Record()
            if len(self._records) > self._config.max_tracked:
                self._records.popitem(last=False)
        record.inflight += 1
        record.last = now
        self._records.move_to_end(key)
        return 0.0

    def end(self, key: Hashable, success: bool) -> None:
        """Finish an attempt started with begin()."""
        record = self._records.get(key)
        if record is None:
            return
        record.inflight = max(0, record.inflight - 1)
        if success:
            del self._records[key]
            return
        record.failures += 1
        excess = record.failures - self._config.free_failures
        if excess > 0:
            delay = min(self._config.base_delay * 2 ** (excess - 1), self._config.max_delay)
            record.locked_until = self._clock() + delay
        record.last = self._clock()
