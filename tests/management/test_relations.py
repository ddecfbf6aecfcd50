"""Each relation declared in cfxstore/management/relations.py holds, on a real LMDB database."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from cfxstore.cookies.service import CookieService
from cfxstore.management import AlreadyExists, InUse, InvalidArgument
from cfxstore.management.feed import ChangeFeed
from cfxstore.management.relations import RELATIONS
from factories import make

#: (kind, reaches) of every relation a test below shows to hold.
TESTED: set[tuple[str, str]] = set()


def proves(kind: str, reaches: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(test: Callable[..., Any]) -> Callable[..., Any]:
        TESTED.add((kind, reaches))
        return test
    return register


def test_every_declared_relation_has_a_test():
    assert TESTED == {(r.kind, r.reaches) for r in RELATIONS}


def feed(mgmt):
    return [(e["kind"], e["op"]) for _, e in ChangeFeed(mgmt.db).follow(0)]


@pytest.fixture
def cookies(db):
    return CookieService(db)


def login(cookies, authid, realm):
    """A cookie authid logged in with on realm; returns its raw value."""
    value, _ = cookies.create()
    assert cookies.set_auth(value, authid, "user", "ticket", None, realm)
    return value


@pytest.fixture
def alice(mgmt):
    return mgmt.principals.create(realm="realm1", authid="alice", role="user", ticket="alices-ticket")


# -- a principal's logins end when it changes ---------------------------------------------

CHANGES = {
    "deleted": lambda m, p: m.principals.delete(p.oid),
    "role changed": lambda m, p: m.principals.update(p.oid, role="admin"),
    "renamed": lambda m, p: m.principals.update(p.oid, authid="alicia"),
    "new ticket": lambda m, p: m.principals.set_secret(p.oid, "ticket", "alices-ticket-2"),
    "new WAMP-CRA secret": lambda m, p: m.principals.set_secret(p.oid, "wampcra", "alices-secret", iterations=10),
    "ticket removed": lambda m, p: m.principals.remove_secret(p.oid, "ticket"),
    "disabled": lambda m, p: m.principals.disable(p.oid),
}


@proves("principal", "cookie")
@pytest.mark.parametrize("change", CHANGES)
def test_a_changed_principal_loses_its_cookies_and_no_one_else_does(mgmt, cookies, alice, change):
    mgmt.principals.create(realm="realm2", authid="alice", role="user")
    mgmt.principals.create(realm="realm1", authid="bob", role="user")
    mine = [login(cookies, "alice", "realm1") for _ in range(2)]
    same_authid_elsewhere, bobs = login(cookies, "alice", "realm2"), login(cookies, "bob", "realm1")
    anonymous, _ = cookies.create()
    CHANGES[change](mgmt, alice)
    assert [cookies.lookup(v) for v in mine] == [None, None]
    assert cookies.lookup(same_authid_elsewhere).authrealm == "realm2"
    assert cookies.lookup(bobs).authid == "bob"
    assert cookies.exists(anonymous)


def test_creating_a_principal_leaves_the_cookies_of_its_name(mgmt, cookies):
    value = login(cookies, "carol", "realm1")
    mgmt.principals.create(realm="realm1", authid="carol", role="user", ticket="carols-ticket")
    assert cookies.lookup(value).authid == "carol"


def test_a_refused_principal_change_leaves_its_cookies(mgmt, cookies, alice):
    role = mgmt.roles.create(name="ops")
    mgmt.principals.create(realm="realm1", authid="bob", role="user")
    value = login(cookies, "alice", "realm1")
    with pytest.raises(InvalidArgument, match="principal.role"):
        mgmt.principals.update(alice.oid, role_oid=role.oid)           # a relation's check refuses it
    with pytest.raises(AlreadyExists):
        mgmt.principals.update(alice.oid, authid="bob")                 # a unique name refuses it
    with pytest.raises(InvalidArgument, match="ticket"):
        mgmt.principals.set_secret(alice.oid, "ticket", "")
    with pytest.raises(RuntimeError):
        with mgmt.db.begin(write=True) as txn:                          # the caller aborts it
            mgmt.principals.set_secret(alice.oid, "ticket", "alices-ticket-2", txn)
            raise RuntimeError("the caller changes its mind")
    assert cookies.lookup(value).authid == "alice"
    assert mgmt.credentials.verify_ticket("realm1", "alice", "alices-ticket") is not None


# -- a principal's credentials carry its name ---------------------------------------------

@proves("principal", "credential")
def test_a_renamed_principals_credentials_follow_it(mgmt, alice):
    creds = mgmt.credentials
    mgmt.principals.set_secret(alice.oid, "wampcra", "alices-secret", iterations=10)
    mgmt.principals.update(alice.oid, authid="alicia")
    assert creds.verify_ticket("realm1", "alicia", "alices-ticket").oid == alice.oid
    assert creds.verify_ticket("realm1", "alice", "alices-ticket") is None
    assert creds.get_wampcra("realm1", "alicia")["authid"] == "alicia"
    assert creds.get_wampcra("realm1", "alice") is None
    mgmt.principals.update(alice.oid, realm="realm2")
    assert creds.verify_ticket("realm2", "alicia", "alices-ticket").oid == alice.oid
    assert creds.verify_ticket("realm1", "alicia", "alices-ticket") is None
    # The old name is free again, without the secrets that followed the principal.
    mgmt.principals.create(realm="realm1", authid="alice", role="user")
    assert creds.verify_ticket("realm1", "alice", "alices-ticket") is None
    assert creds.get_wampcra("realm1", "alice") is None


def test_a_principal_changed_but_not_renamed_keeps_its_credentials(mgmt, alice):
    mgmt.principals.update(alice.oid, role="admin", extra={"tier": "gold"})
    assert mgmt.credentials.verify_ticket("realm1", "alice", "alices-ticket").role == "admin"


# -- a principal linked to a role or realm record carries its name ------------------------

@proves("principal", "role")
def test_a_principal_linked_to_a_role_or_realm_carries_its_name(mgmt):
    role, realm = make(mgmt, "role", name="ops"), make(mgmt, "arealm", name="east")
    with pytest.raises(InvalidArgument, match="principal.role: 'dev' differs from the name 'ops'"):
        mgmt.principals.create(realm="east", authid="x", role="dev", role_oid=role.oid)
    with pytest.raises(InvalidArgument, match="principal.realm: 'west' differs from the name 'east'"):
        mgmt.principals.create(realm="west", authid="x", role="ops", arealm_oid=realm.oid)
    assert mgmt.principals.list().items == []
    p = mgmt.principals.create(realm="east", authid="x", role="ops", role_oid=role.oid, arealm_oid=realm.oid)
    for change in ({"role": "dev"}, {"realm": "west"}):
        with pytest.raises(InvalidArgument, match=f"principal.{next(iter(change))}"):
            mgmt.principals.update(p.oid, **change)
    assert mgmt.principals.get(p.oid) == p
    # Unlinked, the names are free.
    assert mgmt.principals.update(p.oid, role="dev", role_oid=None).role == "dev"


# -- a role or realm a principal links to keeps its name ----------------------------------

@proves("role", "principal")
@proves("arealm", "principal")
@pytest.mark.parametrize("kind, link, name", [("role", "role_oid", "role"), ("arealm", "arealm_oid", "realm")])
def test_a_role_or_realm_a_principal_links_to_cannot_be_renamed(mgmt, kind, link, name):
    coll = mgmt.collection(kind)
    record = make(mgmt, kind, name="linked")
    fields = {"realm": "realm1", "authid": "x", "role": "user", name: "linked", link: record.oid}
    p = mgmt.principals.create(**fields)
    before = feed(mgmt)
    with pytest.raises(InUse, match=f"{kind} 'linked' cannot be renamed while principal 'x'"):
        coll.update(record.oid, name="renamed")
    assert coll.get(record.oid) == record and mgmt.principals.get(p.oid) == p
    assert feed(mgmt) == before  # nothing was written
    coll.update(record.oid, description="other fields may change")
    mgmt.principals.update(p.oid, **{link: None})
    assert coll.update(record.oid, name="renamed").name == "renamed"


# -- a principal's logins end when one of its cryptosign keys is revoked --------------------

@proves("cryptosign_key", "cookie")
def test_a_revoked_key_ends_its_principals_logins_and_no_one_elses(mgmt, cookies, alice):
    from nacl.signing import SigningKey

    keys = [SigningKey.generate().verify_key.encode().hex() for _ in range(2)]
    for key in keys:
        mgmt.principals.add_key(alice.oid, key)
    bob = mgmt.principals.create(realm="realm1", authid="bob", role="user")
    mgmt.principals.add_key(bob.oid, SigningKey.generate().verify_key.encode().hex())
    mine, bobs = login(cookies, "alice", "realm1"), login(cookies, "bob", "realm1")
    mgmt.principals.revoke_key(alice.oid, keys[0])
    assert cookies.lookup(mine) is None and cookies.lookup(bobs).authid == "bob"


def test_removing_a_secret_it_does_not_have_changes_nothing(mgmt, cookies, alice):
    value = login(cookies, "alice", "realm1")
    assert not mgmt.principals.remove_secret(alice.oid, "wampcra")
    assert cookies.lookup(value).authid == "alice"
    assert [c["authmethod"] for c in mgmt.principals.credentials(alice.oid)] == ["ticket"]
    with pytest.raises(InvalidArgument):
        mgmt.principals.remove_secret(alice.oid, "password")
