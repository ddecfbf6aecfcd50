"""The permissions of one role compiled for lookups, deciding as Crossbar's static authorizer does.

Crossbar's RouterRoleStaticAuth (crossbar/router/role.py) splits a role's
permissions by whether their URI contains "..", not by their match policy:

* **plain** URIs (no ".."): the one that is the longest character prefix of
  the URI is found; it applies if it is a ``prefix`` permission or equals the
  URI, otherwise nothing applies (a longer ``exact`` permission that only
  starts the URI hides shorter prefixes);
* **patterns** (with ".."), keyed by the text before the first "..": unless
  the plain lookup found an ``exact`` permission, the pattern with the longest
  key that starts the URI is tried, and applies if it matches (components
  compared as autobahn's Pattern does). Of several patterns with the same key
  the last one given counts; a pattern that is not a valid Pattern never
  matches.

Rules takes permissions in the order Crossbar's config would list them; the
store-backed authorizer gives them in URI order (the order of
``cfxstore permissions list``). tests/management/test_rules.py checks the
decisions against RouterRoleStaticAuth itself.

Crossbar decides a prefix or wildcard subscription (or registration) by the
permission of its URI text alone, so an exact permission on ``com.app.x``
lets a prefix subscription on ``com.app.x`` receive ``com.app.x_admin``.
``Rules.covers`` answers the strict question instead: does the permission
that decides each URI the subscription can match allow the action? It may
say no where a closer look would say yes (a pattern or an exact permission
that only might decide some of those URIs counts against it), never the
reverse.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from cfxstore.mrealm.entities import Permission

__all__ = ["Rules", "authorization", "allows", "ACTIONS", "MATCHES"]

ACTIONS = ("call", "register", "publish", "subscribe")
#: Match policies of a subscription or registration.
MATCHES = ("exact", "prefix", "wildcard")

# autobahn.wamp.uri.Pattern's component grammar (endpoint patterns), facts taken from its source.
_COMPONENT = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_NAMED = re.compile(r"^<([a-z][a-z0-9_]*)>$")
_NAMED_TYPED = re.compile(r"^<([a-z][a-z0-9_]*):([a-z]*)>$")
_ANY = r"([^\s\.#]+)"

#: A compiled pattern: the URI -> whether it matches.
Matcher = Callable[[str], bool]


class Rules:
    """One role's permissions, indexed as Crossbar indexes them."""

    __slots__ = ("plain", "patterns", "_plain_lengths", "_pattern_lengths")

    def __init__(self, permissions: Iterable[Permission]) -> None:
        self.plain: dict[str, Permission] = {}
        self.patterns: dict[str, tuple[Matcher | None, Permission]] = {}
        for p in permissions:
            cut = p.uri.find("..")
            if cut < 0:
                self.plain[p.uri] = p
            else:  # a later pattern with the same start replaces the earlier one
                self.patterns[p.uri[:cut]] = (_compile(p.uri), p)
        self._plain_lengths = sorted({len(k) for k in self.plain}, reverse=True)
        self._pattern_lengths = sorted({len(k) for k in self.patterns}, reverse=True)

    def lookup(self, uri: str) -> Permission | None:
        """The permission that applies to uri, or None."""
        found = _longest_prefix(self.plain, self._plain_lengths, uri)
        if found is not None and found.match != "prefix" and found.uri != uri:
            found = None
        if found is not None and found.match == "exact":
            return found
        entry = _longest_prefix(self.patterns, self._pattern_lengths, uri)
        if entry is not None:
            matcher, pattern = entry
            if matcher is not None and matcher(uri):
                return pattern
        return found

    def covers(self, uri: str, match: str, action: str) -> bool:
        """True if every URI that a subscription or registration on uri with match policy match can
        match is allowed action (conservatively: see the module docstring)."""
        parts = uri.split(".")
        if match == "exact" or (match == "wildcard" and "" not in parts):
            return allows(self.lookup(uri), action)
        if match == "prefix":
            start = uri
        elif match == "wildcard":
            start = "".join(f"{part}." for part in parts[:parts.index("")])
        else:
            return False
        # Only permissions whose URI (or text before "..") can start one of those URIs can decide one.
        plain = [p for key, p in self.plain.items() if _may_start(key, uri, match)]
        patterns = [(key, matcher, p) for key, (matcher, p) in self.patterns.items()
                    if matcher is not None and _may_start(key, uri, match)]
        if not all(allows(p, action) for _, _, p in patterns):
            return False
        base = _longest_prefix(self.plain, [n for n in self._plain_lengths if n <= len(start)], start)
        if base is not None and base.match == "prefix" and allows(base, action):
            # The base decides every URI no longer permission starts; each of those must allow, and
            # none may be an exact one that only starts some URI (which leaves it to nothing).
            return all(allows(p, action) and (p.match == "prefix" or not _may_start(p.uri, uri, match, proper=True))
                       for p in plain if len(p.uri) > len(start))
        # Else one pattern must match every URI, with no longer pattern start to hide it (wildcards only).
        longest = max(patterns, key=lambda entry: len(entry[0]), default=None)
        return (match == "wildcard" and longest is not None and _pattern_covers(longest[2].uri, parts)
                and all(allows(p, action) for p in plain if p.match != "prefix"))

    def permissions(self) -> list[Permission]:
        """Every permission that can decide (patterns hidden by a later one with the same start are not)."""
        return [*self.plain.values(), *(p for _, p in self.patterns.values())]


def _longest_prefix(table: dict[str, Any], lengths: list[int], uri: str) -> Any:
    n = len(uri)
    for length in lengths:
        if length <= n:
            value = table.get(uri[:length])
            if value is not None:
                return value
    return None


def _may_start(key: str, uri: str, match: str, proper: bool = False) -> bool:
    """True if key starts (proper: starts and is shorter than) some URI that (uri, match) matches."""
    if match == "prefix":
        return key.startswith(uri) or uri.startswith(key)
    parts, keys = uri.split("."), key.split(".")
    if len(keys) > len(parts):
        return False
    for part, k in zip(parts, keys[:-1]):
        if not k or (part and part != k):
            return False
    last, part = keys[-1], parts[len(keys) - 1]
    if part and not part.startswith(last):
        return False
    return not proper or len(keys) < len(parts) or not part or len(last) < len(part)


def _pattern_covers(pattern: str, parts: list[str]) -> bool:
    """True if the permission pattern matches every URI that the wildcard URI of these parts matches."""
    components = pattern.split(".")
    if len(components) != len(parts):
        return False
    for component, part in zip(components, parts):
        typed = _NAMED_TYPED.match(component)
        if component == "" or _NAMED.match(component) or (typed and typed.group(2) != "int"):
            continue
        if not part or (typed and not part.isdigit()) or (not typed and component != part):
            return False
    return True


def _compile(uri: str) -> Matcher | None:
    """A matcher for a pattern URI, or None where autobahn's Pattern refuses it (it never matches)."""
    parts: list[str] = []
    names: set[str] = set()
    ints: list[str] = []
    for i, component in enumerate(components := uri.split(".")):
        typed = _NAMED_TYPED.match(component)
        named = typed or _NAMED.match(component)
        if named:
            name = named.group(1)
            kind = typed.group(2) if typed else "str"
            if name in names or kind not in ("str", "string", "int", "suffix") or (
                    kind == "suffix" and i != len(components) - 1):
                return None
            names.add(name)
            if kind == "int":
                ints.append(name)
            parts.append(f"(?P<{name}>{_ANY[1:-1]})")
        elif _COMPONENT.match(component):
            parts.append(component)
        elif component == "":
            parts.append(_ANY)
        else:
            return None
    regex = re.compile("^" + r"\.".join(parts) + "$")

    def matches(candidate: str) -> bool:
        m = regex.match(candidate)
        if m is None:
            return False
        try:  # a typed component must convert, as Pattern.match converts it
            for name in ints:
                int(m.group(name))
        except ValueError:
            return False
        return True

    return matches


def allows(permission: Permission | None, action: str) -> bool:
    """Whether permission allows action (None allows nothing)."""
    return bool(authorization(permission, action)["allow"])


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
