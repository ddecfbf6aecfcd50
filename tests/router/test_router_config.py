"""Validation of the cfxstore items of a node config: clear errors naming the key."""

from __future__ import annotations

import pytest

from cfxstore.node.config import parse_auth, parse_cookie, parse_realm_store
from cfxstore.node.errors import RouterConfigError

STORE = {"type": "cfxstore"}


def error_key(fn, *args, **kwargs) -> str:
    with pytest.raises(RouterConfigError) as e:
        fn(*args, **kwargs)
    assert e.value.key in str(e.value)
    return e.value.key


def test_cookie_defaults_follow_crossbar():
    config = parse_cookie({"store": STORE})
    assert (config.name, config.length, config.max_age) == ("cbtid", 24, 7 * 86400)
    assert config.nbytes == 18 and config.length_warning is None
    assert config.database.path == "cfxstore-db" and config.database.sync is True


def test_short_cookie_length_still_gets_128_bits_with_a_warning():
    config = parse_cookie({"length": 6, "store": STORE})
    assert config.nbytes == 16
    assert "cookie.length" in config.length_warning


@pytest.mark.parametrize("cookie, key", [
    ({"store": {**STORE, "sync": "yes"}}, "cookie.store.sync"),
    ({"store": {**STORE, "pathh": "x"}}, "cookie.store.pathh"),
    ({"store": {**STORE, "maxsize": 10}}, "cookie.store.maxsize"),
    ({"store": {**STORE, "readonly": True}}, "cookie.store.readonly"),
    ({"store": {**STORE, "cache_ttl": -1}}, "cookie.store.cache_ttl"),
    ({"name": "Bad-Name", "store": STORE}, "cookie.name"),
    ({"max_age": 0, "store": STORE}, "cookie.max_age"),
    ({"same_site": "lax", "store": STORE}, "cookie.same_site"),
    ({"colour": 1, "store": STORE}, "cookie.colour"),
])
def test_bad_cookie_config_names_the_key(cookie, key):
    assert error_key(parse_cookie, cookie) == key


def test_realm_store_rules_and_retention():
    config = parse_realm_store({**STORE, "event-history": [{"uri": "a.b", "match": "prefix", "limit": 5}],
                                "retention": {"max-age": 60, "keep-last": 10}})
    assert config.event_history[0].match == "prefix" and config.event_history[0].limit == 5
    assert config.retention.max_age == 60.0 and config.retention.keep_last == 10
    assert config.call_queue is None


@pytest.mark.parametrize("store, key", [
    ({**STORE, "event-history": [{"uri": "a", "match": "regex"}]}, "store.event-history[0].match"),
    ({**STORE, "event-history": {"uri": "a"}}, "store.event-history"),
    ({**STORE, "retention": {"max_age": 1}}, "store.retention.max_age"),
    ({**STORE, "max-buffer": 0}, "store.max-buffer"),
    ({**STORE, "session-history": 1}, "store.session-history"),
])
def test_bad_realm_store_config_names_the_key(store, key):
    assert error_key(parse_realm_store, store) == key


def test_auth_config_throttle():
    assert parse_auth(None).throttle.free_failures == 3
    assert error_key(parse_auth, {"throttle": {"base_delay": 10, "max_delay": 1}}) == "auth.config.throttle.max_delay"
    assert error_key(parse_auth, {"paht": "x"}) == "auth.config.paht"


@pytest.mark.parametrize("item, parse, key", [
    ({"store": {**STORE, "maxsize": 10**400}}, parse_cookie, "cookie.store.maxsize"),
    ({"store": {**STORE, "cache_ttl": 10**309}}, parse_cookie, "cookie.store.cache_ttl"),
    ({"max_age": -(10**5000)}, parse_cookie, "cookie.max_age"),
    ({**STORE, "retention": {"max-age": 10**309}}, parse_realm_store, "store.retention.max-age"),
    ({**STORE, "limit": 2**64}, parse_realm_store, "store.limit"),
])
def test_numbers_of_any_size_give_the_config_error(item, parse, key):
    with pytest.raises(RouterConfigError) as e:
        parse(item)
    assert e.value.key == key and "bit integer" in str(e.value)
