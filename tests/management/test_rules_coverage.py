"""Strict matching: Rules.covers says yes only where every URI a prefix or wildcard match can reach is allowed."""

from __future__ import annotations

import itertools
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfxstore.management.rules import Rules, allows
from cfxstore.mrealm.entities import Permission

ROLE = uuid.uuid4()
WORDS = ["a", "b", "ab", "x"]


def _perm(uri: str, match: str = "exact", subscribe: bool = True) -> Permission:
    return Permission(role_oid=ROLE, uri=uri, match=match, allow_subscribe=subscribe)


def _reachable(uri: str, match: str) -> list[str]:
    """A sample of the URIs the subscription matches: every one this test's permissions could tell apart."""
    if match == "prefix":
        tails = ["", "_admin", "b", "x.a"] + [f"{sep}{w}" for sep in ("", ".") for w in WORDS] + [".a.b.x", ".ab.a"]
        return [uri + tail for tail in tails]
    choices = [WORDS if part == "" else [part] for part in uri.split(".")]
    return [".".join(c) for c in itertools.product(*choices)]


@pytest.mark.parametrize("permissions, uri, match, covered", [
    ([_perm("com.app.x")], "com.app.x", "prefix", False),                       # the reported hole
    ([_perm("com.app.x", "prefix")], "com.app.x", "prefix", True),
    ([_perm("com.app.", "prefix")], "com.app.x", "prefix", True),
    ([_perm("", "prefix"), _perm("cfxstore.", "prefix", False)], "", "prefix", False),
    ([_perm("", "prefix"), _perm("cfxstore.", "prefix", False)], "cfx", "prefix", False),
    ([_perm("", "prefix"), _perm("cfxstore.", "prefix", False)], "com.example.", "prefix", True),
    ([_perm("", "prefix"), _perm("cfxstore.", "prefix", False)], "..x", "wildcard", False),
    ([_perm("", "prefix"), _perm("cfxstore.", "prefix", False)], "com..x", "wildcard", True),
    ([_perm("com.app.", "prefix"), _perm("com.app.x.secret")], "com.app.x", "prefix", False),
    ([_perm("com.app..update", "wildcard")], "com.app..update", "wildcard", True),
    ([_perm("com.app..update", "wildcard")], "com.app..", "wildcard", False),
    ([_perm("com..<id:int>.update", "wildcard")], "com...update", "wildcard", False),
    ([_perm("com..<id:int>.update", "wildcard")], "com..7.update", "wildcard", True),
])
def test_chosen_cases(permissions, uri, match, covered):
    assert Rules(permissions).covers(uri, match, "subscribe") is covered


def test_an_exact_match_is_decided_as_crossbar_decides_it():
    rules = Rules([_perm("com.app.x")])
    assert rules.covers("com.app.x", "exact", "subscribe") and not rules.covers("com.app.y", "exact", "subscribe")


_uri = st.lists(st.sampled_from(WORDS + [""]), min_size=1, max_size=3).map(".".join)
_permission = st.builds(lambda uri, match, allow: _perm(uri, match, allow), _uri,
                        st.sampled_from(["exact", "prefix", "wildcard"]), st.booleans())


@settings(max_examples=400, deadline=None)
@given(permissions=st.lists(_permission, max_size=5), uri=_uri, match=st.sampled_from(["prefix", "wildcard"]))
def test_covered_means_every_reachable_uri_is_allowed(permissions, uri, match):
    rules = Rules(permissions)
    if rules.covers(uri, match, "subscribe"):
        for reached in _reachable(uri, match):
            assert allows(rules.lookup(reached), "subscribe"), (reached, permissions)
