"""Distinct, valid management-realm records: factory(n) differs from factory(m) in every unique field."""

import uuid

from cfxstore.mrealm.entities import (
    ApplicationRealm,
    ApplicationRealmRoleAssociation,
    Credential,
    NodeLog,
    Permission,
    Principal,
    Role,
    RouterCluster,
    RouterClusterNodeMembership,
    RouterWorkerGroup,
    RouterWorkerGroupPlacement,
    WebCluster,
    WebClusterNodeMembership,
    WebService,
    WorkerLog,
)

from table_contract import pk  # noqa: F401  (re-exported to the test modules)

T0 = 1_700_000_000_000_000_000


def oid(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


def arealm(n=1, **kw):
    return ApplicationRealm(**{"oid": oid(100 + n), "name": f"realm{n}", "webcluster_oid": oid(1100 + n),
                               "changed": T0 + n, **kw})


def role(n=1, **kw):
    return Role(**{"oid": oid(200 + n), "name": f"role{n}", "created": T0 + n, **kw})


def permission(n=1, **kw):
    return Permission(**{"oid": oid(300 + n), "role_oid": oid(200 + n), "uri": f"com.example.proc{n}",
                         "allow_call": True, "created": T0 + n, **kw})


def arealm_role(n=1, **kw):
    return ApplicationRealmRoleAssociation(**{"arealm_oid": oid(100 + n), "role_oid": oid(200 + n),
                                              "created": T0 + n, **kw})


def principal(n=1, **kw):
    return Principal(**{"oid": oid(400 + n), "realm": f"realm{n}", "authid": f"client{n}", "role": "user",
                        "extra": {"n": n}, "created": T0 + n, "modified": T0 + n, **kw})


def credential(n=1, **kw):
    return Credential(**{"oid": oid(500 + n), "principal_oid": oid(400 + n), "authmethod": "ticket",
                         "realm": f"realm{n}", "authid": f"client{n}",
                         "authconfig": {"hash": f"$argon2id$fake{n}"}, "created": T0 + n, "modified": T0 + n, **kw})


def routercluster(n=1, **kw):
    return RouterCluster(**{"oid": oid(600 + n), "name": f"cluster{n}", "changed": T0 + n, **kw})


def routercluster_membership(n=1, **kw):
    return RouterClusterNodeMembership(**{"cluster_oid": oid(600 + n), "node_oid": oid(700 + n),
                                          "softlimit": 10, "hardlimit": 20, **kw})


def workergroup(n=1, **kw):
    return RouterWorkerGroup(**{"oid": oid(800 + n), "cluster_oid": oid(600 + n), "name": f"group{n}",
                                "scale": 2, "changed": T0 + n, **kw})


def placement(n=1, **kw):
    return RouterWorkerGroupPlacement(**{"oid": oid(900 + n), "worker_group_oid": oid(800 + n),
                                         "cluster_oid": oid(600 + n), "node_oid": oid(700 + n),
                                         "worker_name": f"worker{n}", "changed": T0 + n,
                                         "tcp_listening_port": 9000 + n, **kw})


def webcluster(n=1, **kw):
    return WebCluster(**{"oid": oid(1100 + n), "name": f"web{n}", "tcp_port": 8080 + n, "changed": T0 + n,
                         "tls_key": f"/etc/keys/web{n}.key", **kw})


def webcluster_membership(n=1, **kw):
    return WebClusterNodeMembership(**{"cluster_oid": oid(1100 + n), "node_oid": oid(700 + n), "parallel": 2,
                                       **kw})


def webservice(n=1, **kw):
    return WebService(**{"oid": oid(1200 + n), "webcluster_oid": oid(1100 + n), "path": f"svc{n}",
                         "service_type": "static", "config": {"directory": f"/srv/{n}"}, **kw})


def node_log(n=1, **kw):
    return NodeLog(**{"timestamp": T0 + n, "node_oid": oid(700 + n), "period": 10_000_000_000, "seq": n,
                      "counters": {"cpu_user": 0.5, "routers": 1}, **kw})


def worker_log(n=1, **kw):
    return WorkerLog(**{"timestamp": T0 + n, "node_oid": oid(700 + n), "worker_id": f"worker{n}", "seq": n,
                        "counters": {"recv_call": n}, **kw})


# table attribute -> factory
TABLES = {
    "arealms": arealm,
    "roles": role,
    "permissions": permission,
    "arealm_role_associations": arealm_role,
    "principals": principal,
    "credentials": credential,
    "routerclusters": routercluster,
    "routercluster_node_memberships": routercluster_membership,
    "router_workergroups": workergroup,
    "router_workergroup_placements": placement,
    "webclusters": webcluster,
    "webcluster_node_memberships": webcluster_membership,
    "webservices": webservice,
    "node_logs": node_log,
    "worker_logs": worker_log,
}
