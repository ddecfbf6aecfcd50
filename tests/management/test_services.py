"""The record services: create, get, list, update, delete; transactions; validation; uniqueness."""

from __future__ import annotations

import uuid

import pytest

from cfxstore.management import AlreadyExists, InvalidArgument, NotFound
from cfxstore.management.kinds import KINDS
from factories import fields, make

PUBLIC = [name for name, kind in KINDS.items() if not kind.internal]
# A change each kind accepts (records of the labelled kinds take a label).
CHANGES = {"organization_role": {"roles": ["admin"]}, "mrealm_role": {"roles": ["owner", "user"]},
           "arealm_role": {}, "routercluster_node": {"softlimit": 1}, "webcluster_node": {"parallel": 2}}


@pytest.mark.parametrize("kind", PUBLIC)
def test_create_get_update_delete_round(mgmt, kind):
    coll = mgmt.collection(kind)
    record = coll.create(**fields(mgmt, kind))
    key = coll.kind.key_of(record)
    assert coll.get(key) == record
    assert record in coll.list(limit=1000).items
    change = CHANGES.get(kind, {"label": "a label"})
    updated = coll.update(key, **change)
    assert all(getattr(updated, k) == v for k, v in change.items())
    assert coll.get(key) == updated
    assert coll.delete(key) == updated
    assert coll.find(key) is None
    with pytest.raises(NotFound):
        coll.get(key)


@pytest.mark.parametrize("kind", PUBLIC)
def test_a_record_created_in_an_aborted_caller_transaction_is_gone(mgmt, kind):
    coll = mgmt.collection(kind)
    values = fields(mgmt, kind)
    with pytest.raises(RuntimeError):
        with mgmt.db.begin(write=True) as txn:
            record = coll.create(txn, **values)
            assert coll.get(coll.kind.key_of(record), txn=txn) == record
            raise RuntimeError("the caller changes its mind")
    assert coll.find(coll.kind.key_of(record)) is None


def test_several_operations_commit_together_in_the_caller_transaction(mgmt):
    with mgmt.db.begin(write=True) as txn:
        realm = mgmt.arealms.create(txn, name="shop")
        role = mgmt.roles.create(txn, name="buyer")
        mgmt.arealm_roles.create(txn, arealm_oid=realm.oid, role_oid=role.oid)
        mgmt.permissions.create(txn, role_oid=role.oid, uri="shop.buy", allow_call=True)
        principal = mgmt.principals.create(txn, realm="shop", authid="bob", role="buyer", role_oid=role.oid)
    assert mgmt.principals.get(principal.oid).role_oid == role.oid
    assert len(mgmt.permissions.list(role_oid=role.oid).items) == 1


def test_a_refused_operation_inside_the_caller_transaction_writes_nothing(mgmt):
    make(mgmt, "role", name="taken")
    with mgmt.db.begin(write=True) as txn:
        mgmt.roles.create(txn, name="kept")
        with pytest.raises(AlreadyExists):
            mgmt.roles.create(txn, name="taken")
    assert sorted(r.name for r in mgmt.roles.list().items) == ["kept", "taken"]


def test_writes_refuse_a_read_only_transaction(mgmt):
    with mgmt.db.begin() as txn:
        with pytest.raises(InvalidArgument, match="write transaction"):
            mgmt.roles.create(txn, name="r")


@pytest.mark.parametrize("kind, field, clash", [
    ("role", "name", None), ("arealm", "name", None), ("organization", "name", None), ("mrealm", "name", None),
    ("routercluster", "name", None), ("webcluster", "name", None), ("node", "pubkey", None),
    ("user", "email", str.upper),
])
def test_names_are_unique(mgmt, kind, field, clash):
    first = make(mgmt, kind)
    value = getattr(first, field)
    with pytest.raises(AlreadyExists, match=field):
        make(mgmt, kind, **{field: clash(value) if clash else value})
    second = make(mgmt, kind)
    with pytest.raises(AlreadyExists):
        mgmt.collection(kind).update(second.oid, **{field: value})
    assert getattr(mgmt.collection(kind).get(second.oid), field) != value


def test_a_permission_uri_is_unique_per_role(mgmt):
    role = make(mgmt, "role")
    make(mgmt, "permission", role_oid=role.oid, uri="com.a.")
    with pytest.raises(AlreadyExists, match="role_oid, uri"):
        make(mgmt, "permission", role_oid=role.oid, uri="com.a.")
    make(mgmt, "permission", uri="com.a.")  # another role may use it


def test_composite_keys_are_unique(mgmt):
    assoc = make(mgmt, "arealm_role")
    with pytest.raises(AlreadyExists):
        mgmt.arealm_roles.create(arealm_oid=assoc.arealm_oid, role_oid=assoc.role_oid)


@pytest.mark.parametrize("kind, values, field", [
    ("role", {"name": ""}, "name"),
    ("role", {"name": "two words"}, "name"),
    ("role", {"name": 7}, "name"),
    ("permission", {"uri": "a.", "match": "regex"}, "match"),
    ("permission", {"uri": "a.", "allow_call": "yes"}, "allow_call"),
    ("user", {"email": "no-at-sign"}, "email"),
    ("node", {"pubkey": "XYZ"}, "pubkey"),
    ("webcluster", {"name": "w", "tcp_port": 70000}, "tcp_port"),
    ("role", {"name": "r", "shape": "round"}, "shape"),
])
def test_invalid_fields_are_refused_naming_the_field(mgmt, kind, values, field):
    base = fields(mgmt, kind) if kind == "permission" else {}
    before = mgmt.collection(kind).list().items
    with pytest.raises(InvalidArgument, match=field):
        mgmt.collection(kind).create(**{**base, **values})
    assert mgmt.collection(kind).list().items == before


def test_a_missing_required_field_is_named(mgmt):
    with pytest.raises(InvalidArgument, match="name"):
        mgmt.roles.create(description="no name")


def test_keys_and_creation_times_cannot_be_updated(mgmt):
    role = make(mgmt, "role")
    for change in ({"oid": uuid.uuid4()}, {"created": 1}):
        with pytest.raises(InvalidArgument, match=next(iter(change))):
            mgmt.roles.update(role.oid, **change)
    assoc = make(mgmt, "arealm_role")
    with pytest.raises(InvalidArgument, match="role_oid"):
        mgmt.arealm_roles.update(assoc.key, role_oid=make(mgmt, "role").oid)


def test_update_refreshes_the_changed_time(mgmt):
    realm = make(mgmt, "arealm")
    assert mgmt.arealms.update(realm.oid, status="running").changed > realm.changed


def test_bad_keys_are_refused(mgmt):
    with pytest.raises(InvalidArgument, match="role.oid"):
        mgmt.roles.get("nope")
    with pytest.raises(InvalidArgument, match="arealm_oid, role_oid"):
        mgmt.arealm_roles.get(str(uuid.uuid4()))
    with pytest.raises(NotFound):
        mgmt.roles.delete(str(uuid.uuid4()))


def test_get_by_name(mgmt):
    role = make(mgmt, "role", name="finder")
    assert mgmt.roles.get_by("finder") == role
    with pytest.raises(NotFound, match="finder2"):
        mgmt.roles.get_by("finder2")
    user = make(mgmt, "user", email="Mixed@Example.com")
    assert mgmt.users.get_by("mixed@example.com") == user


def test_listeners_hear_committed_changes_only(mgmt):
    heard = []
    mgmt.on_change(lambda kind, op, record: heard.append((kind, op, record.name)))
    role = mgmt.roles.create(name="heard")
    with pytest.raises(RuntimeError):
        with mgmt.db.begin(write=True) as txn:
            mgmt.roles.create(txn, name="unheard")
            raise RuntimeError
    mgmt.roles.update(role.oid, description="d")
    mgmt.roles.delete(role.oid)
    assert heard == [("role", "created", "heard"), ("role", "updated", "heard"), ("role", "deleted", "heard")]


def test_internal_kinds_are_not_writable_directly(mgmt):
    with pytest.raises(InvalidArgument, match="credential"):
        mgmt.collection("credential").create(principal_oid=uuid.uuid4(), authmethod="ticket", realm="r",
                                             authid="a")


def test_open_creates_and_closes_its_own_database(tmp_path):
    from cfxstore.management import Management

    with Management.open(str(tmp_path / "own")) as m:
        m.roles.create(name="kept")
    with Management.open(str(tmp_path / "own"), readonly=True) as m:
        assert [r.name for r in m.roles.list().items] == ["kept"]
