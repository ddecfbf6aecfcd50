"""WAMP-cryptosign with tls-unique channel binding over a real TLS transport, with Autobahn's own client."""

from __future__ import annotations

import uuid

import pytest
from twisted.internet.ssl import Certificate, optionsForClientTLS

from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.router.cryptosign import DENIED
from cryptosign_client import cryptosign_login, new_key
from router_harness import RouterProcess, edit_config, free_port, run_cli, running
from router_wampclient import Denied, leave
from tlscerts import issue

REALM = "realm1"


@pytest.fixture(scope="module")
def pki():
    ca = issue("cfxstore test CA", ca=True)
    return {"ca": ca, "server": issue("127.0.0.1", ca, server=True)}


@pytest.fixture(scope="module")
def router(tmp_path_factory, reactor_thread, pki):
    cbdir = tmp_path_factory.mktemp("cryptosigntls")
    port, tls_port = free_port(), free_port()
    assert run_cli("router", "init", "--cbdir", str(cbdir), "--port", str(port)).returncode == 0
    pki["server"].write(cbdir, "server")

    def configure(config: dict) -> None:
        transports = config["workers"][0]["transports"]
        secure = {**transports[0], "auth": {"cryptosign": transports[0]["auth"]["cryptosign"]},
                  "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": tls_port,
                               "tls": {"key": "server.key", "certificate": "server.crt"}}}
        secure.pop("cookie", None)
        transports.append(secure)

    edit_config(cbdir, configure)
    node = RouterProcess(cbdir, [port, tls_port])
    node.port, node.tls_port = port, tls_port
    with running(node):
        yield node


@pytest.fixture
def device(router):
    """A principal with one key: (authid, private key)."""
    authid = f"dev-{uuid.uuid4().hex[:8]}"
    privkey, pubkey = new_key()
    with open_database(str(router.cbdir / "cfxstore-db")) as db:
        mgmt = Management(db)
        mgmt.principals.add_key(mgmt.principals.create(realm=REALM, authid=authid, role="user").oid, pubkey)
    return authid, privkey


def tls(pki):
    return optionsForClientTLS("127.0.0.1", trustRoot=Certificate.loadPEM(pki["ca"].cert_pem))


def test_a_key_logs_in_with_tls_unique_channel_binding(reactor_thread, router, pki, device):
    authid, privkey = device
    result = reactor_thread.call(cryptosign_login, router.tls_port, privkey, authid=authid,
                                 channel_binding="tls-unique", tls=tls(pki))
    assert (result.details.authid, result.details.authmethod) == (authid, "cryptosign")
    reactor_thread.call(leave, result.session)


def test_a_signature_not_bound_to_the_channel_is_refused(reactor_thread, router, pki, device):
    authid, privkey = device
    with pytest.raises(Denied) as denied:
        reactor_thread.call(cryptosign_login, router.tls_port, privkey, authid=authid, channel_binding="tls-unique",
                            tls=tls(pki), unbound_signature=True)
    assert denied.value.message == DENIED


def test_channel_binding_asked_for_without_tls_is_refused(reactor_thread, router, device):
    authid, privkey = device
    with pytest.raises(Denied) as denied:
        reactor_thread.call(cryptosign_login, router.port, privkey, authid=authid, channel_binding="tls-unique")
    assert "tls-unique" in denied.value.message
