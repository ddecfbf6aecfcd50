"""Referential integrity: every declared relation, its rule on delete, and references checked on write."""

from __future__ import annotations

import uuid

import pytest

from cfxstore.management import InUse, InvalidArgument, NotFound
from cfxstore.management.kinds import CASCADE, KINDS, REFUSE
from factories import make

RELATIONS = [(child.name, ref) for child in KINDS.values() for ref in child.refs]


def test_every_relation_has_a_rule():
    assert RELATIONS and all(ref.on_delete in (REFUSE, CASCADE) for _, ref in RELATIONS)


# Internal kinds (worker groups) have no delete of their own: references to them are checked
# on create and update, and nothing can delete one from under its referrers.
DELETABLE = [(c, r) for c, r in RELATIONS if not KINDS[r.target].internal]


@pytest.mark.parametrize("child_kind, ref", [(c, r) for c, r in RELATIONS if KINDS[r.target].internal],
                         ids=[f"{c}.{r.field}->{r.target}" for c, r in RELATIONS if KINDS[r.target].internal])
def test_an_internal_referenced_record_cannot_be_deleted_at_all(mgmt, child_kind, ref):
    parent = make(mgmt, ref.target)
    make(mgmt, child_kind, **{ref.field: parent.oid})
    with pytest.raises(InvalidArgument, match="managed through their owner"):
        mgmt.collection(ref.target).delete(parent.oid)
    assert mgmt.collection(ref.target).find(parent.oid) is not None


@pytest.mark.parametrize("child_kind, ref", DELETABLE, ids=[f"{c}.{r.field}->{r.target}" for c, r in DELETABLE])
def test_deleting_a_referenced_record_applies_the_rule(mgmt, child_kind, ref):
    parent = make(mgmt, ref.target)
    child = make(mgmt, child_kind, **{ref.field: parent.oid})
    children = mgmt.collection(child_kind)
    child_key = children.kind.key_of(child)
    parents = mgmt.collection(ref.target)
    if ref.on_delete == REFUSE:
        with pytest.raises(InUse) as info:
            parents.delete(parent.oid)
        assert ref.field in str(info.value) and child_kind in str(info.value)
        assert parents.find(parent.oid) is not None and children.find(child_key) is not None
    else:
        parents.delete(parent.oid)
        assert parents.find(parent.oid) is None and children.find(child_key) is None


@pytest.mark.parametrize("child_kind, ref", [(c, r) for c, r in RELATIONS if not KINDS[c].internal],
                         ids=[f"{c}.{r.field}" for c, r in RELATIONS if not KINDS[c].internal])
def test_a_reference_to_a_missing_record_is_refused(mgmt, child_kind, ref):
    from factories import fields

    values = fields(mgmt, child_kind, **{ref.field: uuid.uuid4()})
    before = mgmt.collection(child_kind).list().items
    with pytest.raises(NotFound) as info:
        mgmt.collection(child_kind).create(**values)
    assert ref.field in str(info.value)
    assert mgmt.collection(child_kind).list().items == before


def test_a_cascade_refused_further_down_deletes_nothing(mgmt):
    # arealm -> association (cascade) is fine, but a principal linked to the arealm refuses.
    realm = make(mgmt, "arealm")
    assoc = make(mgmt, "arealm_role", arealm_oid=realm.oid)
    make(mgmt, "principal", arealm_oid=realm.oid)
    with pytest.raises(InUse):
        mgmt.arealms.delete(realm.oid)
    assert mgmt.arealm_roles.find(assoc.key) is not None


def test_deleting_a_role_cascades_to_its_permissions_only(mgmt):
    role, other = make(mgmt, "role"), make(mgmt, "role")
    mine = [make(mgmt, "permission", role_oid=role.oid) for _ in range(3)]
    theirs = make(mgmt, "permission", role_oid=other.oid)
    mgmt.roles.delete(role.oid)
    assert all(mgmt.permissions.find(p.oid) is None for p in mine)
    assert mgmt.permissions.find(theirs.oid) is not None


def test_deleting_a_principal_deletes_its_credentials(mgmt):
    p = mgmt.principals.create(realm="realm1", authid="dave", role="user", ticket="t-dave")
    assert [c["authmethod"] for c in mgmt.principals.credentials(p.oid)] == ["ticket"]
    mgmt.principals.delete(p.oid)
    assert mgmt.collection("credential").list().items == []
    assert mgmt.credentials.verify_ticket("realm1", "dave", "t-dave") is None
