"""WAMP URI pattern matching with Crossbar's three policies."""

from __future__ import annotations

from cfxstore.errors import InvalidArgument


def uri_matches(uri: str, pattern: str, match: str) -> bool:
    """True if ``uri`` matches ``pattern`` under "exact", "prefix" or "wildcard".

    Wildcard patterns have the same number of dot-separated components as the
    URI; an empty component matches any one component.
    """
    if match == "exact":
        return uri == pattern
    if match == "prefix":
        return uri.startswith(pattern)
    if match == "wildcard":
        parts = uri.split(".")
        wanted = pattern.split(".")
        return len(parts) == len(wanted) and all(w == "" or w == p for w, p in zip(wanted, parts))
    raise InvalidArgument(f"unknown match policy {match!r}")
