"""`router adopt` of a stock node's static cryptosign principals: keys that logged in on stock log in after it."""

from __future__ import annotations

import json

import pytest
from router_harness import RouterProcess, free_port, run_cli
from router_wampclient import Denied, leave
from test_stock_upgrade_e2e import StockNode

from cryptosign_client import cryptosign_login, new_key
from cfxstore.database import open_database
from cfxstore.management import Management

ALLOW = {"call": True, "register": True, "publish": True, "subscribe": True}


def stock_config(port: int, keys: dict[str, list[str]]) -> dict:
    return {
        "version": 2, "controller": {},
        "workers": [{
            "type": "router",
            "realms": [{"name": "realm1", "roles": [{"name": "device", "permissions": [
                {"uri": "", "match": "prefix", "allow": ALLOW, "disclose": {"caller": False, "publisher": False},
                 "cache": True}]}]}],
            "transports": [{
                "type": "websocket",
                "endpoint": {"type": "tcp", "port": port, "interface": "127.0.0.1"},
                "auth": {"cryptosign": {"type": "static", "principals": {
                    authid: {"realm": "realm1", "role": "device", "authorized_keys": pubkeys}
                    for authid, pubkeys in keys.items()}}},
            }],
        }],
    }


@pytest.fixture(scope="module")
def node(tmp_path_factory, reactor_thread):
    """A stock node whose keys log in, then stopped, adopted and started as a cfxstore router."""
    keys = {name: [new_key() for _ in range(2)] for name in ("sensor1", "sensor2")}
    cbdir = tmp_path_factory.mktemp("stockcs") / ".crossbar"
    cbdir.mkdir()
    port = free_port()
    config = stock_config(port, {name: [pub for _, pub in pairs] for name, pairs in keys.items()})
    (cbdir / "config.json").write_text(json.dumps(config, indent=2))
    stock = StockNode(cbdir, port)
    try:
        for name, pairs in keys.items():
            for privkey, _ in pairs:
                done = reactor_thread.call(cryptosign_login, port, privkey, authid=name)
                assert done.details.authid == name and done.details.authrole == "device"
                reactor_thread.call(leave, done.session)
    finally:
        stock.stop()
    result = run_cli("router", "adopt", "--cbdir", str(cbdir), "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    router = RouterProcess(cbdir, [port])
    try:
        router.start()
        yield {"cbdir": cbdir, "port": port, "keys": keys, "report": json.loads(result.stdout)}
    finally:
        try:
            router.stop()
        finally:
            router.kill()


def test_every_static_key_logs_in_as_before_and_left_the_config(node, reactor_thread):
    for name, pairs in node["keys"].items():
        for privkey, _ in pairs:
            done = reactor_thread.call(cryptosign_login, node["port"], privkey, authid=name)
            assert (done.details.authid, done.details.authrole) == (name, "device")
            reactor_thread.call(leave, done.session)
    text = (node["cbdir"] / "config.json").read_text()
    assert not any(pub in text for pairs in node["keys"].values() for _, pub in pairs)
    auth = json.loads(text)["workers"][0]["transports"][0]["auth"]["cryptosign"]
    assert auth["type"] == "function"
    assert sorted(node["report"]["principals"]) == [
        f"cryptosign principal {name!r} (role 'device') on realm 'realm1'" for name in ("sensor1", "sensor2")]


def test_an_adopted_key_can_be_revoked_without_touching_the_others(node, reactor_thread):
    (revoked, revoked_pub), (kept, _) = node["keys"]["sensor2"]
    with open_database(str(node["cbdir"] / "cfxstore-db")) as db:
        mgmt = Management(db)
        mgmt.principals.revoke_key(mgmt.principals.get_by(("realm1", "sensor2")).oid, revoked_pub)
    with pytest.raises(Denied):
        reactor_thread.call(cryptosign_login, node["port"], revoked, authid="sensor2")
    done = reactor_thread.call(cryptosign_login, node["port"], kept, authid="sensor2")
    reactor_thread.call(leave, done.session)
