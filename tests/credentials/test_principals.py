"""CredentialService: principals per realm."""

import pytest

from cfxstore.credentials import PrincipalExists


def test_added_principal_can_be_read_back(svc, alice):
    assert svc.get_principal("realm1", "alice") == alice


def test_principal_carries_realm_role_and_extra(alice):
    assert (alice.realm, alice.authid, alice.role, alice.extra) == ("realm1", "alice", "user", {"tier": "gold"})


def test_unknown_principal_is_none(svc):
    assert svc.get_principal("realm1", "nobody") is None


def test_same_authid_twice_on_one_realm_is_refused(svc, alice):
    with pytest.raises(PrincipalExists, match="alice"):
        svc.add_principal(realm="realm1", authid="alice", role="admin")


def test_refused_duplicate_leaves_the_original(svc, alice):
    with pytest.raises(PrincipalExists):
        svc.add_principal(realm="realm1", authid="alice", role="admin")
    assert svc.get_principal("realm1", "alice").role == "user"
    assert len(svc.list_principals()) == 1


def test_same_authid_on_another_realm_is_a_different_principal(svc, alice):
    other = svc.add_principal(realm="realm2", authid="alice", role="admin")
    assert svc.get_principal("realm2", "alice") == other != alice


def test_invalid_principal_fields_raise_value_error(svc):
    with pytest.raises(ValueError, match="authid"):
        svc.add_principal(realm="realm1", authid="has space", role="user")


def test_list_principals_is_ordered_by_realm_then_authid(svc):
    for realm, authid in [("r2", "a"), ("r1", "b"), ("r1", "a")]:
        svc.add_principal(realm=realm, authid=authid, role="user")
    assert [(p.realm, p.authid) for p in svc.list_principals()] == [("r1", "a"), ("r1", "b"), ("r2", "a")]


def test_list_principals_of_one_realm(svc):
    for realm, authid in [("r2", "a"), ("r1", "b"), ("r10", "c")]:
        svc.add_principal(realm=realm, authid=authid, role="user")
    assert [p.authid for p in svc.list_principals("r1")] == ["b"]


def test_remove_principal_deletes_it(svc, alice):
    assert svc.remove_principal("realm1", "alice") is True
    assert svc.get_principal("realm1", "alice") is None


def test_remove_unknown_principal_is_false(svc):
    assert svc.remove_principal("realm1", "nobody") is False


def test_remove_principal_deletes_its_credentials(svc, db, alice):
    svc.set_ticket("realm1", "alice", "t1")
    svc.set_wampcra("realm1", "alice", "pw")
    svc.remove_principal("realm1", "alice")
    with db.begin() as txn:
        assert svc.schema.credentials.count(txn) == 0


def test_re_added_principal_does_not_inherit_old_ticket(svc, alice):
    svc.set_ticket("realm1", "alice", "old-ticket")
    svc.remove_principal("realm1", "alice")
    svc.add_principal(realm="realm1", authid="alice", role="user")
    assert svc.verify_ticket("realm1", "alice", "old-ticket") is None


def test_open_by_path_and_close(tmp_path, hasher):
    from cfxstore.credentials import CredentialService

    with CredentialService.open(str(tmp_path / "opened"), hasher=hasher) as svc:
        svc.add_principal(realm="r", authid="a", role="user")
    with CredentialService.open(str(tmp_path / "opened"), hasher=hasher) as svc:
        assert svc.get_principal("r", "a").role == "user"
