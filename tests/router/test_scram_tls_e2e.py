"""WAMP-SCRAM and TLS client-certificate principals end to end: a real router process and Autobahn's own clients.

The SCRAM client is Autobahn's (``autobahn.wamp.auth.AuthScram``), which also
checks the router's ServerSignature in WELCOME. The TLS transport requires a
client certificate issued by the test's CA; principals are matched by the
certificate's SHA-256 fingerprint, or by its subject CN for the CA named in
``tls.cn_issuers``.
"""

from __future__ import annotations

import uuid

import pytest
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from router_harness import RouterProcess, edit_config, free_port, run_cli, running
from router_wampclient import Denied
from scramtls_clients import scram_login, tls_login
from tlscerts import issue

REALM = "realm1"
THROTTLE = {"free_failures": 3, "base_delay": 3.0, "attempt_timeout": 5.0, "deny_delay": 0.05}


@pytest.fixture(scope="module")
def pki():
    ca = issue("cfxstore test CA", ca=True)
    other_ca = issue("cfxstore test CA", ca=True, org="someone else")
    return {"ca": ca, "other_ca": other_ca, "server": issue("127.0.0.1", ca, server=True)}


@pytest.fixture(scope="module")
def router(tmp_path_factory, reactor_thread, pki):
    cbdir = tmp_path_factory.mktemp("scramtls")
    port, tls_port = free_port(), free_port()
    assert run_cli("router", "init", "--cbdir", str(cbdir), "--port", str(port)).returncode == 0
    pki["server"].write(cbdir, "server")
    (cbdir / "ca.crt").write_bytes(pki["ca"].cert_pem)
    (cbdir / "other-ca.crt").write_bytes(pki["other_ca"].cert_pem)

    def configure(config: dict) -> None:
        transports = config["workers"][0]["transports"]
        auth = transports[0]["auth"]
        shared = auth["ticket"]  # one dict: Crossbar caches the authenticator by its "create" name
        shared["config"]["throttle"] = THROTTLE
        shared["config"]["tls"] = {"cn_issuers": ["ca.crt"]}
        auth["scram"] = shared
        secure = {**transports[0], "auth": {"tls": shared},
                  "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": tls_port,
                               "tls": {"key": "server.key", "certificate": "server.crt",
                                       "ca_certificates": ["ca.crt", "other-ca.crt"]}}}
        secure.pop("cookie", None)
        transports.append(secure)

    edit_config(cbdir, configure)
    node = RouterProcess(cbdir, [port, tls_port])
    node.port, node.tls_port = port, tls_port
    with running(node):
        yield node


@pytest.fixture(scope="module")
def principals(router):
    db = open_database(str(router.cbdir / "cfxstore-db"))
    yield Management(db, credentials=CredentialService(db)).principals
    db.close()


def new_authid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- WAMP-SCRAM ---

def test_scram_principal_added_through_the_cli_logs_in_with_autobahns_client(reactor_thread, router):
    authid = new_authid("scram")
    added = run_cli("principals", "add", authid, "--db", str(router.cbdir / "cfxstore-db"), "--role", "user",
                    "--method", "scram", "--password-stdin", input="correct horse\n")
    assert added.returncode == 0, added.stderr
    details = reactor_thread.call(scram_login, router.port, authid, "correct horse")
    assert (details.authid, details.authrole, details.authmethod) == (authid, "user", "scram")


def test_scram_wrong_password_is_refused(reactor_thread, router, principals):
    authid = new_authid("scram")
    principals.create(realm=REALM, authid=authid, role="user", scram="right password")
    with pytest.raises(Denied) as denied:
        reactor_thread.call(scram_login, router.port, authid, "wrong password")
    assert denied.value.reason == "wamp.error.not_authorized"


def test_scram_unknown_authid_is_refused_like_a_wrong_password(reactor_thread, router, principals):
    known = new_authid("scram")
    principals.create(realm=REALM, authid=known, role="user", scram="right password")
    with pytest.raises(Denied) as wrong:
        reactor_thread.call(scram_login, router.port, known, "wrong password")
    with pytest.raises(Denied) as unknown:
        reactor_thread.call(scram_login, router.port, new_authid("nobody"), "any password")
    assert (unknown.value.reason, unknown.value.message) == (wrong.value.reason, wrong.value.message)


def test_scram_password_changed_on_a_running_node_takes_effect_at_once(reactor_thread, router, principals):
    authid = new_authid("scram")
    principal = principals.create(realm=REALM, authid=authid, role="user", scram="first password")
    assert reactor_thread.call(scram_login, router.port, authid, "first password").authid == authid
    principals.set_secret(principal.oid, "scram", "second password")
    with pytest.raises(Denied):
        reactor_thread.call(scram_login, router.port, authid, "first password")
    assert reactor_thread.call(scram_login, router.port, authid, "second password").authid == authid


def test_scram_failures_lock_the_authid_out(reactor_thread, router, principals):
    authid = new_authid("scram")
    principals.create(realm=REALM, authid=authid, role="user", scram="right password")
    for _ in range(THROTTLE["free_failures"]):
        with pytest.raises(Denied):
            reactor_thread.call(scram_login, router.port, authid, "wrong password")
    # Locked now: even the right password is refused until the lockout ends.
    with pytest.raises(Denied) as locked:
        reactor_thread.call(scram_login, router.port, authid, "right password")
    assert "retry" in (locked.value.message or "")


# --- TLS client certificates ---

def test_tls_certificate_logs_in_by_its_fingerprint(reactor_thread, router, principals, pki):
    authid = new_authid("device")
    client = issue(authid, pki["other_ca"])  # not under the CN issuer: only the fingerprint can name it
    principals.create(realm=REALM, authid=authid, role="user", tls={"sha256": client.sha256})
    details = reactor_thread.call(tls_login, router.tls_port, pki["ca"], client)
    assert (details.authid, details.authrole, details.authmethod) == (authid, "user", "tls")


def test_tls_unknown_certificate_is_refused(reactor_thread, router, pki):
    client = issue(new_authid("stranger"), pki["other_ca"])
    with pytest.raises(Denied) as denied:
        reactor_thread.call(tls_login, router.tls_port, pki["ca"], client)
    assert (denied.value.reason, denied.value.message) == ("wamp.error.authentication_failed",
                                                           "invalid authid or client certificate")


def test_tls_certificate_added_to_a_running_node_logs_in_at_once(reactor_thread, router, principals, pki):
    authid = new_authid("device")
    client = issue(authid, pki["other_ca"])
    principal = principals.create(realm=REALM, authid=authid, role="user")
    with pytest.raises(Denied):
        reactor_thread.call(tls_login, router.tls_port, pki["ca"], client)
    principals.set_credential(principal.oid, "tls", {"sha256": client.sha256})
    assert reactor_thread.call(tls_login, router.tls_port, pki["ca"], client).authid == authid


def test_tls_certificate_naming_another_authid_is_refused(reactor_thread, router, principals, pki):
    authid = new_authid("device")
    client = issue(authid, pki["other_ca"])
    principals.create(realm=REALM, authid=authid, role="user", tls={"sha256": client.sha256})
    with pytest.raises(Denied) as denied:
        reactor_thread.call(tls_login, router.tls_port, pki["ca"], client, new_authid("someone"))
    assert denied.value.message == "invalid authid or client certificate"


def test_tls_subject_cn_matches_only_under_the_configured_issuer(reactor_thread, router, principals, pki):
    cn = new_authid("sensor")
    principals.create(realm=REALM, authid=cn, role="user", tls={"cn": cn})
    details = reactor_thread.call(tls_login, router.tls_port, pki["ca"], issue(cn, pki["ca"]))
    assert details.authid == cn
    # Same CN from the other CA the transport trusts: that CA does not speak for names.
    with pytest.raises(Denied):
        reactor_thread.call(tls_login, router.tls_port, pki["ca"], issue(cn, pki["other_ca"]))
