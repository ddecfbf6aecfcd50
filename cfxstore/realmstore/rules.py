"""Which topics a realm store keeps history for, and the stable id that history is stored under.

A node config's "event-history" and "call-queue" entries are URI rules
matched with Crossbar's three policies. The router and the cfxdb import
both key event history by :func:`history_id`, so imported history is read
back by a subscription matching the topic.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Iterable

from cfxstore.errors import InvalidArgument


@dataclasses.dataclass(frozen=True)
class UriRule:
    """One "event-history" or "call-queue" entry."""

    uri: str
    match: str = "exact"
    limit: int | None = None

    def keeps(self, default: int) -> int:
        """How many events the rule's history keeps: its own limit, else the store's ``default``."""
        return self.limit or default


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


def matching(rules: Iterable[UriRule], topic: str) -> list[UriRule]:
    """The rules among rules that topic falls under."""
    return [rule for rule in rules if uri_matches(topic, rule.uri, rule.match)]


def history_id(rule: UriRule) -> int:
    """The stable id a tracked topic's history is stored under (53 bits: exact in JSON)."""
    digest = hashlib.sha256(f"{rule.match}\x00{rule.uri}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**53 - 1)
