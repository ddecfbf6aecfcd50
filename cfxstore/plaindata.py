"""Plain data: what WAMP carries and CBOR stores as given.

A record made of validated fields plus plain data always encodes, so callers
that refuse records where they are made (the router's write-behind) check
this instead of encoding every record twice.
"""

from __future__ import annotations

from typing import Any

from cfxstore.errors import InvalidArgument

_PLAIN = (str, int, float, bool, bytes, type(None))
MAX_DEPTH = 32


def require_plain(name: str, value: Any, depth: int = 0) -> None:
    """InvalidArgument naming ``name`` unless value is dicts with str keys, lists, str, numbers, bytes or None."""
    if isinstance(value, _PLAIN):
        return
    if depth >= MAX_DEPTH:
        raise InvalidArgument(f"{name}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidArgument(f"{name}: keys must be strings, got {type(key).__name__}")
            require_plain(name, item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            require_plain(name, item, depth + 1)
    else:
        raise InvalidArgument(f"{name}: cannot store a value of type {type(value).__name__}")
