"""The one time convention of cfxstore: UTC, signed int nanoseconds since the Unix epoch."""

from __future__ import annotations

import datetime
import time

NS_PER_SECOND = 1_000_000_000


def now_ns() -> int:
    """The current UTC time in nanoseconds."""
    return time.time_ns()


def ns_to_datetime(ns: int) -> datetime.datetime:
    """An aware UTC datetime for display (microsecond precision)."""
    return datetime.datetime.fromtimestamp(ns // 1000 / 1_000_000, tz=datetime.timezone.utc)


def seconds_to_ns(seconds: int | float) -> int:
    return int(seconds * NS_PER_SECOND)
