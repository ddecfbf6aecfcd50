"""CredentialService: principals per realm, as their owner (Management.principals) wrote them."""


def test_created_principal_can_be_read_back(svc, alice):
    assert svc.get_principal("realm1", "alice") == alice


def test_principal_carries_realm_role_and_extra(svc, alice):
    found = svc.get_principal("realm1", "alice")
    assert (found.realm, found.authid, found.role, found.extra) == ("realm1", "alice", "user", {"tier": "gold"})


def test_unknown_principal_is_none(svc):
    assert svc.get_principal("realm1", "nobody") is None


def test_deleted_principal_is_gone(svc, principals, alice):
    principals.delete(alice.oid)
    assert svc.get_principal("realm1", "alice") is None
    assert svc.list_principals() == []


def test_list_principals_is_ordered_by_realm_then_authid(svc, principals):
    for realm, authid in [("r2", "a"), ("r1", "b"), ("r1", "a")]:
        principals.create(realm=realm, authid=authid, role="user")
    assert [(p.realm, p.authid) for p in svc.list_principals()] == [("r1", "a"), ("r1", "b"), ("r2", "a")]


def test_list_principals_of_one_realm(svc, principals):
    for realm, authid in [("r2", "a"), ("r1", "b"), ("r10", "c")]:
        principals.create(realm=realm, authid=authid, role="user")
    assert [p.authid for p in svc.list_principals("r1")] == ["b"]


def test_open_by_path_and_close(tmp_path, hasher):
    from cfxstore.credentials import CredentialService
    from cfxstore.management import Management

    with Management.open(str(tmp_path / "opened")) as mgmt:
        mgmt.principals.create(realm="r", authid="a", role="user")
    with CredentialService.open(str(tmp_path / "opened"), hasher=hasher) as svc:
        assert svc.get_principal("r", "a").role == "user"
