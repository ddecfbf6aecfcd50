"""Permission precedence: exact, then wildcard, then longest prefix; checked against Crossbar's static authorizer."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from crossbar.router.role import RouterRoleStaticAuth

from cfxstore.management.rules import ACTIONS, Rules, authorization
from cfxstore.mrealm.entities import Permission

ROLE = uuid.uuid4()

# (uri, match, call, register, publish, subscribe, disclose)
PERMISSIONS = [
    ("com.app.exact", "exact", True, False, False, False, True),
    ("com.app.", "prefix", False, False, False, True, False),
    ("com.", "prefix", False, False, True, False, True),
    ("com..rpc", "wildcard", False, True, False, False, False),
    ("org.app..deep", "wildcard", True, True, True, True, False),
    ("net.", "prefix", True, True, True, True, False),
    ("net.closed", "exact", False, False, False, False, False),
]

URIS = ["com.app.exact", "com.app.x", "com.other", "com.foo.rpc", "com.app.rpc", "org.app.x.deep", "org.app.deep",
        "org.example", "com", "net.closed", "net.open", "com.app.", "com.foo.rpc.more"]


def _stored(row) -> Permission:
    uri, match, call, register, publish, subscribe, disclose = row
    return Permission(role_oid=ROLE, uri=uri, match=match, allow_call=call, allow_register=register,
                      allow_publish=publish, allow_subscribe=subscribe, disclose_caller=disclose,
                      disclose_publisher=disclose)


def _crossbar(row) -> dict:
    uri, match, call, register, publish, subscribe, disclose = row
    return {"uri": uri, "match": match, "cache": True,
            "allow": {"call": call, "register": register, "publish": publish, "subscribe": subscribe},
            "disclose": {"caller": disclose, "publisher": disclose}}


@pytest.mark.parametrize("uri", URIS)
@pytest.mark.parametrize("action", ACTIONS)
def test_decisions_match_crossbars_static_authorizer(uri, action):
    static = RouterRoleStaticAuth(None, "role", permissions=[_crossbar(r) for r in PERMISSIONS])
    theirs = static.authorize(None, uri, action, {})
    ours = authorization(Rules(map(_stored, PERMISSIONS)).lookup(uri), action)
    assert ours["allow"] == theirs["allow"]
    assert ours.get("disclose", False) == theirs.get("disclose", False)
    assert ours["cache"] is False  # Crossbar must never cache a store-backed answer


def test_exact_beats_wildcard_beats_longest_prefix():
    rules = Rules([_stored(r) for r in PERMISSIONS])
    assert rules.lookup("com.app.exact").uri == "com.app.exact"
    assert rules.lookup("com.app.rpc").uri == "com..rpc"
    assert rules.lookup("com.app.zzz").uri == "com.app."
    assert rules.lookup("com.zzz").uri == "com."
    assert rules.lookup("org.zzz") is None


def test_the_wildcard_with_the_longest_literal_start_wins():
    rules = Rules([_stored(("a..c", "wildcard", True, False, False, False, False)),
                   _stored(("a.b.", "wildcard", False, False, False, False, False))])
    assert rules.lookup("a.b.c").uri == "a.b."


def test_where_crossbar_denies_a_uri_that_a_longer_exact_permission_only_starts():
    # Documented divergence: Crossbar's trie finds "com.app.exact" for "com.app.exact.more", sees it is
    # not a prefix permission and falls back to deny; the stored rules use the prefix "com.app." instead.
    static = RouterRoleStaticAuth(None, "role", permissions=[_crossbar(r) for r in PERMISSIONS])
    assert static.authorize(None, "com.app.exact.more", "subscribe", {})["allow"] is False
    assert authorization(Rules(map(_stored, PERMISSIONS)).lookup("com.app.exact.more"), "subscribe")["allow"]


def test_where_crossbar_ignores_a_matching_wildcard_behind_a_longer_one_that_does_not_match():
    # Documented divergence: Crossbar tries only the wildcard with the longest literal start.
    rows = [("com..rpc", "wildcard", False, True, False, False, False),
            ("com.app..deep", "wildcard", False, False, False, False, False)]
    static = RouterRoleStaticAuth(None, "role", permissions=[_crossbar(r) for r in rows])
    assert static.authorize(None, "com.app.rpc", "register", {})["allow"] is False
    assert authorization(Rules(map(_stored, rows)).lookup("com.app.rpc"), "register")["allow"] is True


def test_where_crossbar_keeps_one_wildcard_per_literal_start():
    rows = [("com..a", "wildcard", True, False, False, False, False),
            ("com..b", "wildcard", False, False, False, False, False)]
    static = RouterRoleStaticAuth(None, "role", permissions=[_crossbar(r) for r in rows])
    assert static.authorize(None, "com.x.a", "call", {})["allow"] is False
    assert authorization(Rules(map(_stored, rows)).lookup("com.x.a"), "call")["allow"] is True


def test_no_permission_denies_everything():
    for action in ACTIONS:
        assert authorization(None, action)["allow"] is False


_PART = st.sampled_from(["a", "b", "ab"])
_URI = st.lists(_PART, min_size=1, max_size=3).map(".".join)
_ROW = st.tuples(st.one_of(_URI, _URI.map(lambda u: u + ".")), st.sampled_from(["exact", "prefix"]),
                 st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans())


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(_ROW, max_size=6, unique_by=lambda r: r[0]), uri=_URI, action=st.sampled_from(ACTIONS))
def test_exact_and_prefix_decisions_match_crossbar_outside_the_documented_corner(rows, uri, action):
    # Corner (a): a longer exact permission that only starts the URI makes Crossbar deny.
    assume(not any(m == "exact" and u != uri and uri.startswith(u) for u, m, *_ in rows))
    static = RouterRoleStaticAuth(None, "role", permissions=[_crossbar(r) for r in rows])
    theirs = static.authorize(None, uri, action, {})
    ours = authorization(Rules(map(_stored, rows)).lookup(uri), action)
    assert (ours["allow"], ours.get("disclose", False)) == (theirs["allow"], theirs.get("disclose", False))
