"""Listing: stable order, cursor pagination, filters through the existing indexes."""

from __future__ import annotations

import uuid

import pytest

from cfxstore.management import InvalidArgument
from factories import make


def _all_pages(coll, limit, **filters):
    out, after, pages = [], None, 0
    while True:
        page = coll.list(limit=limit, after=after, **filters)
        pages += 1
        out += page.items
        if page.next is None:
            return out, pages
        after = page.next


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 100])
def test_pages_cover_every_record_once_in_name_order(mgmt, limit):
    names = [f"role-{i:02d}" for i in range(7)]
    for name in reversed(names):
        make(mgmt, "role", name=name)
    records, pages = _all_pages(mgmt.roles, limit)
    assert [r.name for r in records] == names
    assert pages == -(-7 // limit) if limit < 7 else pages == 1


def test_a_page_of_exactly_limit_items_at_the_end_says_there_is_no_next(mgmt):
    for i in range(4):
        make(mgmt, "role", name=f"r{i}")
    page = mgmt.roles.list(limit=4)
    assert len(page.items) == 4 and page.next is None


def test_filters_use_the_indexes(mgmt):
    role, other = make(mgmt, "role"), make(mgmt, "role")
    mine = {make(mgmt, "permission", role_oid=role.oid).oid for _ in range(5)}
    make(mgmt, "permission", role_oid=other.oid)
    records, _ = _all_pages(mgmt.permissions, 2, role_oid=role.oid)
    assert {p.oid for p in records} == mine
    assert [p.uri for p in records] == sorted(p.uri for p in records)
    # String forms of UUIDs work as filter values (the wire form).
    assert len(mgmt.permissions.list(role_oid=str(role.oid)).items) == 5


@pytest.mark.parametrize("kind, field, parent", [
    ("arealm_role", "arealm_oid", "arealm"), ("arealm_role", "role_oid", "role"),
    ("organization_role", "org_oid", "organization"), ("organization_role", "user_oid", "user"),
    ("mrealm", "owner", "user"), ("routercluster_node", "node_oid", "node"),
    ("routercluster_node", "cluster_oid", "routercluster"), ("webcluster_node", "cluster_oid", "webcluster"),
])
def test_each_filter_returns_exactly_the_matching_records(mgmt, kind, field, parent):
    p = make(mgmt, parent)
    mine = [make(mgmt, kind, **{field: p.oid}) for _ in range(3)]
    make(mgmt, kind)
    records, _ = _all_pages(mgmt.collection(kind), 2, **{field: p.oid})
    assert sorted(map(repr, records)) == sorted(map(repr, mine))


def test_principals_by_realm(mgmt):
    for authid in ("b", "a", "c"):
        mgmt.principals.create(realm="one", authid=authid, role="user")
    mgmt.principals.create(realm="two", authid="a", role="user")
    assert [p.authid for p in mgmt.principals.list(realm="one").items] == ["a", "b", "c"]


@pytest.mark.parametrize("kwargs, what", [
    ({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"limit": "5"}, "limit"), ({"limit": True}, "limit"),
    ({"after": "%%%"}, "after"), ({"after": 12}, "after"), ({"colour": "red"}, "colour"),
    ({"role_oid": "x"}, "role_oid"),
])
def test_bad_list_arguments_are_refused(mgmt, kwargs, what):
    coll = mgmt.permissions if "role_oid" in kwargs else mgmt.roles
    with pytest.raises(InvalidArgument, match=what):
        coll.list(**kwargs)


def test_an_unknown_filter_value_lists_nothing(mgmt):
    make(mgmt, "permission")
    assert mgmt.permissions.list(role_oid=uuid.uuid4()).items == []
