"""Every GlobalSchema index: lookups, uniqueness, and index upkeep on update and delete."""

import dataclasses

import orm
import pytest

from cfxstore.globalschema.entities import email_key
from index_contract import *  # noqa: F401,F403  (the shared index tests)
from index_contract import Case, cases, put, with_factories
from global_factories import T0, TABLES, activation_token, node, oid, pubkey, usage, user, user_org_role


UNIQUE = with_factories(TABLES, [
    Case("users", "idx_users_by_email", ("email",), lambda u: email_key(u.email),
         ("email", lambda n: f"moved{n}@example.com")),
    Case("users", "idx_users_by_pubkey", ("pubkey",), lambda u: u.pubkey, ("pubkey", lambda n: pubkey(900 + n))),
    Case("organizations", "idx_organizations_by_name", ("name",), lambda o: o.name, ("name", lambda n: f"moved-{n}")),
    Case("mrealms", "idx_mrealms_by_name", ("name",), lambda m: m.name, ("name", lambda n: f"moved-{n}")),
    Case("nodes", "idx_nodes_by_pubkey", ("pubkey",), lambda x: x.pubkey, ("pubkey", lambda n: pubkey(900 + n))),
    Case("nodes", "idx_nodes_by_authid", ("mrealm_oid", "authid"), lambda x: (x.mrealm_oid, x.authid),
         ("authid", lambda n: f"moved-{n}")),
])

NON_UNIQUE = with_factories(TABLES, [
    Case("activation_tokens", "idx_activation_tokens_by_email_pubkey", ("email", "pubkey"),
         lambda t: (email_key(t.email), t.pubkey), ("pubkey", lambda n: pubkey(900 + n))),
    Case("activation_tokens", "idx_activation_tokens_by_created", ("created",), lambda t: t.created,
         ("created", lambda n: T0 + 10_000 + n)),
    # The index key is part of the primary key here, so it cannot move on update.
    Case("user_org_roles", "idx_user_org_roles_by_org", ("org_oid",), lambda r: r.org_oid, None),
    Case("user_mrealm_roles", "idx_user_mrealm_roles_by_mrealm", ("mrealm_oid",), lambda r: r.mrealm_oid, None),
    Case("mrealms", "idx_mrealms_by_owner", ("owner",), lambda m: m.owner, ("owner", lambda n: oid(9000 + n))),
    Case("nodes", "idx_nodes_by_owner", ("owner_oid",), lambda x: x.owner_oid, ("owner_oid", lambda n: oid(9000 + n))),
    Case("usage", "idx_usage_by_mrealm", ("mrealm_oid", "timestamp", "timestamp_from"),
         lambda u: (u.mrealm_oid, u.timestamp), ("mrealm_oid", lambda n: oid(9000 + n))),
])

pytest_generate_tests = cases(UNIQUE, NON_UNIQUE)


@pytest.fixture
def schema(gs):
    return gs



def test_schema_has_at_least_twenty_tables_in_documented_slots(gs):
    slots = sorted(v.slot for v in vars(gs).values() if hasattr(v, "slot"))
    assert len(slots) >= 20
    assert all(20 <= s <= 39 or 120 <= s <= 139 for s in slots)


# --- behaviours particular to one index ---

def test_email_index_ignores_case(db, gs):
    put(db, gs, "users", user(1, email="Alice@Example.com"))
    with db.begin(write=True) as txn:
        with pytest.raises(orm.UniqueViolation):
            gs.users[txn, oid(2)] = user(2, oid=oid(2), email="alice@example.COM")


def test_users_without_pubkey_are_not_indexed_by_pubkey(db, gs):
    put(db, gs, "users", user(1, pubkey=None), user(2, pubkey=None))
    with db.begin() as txn:
        assert gs.users.count(txn) == 2
        assert gs.idx_users_by_pubkey.count(txn) == 0


def test_unpaired_node_is_not_indexed_by_authid(db, gs):
    put(db, gs, "nodes", node(1, mrealm_oid=None, authid=None), node(2, mrealm_oid=None, authid=None))
    with db.begin() as txn:
        assert gs.nodes.count(txn) == 2
        assert gs.idx_nodes_by_authid.count(txn) == 0


def test_pairing_a_node_adds_it_to_the_authid_index(db, gs):
    unpaired = node(1, mrealm_oid=None, authid=None)
    put(db, gs, "nodes", unpaired)
    put(db, gs, "nodes", dataclasses.replace(unpaired, mrealm_oid=oid(4001), authid="edge-1"))
    with db.begin() as txn:
        assert gs.nodes.keys_by_index(txn, "idx_nodes_by_authid", (oid(4001), "edge-1")) == [unpaired.oid]


def test_same_authid_in_two_mrealms_is_allowed(db, gs):
    put(db, gs, "nodes", node(1, authid="edge"), node(2, authid="edge"))
    with db.begin() as txn:
        assert gs.idx_nodes_by_authid.count(txn) == 2


def test_user_org_roles_of_one_user_are_a_prefix_scan(db, gs):
    mine = [user_org_role(1, org_oid=oid(3001)), user_org_role(1, org_oid=oid(3002))]
    put(db, gs, "user_org_roles", *mine, user_org_role(2))
    with db.begin() as txn:
        assert list(gs.user_org_roles.select(txn, prefix=(oid(1001),), return_keys=False)) == mine


def test_changing_roles_keeps_one_org_index_entry(db, gs):
    grant = user_org_role(1)
    put(db, gs, "user_org_roles", grant)
    put(db, gs, "user_org_roles", dataclasses.replace(grant, roles=["owner", "admin"]))
    with db.begin() as txn:
        assert gs.idx_user_org_roles_by_org.count(txn) == 1
        assert gs.user_org_roles[txn, grant.key].roles == ["owner", "admin"]


def test_usage_of_one_mrealm_by_time_range(db, gs):
    m = oid(4001)
    records = [usage(n, mrealm_oid=m) for n in range(1, 6)]
    put(db, gs, "usage", *records, usage(7))
    with db.begin() as txn:
        hits = list(gs.idx_usage_by_mrealm.select(txn, from_key=(m, records[1].timestamp),
                                                  to_key=(m, records[4].timestamp)))
    assert [member for _, member in hits] == [r.key for r in records[1:4]]


def test_expired_activation_tokens_are_a_range_scan(db, gs):
    tokens = [activation_token(n) for n in range(1, 5)]
    put(db, gs, "activation_tokens", *tokens)
    with db.begin() as txn:
        old = [m for _, m in gs.idx_activation_tokens_by_created.select(txn, to_key=tokens[2].created)]
    assert old == [tokens[0].oid, tokens[1].oid]
