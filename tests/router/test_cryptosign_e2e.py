"""WAMP-cryptosign from the store end to end: a real router process and Autobahn's own cryptosign client."""

from __future__ import annotations

import uuid

import pytest
from argon2 import PasswordHasher, Type

from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.router.cryptosign import DENIED
from cfxstore.timeutil import now_ns
from cryptosign_client import cryptosign_login, new_key
from router_harness import init_node, run_cli, running, throttled, wait_for
from router_wampclient import Denied, leave

REALM = "realm1"
THROTTLE = {"free_failures": 3, "base_delay": 3.0, "attempt_timeout": 1.0, "deny_delay": 0.05}
HOUR = 3600 * 10**9


@pytest.fixture(scope="module")
def router(tmp_path_factory, reactor_thread):
    with running(init_node(tmp_path_factory.mktemp("cryptosignnode"), throttled(THROTTLE, ("cryptosign",)))) as node:
        yield node


@pytest.fixture(scope="module")
def principals(router):
    db = open_database(str(router.cbdir / "cfxstore-db"))
    creds = CredentialService(db, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID))
    yield Management(db, credentials=creds).principals
    db.close()


def device(principals, **key_options):
    """A new principal with one key; returns (authid, principal, private key, public key)."""
    authid = f"dev-{uuid.uuid4().hex[:8]}"
    principal = principals.create(realm=REALM, authid=authid, role="user")
    privkey, pubkey = new_key()
    principals.add_key(principal.oid, pubkey, **key_options)
    return authid, principal, privkey, pubkey


def denial(rt, router, privkey, **kw) -> str:
    with pytest.raises(Denied) as denied:
        rt.call(cryptosign_login, router.port, privkey, **kw)
    return denied.value.message


def test_a_stored_key_logs_in_as_its_principal(reactor_thread, router, principals):
    authid, _, privkey, _ = device(principals)
    result = reactor_thread.call(cryptosign_login, router.port, privkey, authid=authid)
    assert (result.details.authid, result.details.authrole, result.details.authmethod) == (authid, "user",
                                                                                          "cryptosign")
    reactor_thread.call(leave, result.session)


def test_a_client_that_sends_only_its_key_is_found_by_it(reactor_thread, router, principals):
    authid, _, privkey, _ = device(principals)
    result = reactor_thread.call(cryptosign_login, router.port, privkey)
    assert result.details.authid == authid
    reactor_thread.call(leave, result.session)


def test_a_key_of_another_authid_or_no_key_is_refused_like_a_wrong_signature(reactor_thread, router, principals):
    authid, _, _, _ = device(principals)
    stranger, _ = new_key()
    other, _, others_key, _ = device(principals)
    assert denial(reactor_thread, router, stranger, authid=authid) == DENIED
    assert denial(reactor_thread, router, others_key, authid=authid) == DENIED
    assert denial(reactor_thread, router, stranger) == DENIED
    assert denial(reactor_thread, router, stranger, authid=f"ghost-{uuid.uuid4().hex[:8]}") == DENIED


def test_a_revoked_key_is_refused_and_the_principals_other_key_still_logs_in(reactor_thread, router, principals):
    authid, principal, old, old_pub = device(principals, label="old laptop")
    new, new_pub = new_key()
    principals.add_key(principal.oid, new_pub, label="new laptop")
    principals.revoke_key(principal.oid, "old laptop")
    assert denial(reactor_thread, router, old, authid=authid) == DENIED
    result = reactor_thread.call(cryptosign_login, router.port, new, authid=authid)
    assert result.details.authid == authid
    reactor_thread.call(leave, result.session)


def test_keys_outside_their_validity_window_are_refused(reactor_thread, router, principals):
    now = now_ns()
    _, _, expired, _ = device(principals, not_before=now - 2 * HOUR, not_after=now - HOUR)
    _, _, early, _ = device(principals, not_before=now + HOUR)
    assert denial(reactor_thread, router, expired) == DENIED
    assert denial(reactor_thread, router, early) == DENIED


def test_a_key_added_with_the_cli_to_a_running_node_logs_in_at_once(reactor_thread, router, principals):
    authid = f"dev-{uuid.uuid4().hex[:8]}"
    privkey, pubkey = new_key()
    db = str(router.cbdir / "cfxstore-db")
    out = run_cli("principals", "add", authid, "--db", db, "--role", "user", "--method", "cryptosign",
                  "--pubkey", pubkey, "--label", "sensor")
    assert out.returncode == 0, out.stderr

    def logs_in():
        try:
            return reactor_thread.call(cryptosign_login, router.port, privkey, authid=authid)
        except Denied:
            return None

    result = wait_for(logs_in, 10, "the new key to log in")
    assert result.details.authid == authid
    reactor_thread.call(leave, result.session)
    out = run_cli("principals", "keys", "revoke", authid, "sensor", "--db", db)
    assert out.returncode == 0, out.stderr
    assert denial(reactor_thread, router, privkey, authid=authid) == DENIED


def test_wrong_keys_are_throttled_like_wrong_tickets(reactor_thread, router, principals):
    authid, _, privkey, _ = device(principals)
    for _ in range(THROTTLE["free_failures"]):
        assert denial(reactor_thread, router, new_key()[0], authid=authid) == DENIED
    # Locked now, even for the right key.
    assert "too many failed attempts" in denial(reactor_thread, router, privkey, authid=authid)
