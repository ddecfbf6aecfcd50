"""Slow down password guessing: lockouts per (realm, authid) and per client address.

A FailureThrottle counts failed attempts per key. After ``free_failures``
failures (at least one) the key is locked for ``base_delay`` seconds, and
each further failure doubles that (capped at ``max_delay``). Attempts still in
flight count against the limit from the first one, per source (the client
address): one source may have at most ``free_failures - failures`` attempts
of a key running (at least one), so a burst of parallel guesses is admitted
only as far as the free failures reach, while another client's attempts
never wait behind it.

One failure is forgiven per ``max_delay`` seconds without attempts (and
without a lockout), so over
time a key gets at most one guess per ``max_delay`` beyond its free failures,
whether it pauses or not; a record with nothing left to forgive is dropped.

An attempt stops counting as in flight ``attempt_timeout`` seconds after it
began; if its outcome arrives later, a failure still counts and a success is
refused. Whether an attempt is still live depends on the attempt alone, not
on its key's record: a record dropped meanwhile never refuses a success.

Memory is bounded: at most ``max_tracked`` keys are remembered. When full, a
tenth of them is dropped, cleanest first (no active lockout, fewest failures,
oldest), so flooding the tracker with fresh keys cannot release a lockout.

LoginThrottle combines a throttle per (realm, authid) with one per client
address (which a success does not clear: one valid account must not buy an
attacker fresh guesses at others). It calls ``on_settle`` whenever an attempt
ends, so that callers holding attempts back (not locked, only too many in
flight) can try them again.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import time
from typing import Any, Callable, Hashable

from cfxstore.errors import Error
from cfxstore.node.config import ThrottleConfig


@dataclasses.dataclass(frozen=True)
class Limits:
    free_failures: int = 3
    base_delay: float = 1.0
    max_delay: float = 300.0
    max_tracked: int = 100_000
    attempt_timeout: float = 30.0
    clear_on_success: bool = True


class Throttled(Error):
    """An attempt refused for now: the key is ``locked`` for ``wait`` seconds, or has enough attempts in flight."""

    def __init__(self, wait: float, what: str, locked: bool) -> None:
        super().__init__(f"too many failed attempts for this {what}; retry in {wait:.1f} s" if locked else
                         f"too many attempts in progress for this {what}; retry in a moment")
        self.wait = wait
        self.what = what
        self.locked = locked


class Attempt:
    """One admitted attempt; hand it back to end() or cancel()."""

    __slots__ = ("key", "ident", "started", "locked_for")

    def __init__(self, key: Hashable, ident: int, started: float) -> None:
        self.key = key
        self.ident = ident
        self.started = started
        #: Seconds of the lockout this attempt's failure began (None: it began none), for the audit log.
        self.locked_for: float | None = None


class _Record:
    __slots__ = ("failures", "locked_until", "pending", "last")

    def __init__(self, now: float) -> None:
        self.failures = 0
        self.locked_until = 0.0
        self.pending: dict[int, tuple[float, Hashable]] = {}   # attempt ident -> (start time, source)
        self.last = now


class FailureThrottle:
    def __init__(self, limits: Limits, what: str = "authid", clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._what = what
        self._clock = clock
        self._records: dict[Hashable, _Record] = {}
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._records)

    def check(self, key: Hashable) -> None:
        """Raise Throttled if key is locked out now (nothing is counted)."""
        now = self._clock()
        record = self._live_record(key, now)
        if record is not None and now < record.locked_until:
            raise Throttled(record.locked_until - now, self._what, locked=True)

    def begin(self, key: Hashable, source: Hashable = None) -> Attempt:
        """Admit an attempt for key from source, or raise Throttled."""
        now = self._clock()
        limits = self._limits
        record = self._live_record(key, now)
        if record is not None:
            if now < record.locked_until:
                raise Throttled(record.locked_until - now, self._what, locked=True)
            mine = [started for started, src in record.pending.values() if src == source]
            if len(mine) >= max(1, limits.free_failures - record.failures):
                raise Throttled(max(min(mine) + limits.attempt_timeout - now, 0.001), self._what, locked=False)
        else:
            record = self._insert(key, now)
        ident = next(self._ids)
        record.pending[ident] = (now, source)
        record.last = now
        return Attempt(key, ident, now)

    def end(self, attempt: Attempt, success: bool) -> bool:
        """Record the outcome; False if the attempt had expired (a late success must then be refused)."""
        now = self._clock()
        record = self._records.get(attempt.key)
        if record is not None:
            record.pending.pop(attempt.ident, None)
        live = now - attempt.started <= self._limits.attempt_timeout
        if success:
            if live and record is not None and self._limits.clear_on_success:
                if record.pending:  # other attempts still running keep their places
                    record.failures, record.locked_until = 0, 0.0
                else:
                    del self._records[attempt.key]
            return live
        if record is None:
            record = self._insert(attempt.key, now)
        record.failures += 1
        excess = record.failures - max(self._limits.free_failures, 1) + 1
        if excess > 0:
            delay = min(self._limits.base_delay * 2 ** (excess - 1), self._limits.max_delay)
            record.locked_until = max(record.locked_until, now + delay)
            attempt.locked_for = delay
        record.last = now
        return live

    def cancel(self, attempt: Attempt) -> None:
        """Forget an attempt that was never tried (refused elsewhere): neither success nor failure."""
        record = self._records.get(attempt.key)
        if record is not None:
            record.pending.pop(attempt.ident, None)

    # --- internals ---

    def _live_record(self, key: Hashable, now: float) -> _Record | None:
        record = self._records.get(key)
        if record is None:
            return None
        timeout = self._limits.attempt_timeout
        for ident in [i for i, (started, _) in record.pending.items() if now - started > timeout]:
            del record.pending[ident]
        if self._forgettable(record, now):
            del self._records[key]
            return None
        return record

    def _forgettable(self, record: _Record, now: float) -> bool:
        """Forgive one failure per max_delay without attempts (a leaky bucket); True once nothing is left."""
        if record.pending or now < record.locked_until:
            return False
        period = self._limits.max_delay
        since = max(record.last, record.locked_until)  # time spent locked out earns nothing
        if period <= 0:
            record.failures = 0
        elif now - since >= period:
            periods = int((now - since) // period)
            record.failures = max(0, record.failures - periods)
            record.last = since + periods * period
        return record.failures == 0

    def _insert(self, key: Hashable, now: float) -> _Record:
        if len(self._records) >= self._limits.max_tracked:
            self._evict(now)
        record = self._records[key] = _Record(now)
        return record

    def _evict(self, now: float) -> None:
        """Drop forgettable records, then the cleanest tenth: never an active lockout before a clean key."""
        for key in [k for k, r in self._records.items() if self._forgettable(r, now)]:
            del self._records[key]
        excess = len(self._records) - self._limits.max_tracked + max(1, self._limits.max_tracked // 10)
        if excess <= 0:
            return
        cleanest = heapq.nsmallest(excess, self._records.items(),
                                   key=lambda kv: (now < kv[1].locked_until, kv[1].failures + len(kv[1].pending),
                                                  kv[1].last))
        for key, _ in cleanest:
            del self._records[key]


class LoginThrottle:
    """Admits a login attempt only if both its (realm, authid) and its client address may try now."""

    def __init__(self, config: ThrottleConfig, clock: Callable[[], float] = time.monotonic) -> None:
        common: dict[str, Any] = dict(base_delay=config.base_delay, max_delay=config.max_delay, max_tracked=config.max_tracked,
                      attempt_timeout=config.attempt_timeout)
        self.authids = FailureThrottle(Limits(free_failures=config.free_failures, **common), "authid", clock)
        self.peers = None if config.peer_free_failures is None else FailureThrottle(
            Limits(free_failures=config.peer_free_failures, clear_on_success=False, **common), "peer address", clock)
        self.on_settle: Callable[[], None] = lambda: None
        self.clock = clock

    def check(self, realm: str, authid: str, peer: str | None) -> None:
        """Raise Throttled if the authid or the client address is locked out now (nothing is counted)."""
        self.authids.check((realm, authid))
        if peer is not None and self.peers is not None:
            self.peers.check(peer)

    def begin(self, realm: str, authid: str, peer: str | None) -> tuple[Attempt, Attempt | None]:
        """Admit an attempt (raises Throttled); pass the result to end() or cancel()."""
        by_authid = self.authids.begin((realm, authid), peer)
        if peer is None or self.peers is None:
            return by_authid, None
        try:
            return by_authid, self.peers.begin(peer)
        except Throttled:
            self.authids.cancel(by_authid)
            raise

    def end(self, attempts: tuple[Attempt, Attempt | None], success: bool) -> bool:
        """Record the outcome on both; False if the attempt had expired."""
        by_authid, by_peer = attempts
        live = self.authids.end(by_authid, success)
        if by_peer is not None and self.peers is not None:
            live = self.peers.end(by_peer, success) and live
        self.on_settle()
        return live

    def cancel(self, attempts: tuple[Attempt, Attempt | None]) -> None:
        by_authid, by_peer = attempts
        self.authids.cancel(by_authid)
        if by_peer is not None and self.peers is not None:
            self.peers.cancel(by_peer)
        self.on_settle()
