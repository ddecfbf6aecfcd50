"""The client address attempts are counted under: trusted proxies' X-Forwarded-For, IPv6 prefixes."""

from __future__ import annotations

import pytest

from cfxstore.node.config import parse_auth
from cfxstore.node.errors import RouterConfigError
from cfxstore.router.clientaddr import ClientKeys, tcp_peer


def transport(peer: str, forwarded: str | None = None) -> dict:
    headers = {"host": "router"} if forwarded is None else {"host": "router", "x-forwarded-for": forwarded}
    return {"peer": peer, "http_headers_received": headers}


def test_tcp_peer():
    assert tcp_peer({"peer": "tcp4:10.1.2.3:5000"}) == "10.1.2.3"
    assert tcp_peer({"peer": "tcp6:::1:5000"}) == "::1"
    assert tcp_peer({"peer": "unix:/tmp/x"}) is None
    assert tcp_peer({}) is None
    assert tcp_peer(None) is None


def test_without_trusted_proxies_the_header_is_ignored():
    keys = ClientKeys()
    assert keys.key(transport("tcp4:10.0.0.1:4000", "1.2.3.4")) == "10.0.0.1"


def test_a_trusted_proxy_names_the_client():
    keys = ClientKeys(["10.0.0.0/8"])
    assert keys.key(transport("tcp4:10.0.0.1:4000", "203.0.113.7")) == "203.0.113.7"
    assert keys.key(transport("tcp4:10.0.0.1:4000")) == "10.0.0.1"          # no header: the proxy itself


def test_what_a_client_writes_into_the_header_is_never_read():
    keys = ClientKeys(["10.0.0.0/8"])
    # The client sent "X-Forwarded-For: 6.6.6.6"; the proxy appended the address it saw.
    assert keys.key(transport("tcp4:10.0.0.1:4000", "6.6.6.6, 203.0.113.7")) == "203.0.113.7"
    # A client that is not a trusted proxy cannot name anyone.
    assert keys.key(transport("tcp4:203.0.113.9:4000", "6.6.6.6")) == "203.0.113.9"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right():
    keys = ClientKeys(["10.0.0.0/8", "192.168.0.0/16"])
    assert keys.key(transport("tcp4:10.0.0.1:4000", "6.6.6.6, 203.0.113.7, 192.168.1.1")) == "203.0.113.7"
    assert keys.key(transport("tcp4:10.0.0.1:4000", "garbage, 192.168.1.1")) == "192.168.1.1"


def test_ipv6_clients_are_counted_by_prefix():
    keys = ClientKeys()
    a = keys.key(transport("tcp6:2001:db8:1:2:aaaa::1:4000"))
    b = keys.key(transport("tcp6:2001:db8:1:2:bbbb::9:4000"))
    assert a == b == "2001:db8:1:2::/64"
    assert keys.key(transport("tcp6:2001:db8:1:3::1:4000")) != a
    assert ClientKeys(ipv6_prefix=48).key(transport("tcp6:2001:db8:1:3::1:4000")) == "2001:db8:1::/48"
    assert ClientKeys(ipv6_prefix=128).key(transport("tcp6:2001:db8::1:4000")) == "2001:db8::1/128"


def test_ipv4_mapped_addresses_count_as_ipv4():
    assert ClientKeys().key(transport("tcp6:::ffff:192.0.2.5:4000")) == "192.0.2.5"


def test_an_ipv6_client_behind_an_ipv4_proxy():
    keys = ClientKeys(["127.0.0.1/32"])
    assert keys.key(transport("tcp4:127.0.0.1:4000", "2001:db8:9:9:1::5")) == "2001:db8:9:9::/64"


def test_the_settings_are_validated():
    throttle = parse_auth({"throttle": {"trusted_proxies": ["10.0.0.0/8", "::1"], "ipv6_prefix": 56}}).throttle
    assert throttle.trusted_proxies == ("10.0.0.0/8", "::1/128") and throttle.ipv6_prefix == 56
    with pytest.raises(RouterConfigError, match=r"throttle.trusted_proxies\[0\].*not a CIDR"):
        parse_auth({"throttle": {"trusted_proxies": ["10.0.0.1/8"]}})
    with pytest.raises(RouterConfigError, match="throttle.trusted_proxies.*expected a list"):
        parse_auth({"throttle": {"trusted_proxies": "10.0.0.0/8"}})
    with pytest.raises(RouterConfigError, match="throttle.ipv6_prefix"):
        parse_auth({"throttle": {"ipv6_prefix": 129}})
