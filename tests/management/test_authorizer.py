"""The store-backed authorizer: decisions from stored roles, cached, invalidated by changes
in this process at once and by changes in other (real) processes within the recheck interval."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from cfxstore.management import InvalidArgument, Management
from cfxstore.management.authorizer import StoreAuthorizer
from cfxstore.management.errors import NotFound


def _grant(mgmt: Management, realm: str = "realm1", role: str = "app", **permission):
    arealm = mgmt.arealms.create(name=realm)
    r = mgmt.roles.create(name=role)
    mgmt.arealm_roles.create(arealm_oid=arealm.oid, role_oid=r.oid)
    return r, (mgmt.permissions.create(role_oid=r.oid, **permission) if permission else None)


def test_unknown_realms_roles_and_unassociated_roles_are_denied(mgmt):
    authz = StoreAuthorizer(mgmt.db)
    assert authz.authorize("realm1", "app", "com.x", "call")["allow"] is False
    role = mgmt.roles.create(name="app")
    mgmt.permissions.create(role_oid=role.oid, uri="com.", match="prefix", allow_call=True)
    mgmt.arealms.create(name="realm1")
    assert authz.authorize("realm1", "app", "com.x", "call")["allow"] is False  # not associated yet


def test_an_associated_role_gets_its_permissions(mgmt):
    _grant(mgmt, uri="com.", match="prefix", allow_call=True, disclose_caller=True)
    authz = StoreAuthorizer(mgmt.db)
    assert authz.authorize("realm1", "app", "com.x", "call") == {"allow": True, "cache": False, "disclose": True}
    assert authz.authorize("realm1", "app", "com.x", "register") == {"allow": False, "cache": False}
    assert authz.authorize("realm2", "app", "com.x", "call")["allow"] is False


def test_changes_in_this_process_apply_at_once(mgmt):
    role, perm = _grant(mgmt, uri="com.", match="prefix", allow_call=True)
    authz = StoreAuthorizer(mgmt.db, recheck=3600)
    assert authz.authorize("realm1", "app", "com.x", "call")["allow"] is True
    mgmt.permissions.update(perm.oid, allow_call=False)
    assert authz.authorize("realm1", "app", "com.x", "call")["allow"] is False
    mgmt.permissions.update(perm.oid, allow_call=True)
    assert authz.authorize("realm1", "app", "com.x", "call")["allow"] is True
    mgmt.arealm_roles.delete((mgmt.arealms.get_by("realm1").oid, role.oid))
    assert authz.authorize("realm1", "app", "com.x", "call")["allow"] is False


def _revoke_in_child(path: str, name: str, ready) -> None:
    from cfxstore.database import open_database

    db = open_database(path)
    mgmt = Management(db)
    role = mgmt.roles.get_by(name)
    for p in mgmt.permissions.list(role_oid=role.oid).items:
        mgmt.permissions.update(p.oid, allow_call=False)
    db.close()
    ready.set()


def _change_elsewhere(db, name: str = "app") -> None:
    ctx = multiprocessing.get_context("spawn")
    done = ctx.Event()
    child = ctx.Process(target=_revoke_in_child, args=(db.path, name, done))
    child.start()
    child.join(60)
    assert child.exitcode == 0 and done.is_set()


def test_decisions_are_served_from_the_cache_until_the_recheck(mgmt):
    _grant(mgmt, uri="com.", match="prefix", allow_call=True)
    authz = StoreAuthorizer(mgmt.db, recheck=3600)
    assert authz.authorize("realm1", "app", "com.x", "call")["allow"] is True
    _change_elsewhere(mgmt.db)
    # Another process changed it; without a recheck the cached decision stands ...
    assert authz.authorize("realm1", "app", "com.x", "call")["allow"] is True
    authz.recheck = 0
    # ... and the recheck of the stored generation drops it.
    assert authz.authorize("realm1", "app", "com.x", "call")["allow"] is False


def test_changes_in_another_process_apply_within_the_recheck_interval(mgmt):
    _grant(mgmt, uri="com.", match="prefix", allow_call=True)
    authz = StoreAuthorizer(mgmt.db, recheck=0.2)
    assert authz.authorize("realm1", "app", "com.x", "call")["allow"] is True
    _change_elsewhere(mgmt.db)
    deadline = time.monotonic() + 1.0
    while authz.authorize("realm1", "app", "com.x", "call")["allow"]:
        assert time.monotonic() < deadline, "the change did not apply within a second"
        time.sleep(0.01)


def test_permissions_marked_not_cacheable_are_read_on_every_decision(mgmt):
    _grant(mgmt, uri="com.", match="prefix", allow_call=True, cache=False)
    authz = StoreAuthorizer(mgmt.db, recheck=3600)
    assert authz.authorize("realm1", "app", "com.x", "call")["allow"] is True
    _change_elsewhere(mgmt.db)
    assert authz.authorize("realm1", "app", "com.x", "call")["allow"] is False


def test_an_uncached_authorizer_reads_the_store_every_time(mgmt):
    _grant(mgmt, uri="com.", match="prefix", allow_call=True)
    authz = StoreAuthorizer(mgmt.db, cache=False, recheck=3600)
    assert authz.authorize("realm1", "app", "com.x", "call")["allow"] is True
    _change_elsewhere(mgmt.db)
    assert authz.authorize("realm1", "app", "com.x", "call")["allow"] is False


@pytest.mark.parametrize("args, what", [
    (("realm1", "app", "com.x", "delete"), "action"), ((None, "app", "com.x", "call"), "realm"),
    (("realm1", 5, "com.x", "call"), "authrole"), (("realm1", "app", b"com.x", "call"), "uri"),
])
def test_bad_questions_are_refused(mgmt, args, what):
    with pytest.raises(InvalidArgument, match=what):
        StoreAuthorizer(mgmt.db).authorize(*args)


def test_names_no_index_can_hold_are_denied_not_errors(mgmt):
    assert StoreAuthorizer(mgmt.db).authorize("r" * 2000, "app", "com.x", "call")["allow"] is False


def test_secrets_set_through_principals_are_never_stored_in_plain(mgmt, db):
    p = mgmt.principals.create(realm="realm1", authid="erin", role="user", ticket="erins-ticket-1",
                               wampcra="erins-cra-secret")
    assert sorted(c["authmethod"] for c in mgmt.principals.credentials(p.oid)) == ["ticket", "wampcra"]
    assert mgmt.credentials.verify_ticket("realm1", "erin", "erins-ticket-1") is not None
    db.close()
    data = open(f"{db.path}/data.mdb", "rb").read()
    assert b"erins-ticket-1" not in data and b"erins-cra-secret" not in data


def test_a_principal_and_its_secrets_join_the_callers_transaction(mgmt):
    with mgmt.db.begin(write=True) as txn:
        p = mgmt.principals.create(txn, realm="realm1", authid="f", role="user", ticket="f-ticket",
                                   wampcra="f-cra-secret")
        mgmt.principals.set_secret(p.oid, "ticket", "f-ticket-2", txn)
    assert mgmt.credentials.verify_ticket("realm1", "f", "f-ticket-2") is not None
    assert mgmt.credentials.get_wampcra("realm1", "f") is not None


def test_an_aborted_caller_transaction_leaves_neither_principal_nor_secret(mgmt):
    with pytest.raises(RuntimeError):
        with mgmt.db.begin(write=True) as txn:
            mgmt.principals.create(txn, realm="realm1", authid="g", role="user", ticket="g-ticket")
            raise RuntimeError("the caller changes its mind")
    assert mgmt.principals.list().items == []
    assert mgmt.credentials.verify_ticket("realm1", "g", "g-ticket") is None
    with mgmt.db.begin() as txn:
        assert mgmt.credentials.schema.credentials.count(txn) == 0


def test_a_refused_secret_writes_neither_principal_nor_credential(mgmt):
    with pytest.raises(InvalidArgument, match="ticket"):
        mgmt.principals.create(realm="realm1", authid="h", role="user", ticket="")
    assert mgmt.principals.list().items == []


def test_a_secret_for_a_missing_principal_is_refused(mgmt):
    import uuid

    with pytest.raises(NotFound):
        mgmt.principals.set_secret(uuid.uuid4(), "ticket", "t")
    with pytest.raises(InvalidArgument, match="method"):
        mgmt.principals.set_secret(uuid.uuid4(), "password", "t")
