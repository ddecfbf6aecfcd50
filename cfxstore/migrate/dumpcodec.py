"""Stored values as JSON and back, losslessly.

JSON has no bytes, UUIDs, tuples, non-string map keys or non-finite
floats, so those are written as one-key tag objects:

    {"$bytes": "<base64>"}   {"$uuid": "<uuid>"}   {"$tuple": [...]}
    {"$map": [[key, value], ...]}   {"$float": "nan" | "inf" | "-inf"}

A dict whose keys are all strings and none starts with "$" is written as
a JSON object; any other dict is written as "$map", so no user data can
be mistaken for a tag.
"""

from __future__ import annotations

import base64
import binascii
import math
import uuid
from typing import Any

from cfxstore.errors import Error


class CodecError(Error, ValueError):
    """A value that cannot be written, or a tagged object that cannot be read."""


_INF = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def encode(value: Any) -> Any:
    """value as JSON-compatible data (see the module docstring)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, tuple):
        return {"$tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {"$map": [[encode(k), encode(v)] for k, v in value.items()]}
    raise CodecError(f"cannot write a value of type {type(value).__name__} to a dump")


def decode(data: Any) -> Any:
    """The inverse of encode."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        raise CodecError(f"unexpected JSON value of type {type(data).__name__}")
    if len(data) == 1:
        (tag, inner), = data.items()
        if tag.startswith("$"):
            return _untag(tag, inner)
    for k in data:
        if k.startswith("$"):
            raise CodecError(f"object key {k!r} starts with '$' outside a tag")
    return {k: decode(v) for k, v in data.items()}


def _untag(tag: str, inner: Any) -> Any:
    if tag == "$bytes":
        if not isinstance(inner, str):
            raise CodecError("$bytes must hold a base64 string")
        try:
            return base64.b64decode(inner, validate=True)
        except (binascii.Error, ValueError):
            raise CodecError(f"$bytes holds invalid base64 {inner[:40]!r}") from None
    if tag == "$uuid":
        try:
            return uuid.UUID(inner)
        except (TypeError, ValueError, AttributeError):
            raise CodecError(f"$uuid holds an invalid UUID {inner!r}") from None
    if tag == "$tuple":
        if not isinstance(inner, list):
            raise CodecError("$tuple must hold a list")
        return tuple(decode(v) for v in inner)
    if tag == "$map":
        if not isinstance(inner, list) or not all(isinstance(p, list) and len(p) == 2 for p in inner):
            raise CodecError("$map must hold a list of [key, value] pairs")
        out = {}
        for k, v in inner:
            key = decode(k)
            try:
                out[key] = decode(v)
            except TypeError:
                raise CodecError(f"$map key {key!r} cannot be a map key") from None
        return out
    if tag == "$float":
        if inner not in _INF:
            raise CodecError(f"$float must be 'nan', 'inf' or '-inf', got {inner!r}")
        return _INF[inner]
    raise CodecError(f"unknown tag {tag!r}")
