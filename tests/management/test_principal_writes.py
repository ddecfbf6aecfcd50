"""Management.principals, the one writer of principals and their secrets: what it refuses and what a
write leaves behind (secrets themselves: test_authorizer.py; what a change implies: test_relations.py)."""

from __future__ import annotations

import pytest

from cfxstore.limits import MAX_REALM_BYTES
from cfxstore.management import AlreadyExists, InvalidArgument, NotFound


@pytest.fixture
def alice(mgmt):
    return mgmt.principals.create(realm="realm1", authid="alice", role="user", ticket="alices-ticket")


def test_same_authid_twice_on_one_realm_is_refused_and_the_original_stays(mgmt, alice):
    with pytest.raises(AlreadyExists, match="alice"):
        mgmt.principals.create(realm="realm1", authid="alice", role="admin", ticket="other-ticket")
    assert mgmt.principals.get_by(("realm1", "alice")).role == "user"
    assert len(mgmt.principals.list().items) == 1
    assert mgmt.credentials.verify_ticket("realm1", "alice", "alices-ticket") is not None
    assert mgmt.credentials.verify_ticket("realm1", "alice", "other-ticket") is None


def test_same_authid_on_another_realm_is_a_different_principal(mgmt, alice):
    other = mgmt.principals.create(realm="realm2", authid="alice", role="admin")
    assert mgmt.principals.get_by(("realm2", "alice")) == other != alice


def test_an_authid_with_a_space_is_refused(mgmt):
    with pytest.raises(InvalidArgument, match="authid"):
        mgmt.principals.create(realm="realm1", authid="has space", role="user")
    assert mgmt.principals.list().items == []


@pytest.mark.parametrize("field, value", [
    ("authid", "é" * 128),                        # 128 characters, 256 bytes
    ("realm", "r" * (MAX_REALM_BYTES + 1)),
    ("role", "\U0001F600" * 64),
])
def test_names_over_their_byte_limit_are_refused_naming_the_field(mgmt, field, value):
    # Within the names' character rules, over the byte limit of the indexes that hold them.
    args = {"realm": "realm1", "authid": "alice", "role": "user", field: value}
    with pytest.raises(InvalidArgument, match=f"Principal.{field}: at most .* UTF-8 bytes"):
        mgmt.principals.create(**args)
    assert mgmt.principals.list().items == []


def test_deleting_an_unknown_principal_is_refused(mgmt, alice):
    mgmt.principals.delete(alice.oid)
    with pytest.raises(NotFound):
        mgmt.principals.delete(alice.oid)


def test_a_principal_created_again_does_not_inherit_the_old_ticket(mgmt, alice):
    mgmt.principals.delete(alice.oid)
    mgmt.principals.create(realm="realm1", authid="alice", role="user")
    assert mgmt.credentials.verify_ticket("realm1", "alice", "alices-ticket") is None


@pytest.mark.parametrize("method, secret, options, what", [
    ("ticket", "", {}, "ticket"),
    ("wampcra", "", {}, "wampcra"),
    ("ticket", "short", {"generated": True}, "128 random bits"),
    ("wampcra", "pw", {"iterations": 0}, "iterations"),
    ("wampcra", "pw", {"iterations": 1.5}, "iterations"),
    ("wampcra", "pw", {"keylen": 8}, "keylen"),
    ("wampcra", "pw", {"keylen": 65}, "keylen"),
    ("wampcra", "pw", {"salt": ""}, "salt"),
])
def test_a_refused_secret_leaves_the_stored_ones(mgmt, alice, method, secret, options, what):
    with pytest.raises(InvalidArgument, match=what):
        mgmt.principals.set_secret(alice.oid, method, secret, **options)
    assert [c["authmethod"] for c in mgmt.principals.credentials(alice.oid)] == ["ticket"]
    assert mgmt.credentials.verify_ticket("realm1", "alice", "alices-ticket") is not None


# -- disabling ------------------------------------------------------------------------------

def test_disabling_sets_the_time_once_and_enabling_clears_it(mgmt, alice):
    disabled = mgmt.principals.disable(alice.oid)
    assert disabled.disabled is not None and disabled.disabled >= alice.modified
    assert mgmt.principals.get(alice.oid).disabled == disabled.disabled
    # Disabling it again changes nothing: it keeps when it was first disabled.
    assert mgmt.principals.disable(alice.oid) == disabled
    enabled = mgmt.principals.enable(alice.oid)
    assert enabled.disabled is None and mgmt.principals.get(alice.oid).disabled is None
    assert mgmt.principals.enable(alice.oid) == enabled
    # Its secrets stay through both.
    assert mgmt.credentials.verify_ticket("realm1", "alice", "alices-ticket") is not None


def test_an_enabled_principal_is_stored_without_the_field(mgmt, alice):
    # Left out of the stored form while unset, so principals stored before it existed keep their bytes.
    table = mgmt.principals.table
    assert "disabled" not in alice.marshal()
    assert mgmt.principals.disable(alice.oid).marshal()["disabled"] is not None
    enabled = mgmt.principals.enable(alice.oid)
    assert "disabled" not in enabled.marshal()
    with mgmt.db.begin() as txn:
        assert table[txn, alice.oid] == enabled


def test_disabling_an_unknown_principal_is_refused(mgmt, alice):
    with pytest.raises(NotFound):
        mgmt.principals.disable("00000000-0000-0000-0000-000000000000")
    with pytest.raises(InvalidArgument):
        mgmt.principals.enable("not a key")
    assert mgmt.principals.get(alice.oid).disabled is None
