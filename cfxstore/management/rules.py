"""The permissions of one role compiled for lookups, with Crossbar's precedence.

For a URI the permission that applies is, in this order:

1. the ``exact`` permission for that URI;
2. the ``wildcard`` permission that matches it (same number of dot-separated
   components, an empty component matches any one) with the longest literal
   text before its first empty component - as Crossbar's static authorizer
   picks among wildcards;
3. the ``prefix`` permission with the longest matching prefix;
4. none: everything is denied.

Crossbar's static authorizer differs in four corner cases, where it denies
and these rules allow what the permissions say: (a) a longer ``exact``
permission that only starts the URI hides the shorter prefixes from it;
(b) it tries only the wildcard with the longest literal start, so a matching
wildcard behind a longer non-matching one is ignored; (c) a wildcard whose
only empty component is the last one never matches; (d) of several wildcards
with the same literal start (``a..x``, ``a..y``) it keeps only the last.
"""

from __future__ import annotations

from typing import Any, Iterable

from cfxstore.mrealm.entities import Permission

__all__ = ["Rules", "authorization", "ACTIONS"]

ACTIONS = ("call", "register", "publish", "subscribe")


class Rules:
    """One role's permissions, indexed by match policy."""

    __slots__ = ("exact", "wildcard", "prefix")

    def __init__(self, permissions: Iterable[Permission]) -> None:
        self.exact: dict[str, Permission] = {}
        wildcard: list[tuple[int, list[str], Permission]] = []
        prefix: list[Permission] = []
        for p in permissions:
            if p.match == "exact":
                self.exact[p.uri] = p
            elif p.match == "prefix":
                prefix.append(p)
            else:
                parts = p.uri.split(".")
                wildcard.append((_literal_length(parts), parts, p))
        wildcard.sort(key=lambda w: -w[0])
        prefix.sort(key=lambda p: -len(p.uri))
        self.wildcard = [(parts, p) for _, parts, p in wildcard]
        self.prefix = prefix

    def lookup(self, uri: str) -> Permission | None:
        """The permission that applies to uri, or None."""
        p = self.exact.get(uri)
        if p is not None:
            return p
        if self.wildcard:
            parts = uri.split(".")
            for wanted, p in self.wildcard:
                if len(wanted) == len(parts) and all(w == "" or w == g for w, g in zip(wanted, parts)):
                    return p
        for p in self.prefix:
            if uri.startswith(p.uri):
                return p
        return None


def _literal_length(parts: list[str]) -> int:
    """Characters before the first empty component (the whole pattern if it has none)."""
    length = 0
    for part in parts:
        if not part:
            return length
        length += len(part) + 1
    return length


def authorization(permission: Permission | None, action: str) -> dict[str, Any]:
    """The answer for Crossbar's router, in the form its static authorizer returns.

    "cache" is always False: Crossbar would otherwise keep the answer for the
    (realm, role, URI, action) for the life of the router worker and never
    see a later change; caching is done by the store-backed authorizer.
    """
    if permission is None:
        allow = disclose = False
    elif action == "call":
        allow, disclose = permission.allow_call, permission.disclose_caller
    elif action == "publish":
        allow, disclose = permission.allow_publish, permission.disclose_publisher
    elif action == "register":
        allow, disclose = permission.allow_register, False
    else:
        allow, disclose = permission.allow_subscribe, False
    answer: dict[str, Any] = {"allow": allow, "cache": False}
    if action in ("call", "publish"):
        answer["disclose"] = disclose
    return answer
