"""Permission decisions equal those of Crossbar's own static authorizer for the same permissions."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
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
        "org.example", "com", "net.closed", "net.open", "com.app.", "com.foo.rpc.more", "com.app.exact.more"]


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


def _decisions(rows, uri, action):
    """(Crossbar's, ours) as (allow, disclose), the permissions given to both in the same order."""
    theirs = RouterRoleStaticAuth(None, "role", permissions=[_crossbar(r) for r in rows]).authorize(
        None, uri, action, {})
    ours = authorization(Rules(map(_stored, rows)).lookup(uri), action)
    assert ours["cache"] is False  # Crossbar must never cache a store-backed answer
    return (theirs["allow"], theirs.get("disclose", False)), (ours["allow"], ours.get("disclose", False))


@pytest.mark.parametrize("uri", URIS)
@pytest.mark.parametrize("action", ACTIONS)
def test_decisions_equal_crossbars_static_authorizer(uri, action):
    theirs, ours = _decisions(PERMISSIONS, uri, action)
    assert ours == theirs


def test_exact_then_wildcard_then_longest_prefix():
    rules = Rules([_stored(r) for r in PERMISSIONS])
    assert rules.lookup("com.app.exact").uri == "com.app.exact"
    assert rules.lookup("com.app.rpc").uri == "com..rpc"
    assert rules.lookup("com.app.zzz").uri == "com.app."
    assert rules.lookup("com.zzz").uri == "com."
    assert rules.lookup("org.zzz") is None


# The corner cases where a reading of the permissions alone would allow and Crossbar denies.

def test_a_longer_exact_permission_that_only_starts_the_uri_hides_shorter_prefixes():
    assert Rules(map(_stored, PERMISSIONS)).lookup("com.app.exact.more") is None


def test_only_the_wildcard_with_the_longest_literal_start_is_tried():
    rows = [("com..rpc", "wildcard", False, True, False, False, False),
            ("com.app..deep", "wildcard", False, False, False, False, False)]
    assert Rules(map(_stored, rows)).lookup("com.app.rpc") is None


def test_a_wildcard_without_an_inner_empty_component_matches_only_itself():
    rules = Rules([_stored(("a.b.", "wildcard", True, False, False, False, False))])
    assert rules.lookup("a.b.c") is None
    assert rules.lookup("a.b.").uri == "a.b."


def test_of_wildcards_with_the_same_literal_start_the_last_given_counts():
    a = ("com..a", "wildcard", True, False, False, False, False)
    b = ("com..b", "wildcard", False, False, False, False, False)
    assert Rules(map(_stored, [a, b])).lookup("com.x.a") is None
    assert Rules(map(_stored, [a, b])).lookup("com.x.b").uri == "com..b"
    assert Rules(map(_stored, [b, a])).lookup("com.x.a").uri == "com..a"


def test_named_and_typed_components_match_as_in_autobahns_patterns():
    rows = [("shop..<item:int>", "wildcard", True, False, False, False, False),
            ("bad..Upper", "wildcard", True, False, False, False, False)]
    rules = Rules(map(_stored, rows))
    assert rules.lookup("shop.x.42").uri == "shop..<item:int>"
    assert rules.lookup("shop.x.forty") is None  # does not convert to an int
    assert rules.lookup("bad.x.Upper") is None  # not a valid pattern: never matches


def test_no_permission_denies_everything():
    for action in ACTIONS:
        assert authorization(None, action)["allow"] is False


# Generated permission sets and URIs: components valid and invalid for patterns, named and typed
# components, empty ones (wildcards, trailing dots), shared starts.
_PART = st.sampled_from(["a", "b", "ab", "1", "", "A", "<x>", "<x:int>", "<y:suffix>", "<z:bad>", "a b", "#"])
_PATTERN = st.lists(_PART, min_size=1, max_size=4).map(".".join)
_QPART = st.sampled_from(["a", "b", "ab", "1", "12", "", "A", "x", "a b", "#", "a\n"])
_QUERY = st.lists(_QPART, min_size=1, max_size=4).map(".".join)
_ROW = st.tuples(_PATTERN, st.sampled_from(["exact", "prefix", "wildcard"]),
                 st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans())
ROWS = st.lists(_ROW, max_size=8, unique_by=lambda r: r[0])  # the store keeps one permission per URI


@settings(max_examples=1500, deadline=None)
@given(rows=ROWS, uri=st.one_of(_QUERY, _PATTERN), action=st.sampled_from(ACTIONS))
def test_generated_decisions_equal_crossbars_static_authorizer(rows, uri, action):
    theirs, ours = _decisions(rows, uri, action)
    assert ours == theirs


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from cfxstore.database import open_database
    from cfxstore.management import Management

    db = open_database(str(tmp_path_factory.mktemp("rules") / "db"))
    yield Management(db)
    db.close()


_HOLD = settings(max_examples=150, deadline=None)


@_HOLD
@given(rows=ROWS, uris=st.lists(st.one_of(_QUERY, _PATTERN), min_size=1, max_size=12))
def test_the_store_backed_authorizer_cached_and_uncached_equals_crossbar(store, rows, uris):
    from cfxstore.management.authorizer import StoreAuthorizer

    realm = store.arealms.create(name=f"r{uuid.uuid4().hex}")
    role = store.roles.create(name=f"role{uuid.uuid4().hex}")
    store.arealm_roles.create(arealm_oid=realm.oid, role_oid=role.oid)
    for row in rows:
        p = _stored(row)
        store.permissions.create(role_oid=role.oid, uri=p.uri, match=p.match, allow_call=p.allow_call,
                                 allow_register=p.allow_register, allow_publish=p.allow_publish,
                                 allow_subscribe=p.allow_subscribe, disclose_caller=p.disclose_caller,
                                 disclose_publisher=p.disclose_publisher)
    # Crossbar configured with the role's permissions as the store lists them (by URI).
    static = RouterRoleStaticAuth(None, "role", permissions=[_crossbar(r) for r in sorted(rows)])
    cached, uncached = StoreAuthorizer(store.db), StoreAuthorizer(store.db, cache=False)
    for uri in uris * 2:  # the second round answers from the cache
        for action in ACTIONS:
            theirs = static.authorize(None, uri, action, {})
            expected = (theirs["allow"], theirs.get("disclose", False))
            for authz in (cached, uncached):
                ours = authz.authorize(realm.name, role.name, uri, action)
                assert (ours["allow"], ours.get("disclose", False)) == expected
