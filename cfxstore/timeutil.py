"""The one time convention of cfxstore: UTC, signed int nanoseconds since the Unix epoch."""

from __future__ import annotations

import datetime
import time

from cfxstore.errors import InvalidArgument

NS_PER_SECOND = 1_000_000_000


#: The current UTC time in nanoseconds (time.time_ns itself: no Python frame on hot paths).
now_ns = time.time_ns


def ns_to_datetime(ns: int) -> datetime.datetime:
    """An aware UTC datetime for display (microsecond precision)."""
    return datetime.datetime.fromtimestamp(ns // 1000 / 1_000_000, tz=datetime.timezone.utc)


def seconds_to_ns(seconds: int | float) -> int:
    return int(seconds * NS_PER_SECOND)


_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": NS_PER_SECOND, "m": 60 * NS_PER_SECOND,
          "h": 3600 * NS_PER_SECOND, "d": 86400 * NS_PER_SECOND, "w": 7 * 86400 * NS_PER_SECOND}


def parse_time(text: str, *, now: int | None = None) -> int:
    """int ns from what people type: int ns, ISO 8601 (UTC unless it has an offset) or a duration ago ("90s", "1h", "7d").

    ValueError names the value and the accepted forms.
    """
    value = text.strip()
    if value.lstrip("-").isdigit():
        return int(value)
    number, unit = value.rstrip("abcdefghijklmnopqrstuvwxyz"), value.lstrip("0123456789.")
    if number and unit in _UNITS:
        try:
            return (now_ns() if now is None else now) - int(float(number) * _UNITS[unit])
        except ValueError:
            pass
    else:
        try:
            moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.timezone.utc)
            delta = moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
            return (delta.days * 86400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1000
    raise InvalidArgument(f"{text!r} is not a time: give ISO 8601 (2026-01-31T12:00:00Z), a duration ago "
                          f"(30s, 15m, 1h, 7d, 2w) or int nanoseconds since the epoch")


def format_time(ns: int) -> str:
    """ISO 8601 UTC with a Z, to the microsecond when there is a fraction."""
    return ns_to_datetime(ns).isoformat().replace("+00:00", "Z")
