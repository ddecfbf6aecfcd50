"""The management API's cryptosign key procedures and their change events, in a real router, with real clients."""

from __future__ import annotations

import pytest
from test_management_e2e import admin, call, error_of, node_db, router, tickets  # noqa: F401  (the node and its admin)

from cryptosign_client import cryptosign_login, new_key
from router_harness import wait_for
from router_wampclient import Denied, leave

P = "cfxstore.mgmt."


def events_on(rt, session, *topics):
    """Records (topic, record) of each event published on topics."""
    seen: list = []
    for topic in topics:
        rt.call(session.subscribe, lambda record, t=topic: seen.append((t, record)), P + topic)
    return seen


def test_keys_added_and_revoked_through_the_api_are_published_and_honoured_at_the_next_login(
        reactor_thread, router, admin):  # noqa: F811
    seen = events_on(reactor_thread, admin, "cryptosign_key.on_created", "cryptosign_key.on_updated")
    principal = call(reactor_thread, admin, "principal.create", {"realm": "realm1", "authid": "api-dev",
                                                                  "role": "user"})
    privkey, pubkey = new_key()
    added = call(reactor_thread, admin, "principal.add_key", principal["oid"], pubkey, label="field unit")
    assert (added["pubkey"], added["label"], added["principal_oid"]) == (pubkey, "field unit", principal["oid"])
    created = wait_for(lambda: [r for t, r in seen if t == "cryptosign_key.on_created" and r["pubkey"] == pubkey],
                       10, "the key's on_created event")
    assert created[0]["label"] == "field unit"
    login = reactor_thread.call(cryptosign_login, router.port, privkey, authid="api-dev")
    assert login.details.authid == "api-dev"
    reactor_thread.call(leave, login.session)

    revoked = call(reactor_thread, admin, "principal.revoke_key", principal["oid"], "field unit")
    assert revoked["revoked"] is not None
    wait_for(lambda: [r for t, r in seen if t == "cryptosign_key.on_updated" and r["revoked"]], 10,
             "the revocation's on_updated event")
    with pytest.raises(Denied):
        reactor_thread.call(cryptosign_login, router.port, privkey, authid="api-dev")
    [listed] = call(reactor_thread, admin, "principal.keys", principal["oid"])
    assert listed["state"] == "revoked"


def test_a_malformed_key_is_a_wamp_error_naming_the_field(reactor_thread, admin):  # noqa: F811
    principal = call(reactor_thread, admin, "principal.create", {"realm": "realm1", "authid": "api-bad",
                                                                  "role": "user"})
    error = error_of(reactor_thread, admin, "principal.add_key", principal["oid"], "ab" * 64)
    assert error.error == "cfxstore.error.invalid_argument" and "pubkey" in error.args[0]
    assert call(reactor_thread, admin, "principal.keys", principal["oid"]) == []
