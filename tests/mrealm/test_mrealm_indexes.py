"""Every MrealmSchema index: lookups, uniqueness, and index upkeep on update and delete."""


import pytest

from index_contract import *  # noqa: F401,F403  (the shared index tests)
from index_contract import Case, cases, put, with_factories
from mrealm_factories import (
    T0, TABLES, credential, node_log, oid, permission, placement, principal, webservice, worker_log, workergroup,
)


def _rename(prefix):
    return ("name", lambda n: f"{prefix}-moved-{n}")


UNIQUE = with_factories(TABLES, [
    Case("arealms", "idx_arealms_by_name", ("name",), lambda r: r.name, _rename("realm")),
    Case("roles", "idx_roles_by_name", ("name",), lambda r: r.name, _rename("role")),
    Case("permissions", "idx_permissions_by_uri", ("role_oid", "uri"), lambda p: (p.role_oid, p.uri),
         ("uri", lambda n: f"com.example.moved{n}")),
    Case("principals", "idx_principals_by_realm_authid", ("realm", "authid"), lambda p: (p.realm, p.authid),
         ("authid", lambda n: f"moved{n}")),
    Case("credentials", "idx_credentials_by_auth", ("authmethod", "realm", "authid"),
         lambda c: (c.authmethod, c.realm, c.authid), ("authid", lambda n: f"moved{n}")),
    Case("routerclusters", "idx_routerclusters_by_name", ("name",), lambda c: c.name, _rename("cluster")),
    Case("router_workergroups", "idx_workergroups_by_cluster_name", ("cluster_oid", "name"),
         lambda g: (g.cluster_oid, g.name), _rename("group")),
    Case("router_workergroup_placements", "idx_placements_by_worker",
         ("worker_group_oid", "cluster_oid", "node_oid", "worker_name"),
         lambda p: (p.worker_group_oid, p.cluster_oid, p.node_oid, p.worker_name),
         ("worker_name", lambda n: f"moved{n}")),
    Case("webclusters", "idx_webclusters_by_name", ("name",), lambda c: c.name, _rename("web")),
    Case("webservices", "idx_webservices_by_path", ("webcluster_oid", "path"), lambda s: (s.webcluster_oid, s.path),
         ("path", lambda n: f"moved{n}")),
])

NON_UNIQUE = with_factories(TABLES, [
    Case("arealms", "idx_arealms_by_webcluster", ("webcluster_oid",), lambda r: r.webcluster_oid,
         ("webcluster_oid", lambda n: oid(5000 + n))),
    # Below, the index key is part of the primary key, so it cannot move on update.
    Case("arealm_role_associations", "idx_arealm_role_associations_by_role", ("role_oid",), lambda a: a.role_oid,
         None),
    Case("credentials", "idx_credentials_by_principal", ("principal_oid",), lambda c: c.principal_oid,
         ("principal_oid", lambda n: oid(5000 + n))),
    Case("routercluster_node_memberships", "idx_routercluster_node_memberships_by_node", ("node_oid",),
         lambda m: m.node_oid, None),
    Case("router_workergroup_placements", "idx_placements_by_cluster_node", ("cluster_oid", "node_oid"),
         lambda p: (p.cluster_oid, p.node_oid), ("node_oid", lambda n: oid(5000 + n))),
    Case("webcluster_node_memberships", "idx_webcluster_node_memberships_by_node", ("node_oid",),
         lambda m: m.node_oid, None),
    # Log indexes map 1:1 onto the primary key (same parts, other order): no two records share a key.
    Case("node_logs", "idx_node_logs_by_node", None, lambda g: (g.node_oid, g.timestamp), None),
    Case("worker_logs", "idx_worker_logs_by_worker", None, lambda g: (g.node_oid, g.worker_id, g.timestamp), None),
])

pytest_generate_tests = cases(UNIQUE, NON_UNIQUE)


@pytest.fixture
def schema(ms):
    return ms



def test_schema_slots_are_in_documented_ranges(ms):
    slots = sorted(v.slot for v in vars(ms).values() if hasattr(v, "slot"))
    assert all(40 <= s <= 69 or 140 <= s <= 179 for s in slots)
    assert len(slots) == len(set(slots)) >= 30


# --- names are unique only within their scope ---

def test_same_uri_may_be_granted_to_two_roles(db, ms):
    put(db, ms, "permissions", permission(1, uri="com.example.x"), permission(2, uri="com.example.x"))
    with db.begin() as txn:
        assert ms.permissions.count(txn) == 2


def test_same_authid_may_exist_on_two_realms(db, ms):
    put(db, ms, "principals", principal(1, authid="alice"), principal(2, authid="alice"))
    with db.begin() as txn:
        assert ms.principals.count(txn) == 2


def test_one_authid_may_have_credentials_for_two_authmethods(db, ms):
    ticket = credential(1)
    cra = credential(2, principal_oid=ticket.principal_oid, realm=ticket.realm, authid=ticket.authid,
                     authmethod="wampcra", authconfig={"key": "k", "salt": "s", "iterations": 1, "keylen": 32})
    put(db, ms, "credentials", ticket, cra)
    with db.begin() as txn:
        assert ms.credentials.keys_by_index(txn, "idx_credentials_by_principal", ticket.principal_oid) == sorted(
            [ticket.oid, cra.oid])


def test_same_worker_group_name_in_two_clusters(db, ms):
    put(db, ms, "router_workergroups", workergroup(1, name="g"), workergroup(2, name="g"))
    with db.begin() as txn:
        assert ms.idx_workergroups_by_cluster_name.count(txn) == 2


def test_same_web_path_in_two_web_clusters(db, ms):
    put(db, ms, "webservices", webservice(1, path="info"), webservice(2, path="info"))
    with db.begin() as txn:
        assert ms.idx_webservices_by_path.count(txn) == 2


def test_web_services_of_one_cluster_are_a_prefix_scan(db, ms):
    mine = [webservice(1, path="a"), webservice(3, webcluster_oid=oid(1101), path="b")]
    put(db, ms, "webservices", *mine, webservice(2))
    with db.begin() as txn:
        oids = list(ms.idx_webservices_by_path.select(txn, prefix=(oid(1101),), return_keys=False))
    assert oids == [s.oid for s in mine]


def test_placements_of_one_node_in_a_cluster(db, ms):
    p1, p2 = placement(1), placement(2, cluster_oid=oid(601), node_oid=oid(701))
    put(db, ms, "router_workergroup_placements", p1, p2, placement(3))
    with db.begin() as txn:
        keys = ms.router_workergroup_placements.keys_by_index(txn, "idx_placements_by_cluster_node",
                                                              (oid(601), oid(701)))
    assert sorted(keys) == sorted([p1.oid, p2.oid])


# --- logs ---

def test_node_logs_of_all_nodes_by_time_range(db, ms):
    logs = [node_log(n) for n in range(1, 6)]
    put(db, ms, "node_logs", *logs)
    with db.begin() as txn:
        keys = list(ms.node_logs.select(txn, from_key=(T0 + 2, oid(0)), to_key=(T0 + 4, oid(0)), return_values=False))
    assert keys == [logs[1].key, logs[2].key]


def test_two_nodes_may_log_at_the_same_instant(db, ms):
    put(db, ms, "node_logs", node_log(1, timestamp=T0), node_log(2, timestamp=T0))
    with db.begin() as txn:
        assert ms.node_logs.count(txn) == 2


def test_history_of_one_node_in_time_order(db, ms):
    node = oid(701)
    mine = [node_log(n, node_oid=node) for n in (3, 1, 2)]
    put(db, ms, "node_logs", *mine, node_log(4))
    with db.begin() as txn:
        members = [m for _, m in ms.idx_node_logs_by_node.select(txn, prefix=(node,))]
    assert members == sorted(log.key for log in mine)


def test_history_of_one_worker_in_time_order(db, ms):
    node = oid(701)
    mine = [worker_log(n, node_oid=node, worker_id="w") for n in (2, 1)]
    other_worker = worker_log(3, node_oid=node, worker_id="x")
    put(db, ms, "worker_logs", *mine, other_worker)
    with db.begin() as txn:
        members = [m for _, m in ms.idx_worker_logs_by_worker.select(txn, prefix=(node, "w"))]
    assert members == sorted(log.key for log in mine)
