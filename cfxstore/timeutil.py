"""The one time convention of cfxstore: UTC, signed int nanoseconds since the Unix epoch."""

from __future__ import annotations

import datetime
import time

NS_PER_SECOND = 1_000_000_000


#: The current UTC time in nanoseconds (time.time_ns itself: no Python frame on hot paths).
now_ns = time.time_ns


def ns_to_datetime(ns: int) -> datetime.datetime:
    """An aware UTC datetime for display (microsecond precision)."""
    return datetime.datetime.fromtimestamp(ns // 1000 / 1_000_000, tz=datetime.timezone.utc)


def seconds_to_ns(seconds: int | float) -> int:
    return int(seconds * NS_PER_SECOND)
