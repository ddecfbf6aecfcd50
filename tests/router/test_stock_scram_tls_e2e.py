"""A real stock Crossbar node with static WAMP-SCRAM and TLS principals, adopted: the same clients still log in.

The stock node (``crossbar edge start``) has a WebSocket transport with a
static SCRAM principal and a TLS transport (client certificates of the test's
CA) with a static TLS principal matched by ``certificate-sha1``. Autobahn's
SCRAM client and a TLS client log in to it, then the node is stopped, adopted
with ``cfxstore router adopt`` and started as ``cfxstore router start``.
"""

from __future__ import annotations

import json
import secrets

import pytest
from cryptography.hazmat.primitives import hashes
from router_harness import free_port
from router_wampclient import Denied
from scramtls_clients import scram_login, tls_login
# The stock upgrade's fixture "adopted" (adopt, then start the node as cfxstore) on this module's "stock".
from test_stock_upgrade_e2e import StockNode, adopted  # noqa: F401
from tlscerts import issue

from cfxstore.credentials import scram

PASSWORD = "sam's stock password"
ALLOW = {"call": True, "register": True, "publish": True, "subscribe": True}


def _stock_scram_principal() -> dict:
    """A static SCRAM principal as Crossbar's config takes it, derived at OWASP's argon2id cost."""
    salt = secrets.token_bytes(16)
    stored, server = scram.keys(scram.salted_password(PASSWORD, "argon2id-13", salt, 2, 19456))
    return {"kdf": "argon2id-13", "iterations": 2, "memory": 19456, "salt": salt.hex(),
            "stored-key": stored.hex(), "server-key": server.hex(), "role": "user"}


def _sha1(issued) -> str:
    return ":".join(f"{b:02X}" for b in issued.cert.fingerprint(hashes.SHA1()))  # noqa: S303 - Crossbar's match


def stock_config(port: int, tls_port: int, device) -> dict:
    return {
        "version": 2, "controller": {},
        "workers": [{
            "type": "router",
            "realms": [{"name": "realm1", "roles": [{"name": "user", "permissions": [
                {"uri": "", "match": "prefix", "allow": ALLOW, "disclose": {"caller": False, "publisher": False},
                 "cache": True}]}]}],
            "transports": [
                {"type": "websocket", "endpoint": {"type": "tcp", "port": port, "interface": "127.0.0.1"},
                 "auth": {"scram": {"type": "static", "principals": {"sam": _stock_scram_principal()}}}},
                {"type": "websocket",
                 "endpoint": {"type": "tcp", "port": tls_port, "interface": "127.0.0.1",
                              "tls": {"key": "server.key", "certificate": "server.crt",
                                      "ca_certificates": ["ca.crt"]}},
                 "auth": {"tls": {"type": "static", "principals": {
                     "device": {"certificate-sha1": _sha1(device), "role": "user"}}}}},
            ],
        }],
    }


@pytest.fixture(scope="module")
def pki():
    ca = issue("stock test CA", ca=True)
    return {"ca": ca, "server": issue("127.0.0.1", ca, server=True), "device": issue("device", ca),
            "stranger": issue("stranger", ca)}


@pytest.fixture(scope="module")
def stock(tmp_path_factory, reactor_thread, pki):
    """The stock node, run once: both clients log in; then it is stopped."""
    cbdir = tmp_path_factory.mktemp("stockscramtls") / ".crossbar"
    cbdir.mkdir()
    port, tls_port = free_port(), free_port()
    pki["server"].write(cbdir, "server")
    (cbdir / "ca.crt").write_bytes(pki["ca"].cert_pem)
    (cbdir / "config.json").write_text(json.dumps(stock_config(port, tls_port, pki["device"]), indent=2))
    node = StockNode(cbdir, port)
    made = {"cbdir": cbdir, "port": port, "tls_port": tls_port}
    try:
        made["stock_scram"] = reactor_thread.call(scram_login, port, "sam", PASSWORD).authid
        made["stock_tls"] = reactor_thread.call(tls_login, tls_port, pki["ca"], pki["device"]).authid
    finally:
        node.stop()
    return made


def test_the_stock_node_logged_both_clients_in(stock):
    assert (stock["stock_scram"], stock["stock_tls"]) == ("sam", "device")


def test_the_scram_principal_logs_in_with_the_same_password_after_adoption(adopted, reactor_thread):
    details = reactor_thread.call(scram_login, adopted["port"], "sam", PASSWORD)
    assert (details.authid, details.authmethod, details.authprovider) == ("sam", "scram", "function")
    with pytest.raises(Denied):
        reactor_thread.call(scram_login, adopted["port"], "sam", "not the password")


def test_the_tls_principal_logs_in_with_the_same_certificate_after_adoption(adopted, reactor_thread, pki):
    details = reactor_thread.call(tls_login, adopted["tls_port"], pki["ca"], pki["device"])
    assert (details.authid, details.authmethod, details.authprovider) == ("device", "tls", "function")
    with pytest.raises(Denied):
        reactor_thread.call(tls_login, adopted["tls_port"], pki["ca"], pki["stranger"])


def test_the_adopted_config_names_cfxstore_for_both_methods(adopted):
    config = json.loads((adopted["cbdir"] / "config.json").read_text())
    transports = config["workers"][0]["transports"]
    assert transports[0]["auth"]["scram"]["type"] == transports[1]["auth"]["tls"]["type"] == "function"
    assert any("static tls principal(s)" in change for change in adopted["report"]["changes"])
