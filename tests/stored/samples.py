"""One fully populated and one sparse record of every stored kind, with fixed values.

Every value is spelled out (no clock, no random UUIDs) so the stored bytes
they produce can be pinned.
"""

from __future__ import annotations

import uuid
from typing import Any

from cfxstore.audit.entities import AuditEvent
from cfxstore.cookies.entities import Cookie
from cfxstore.globalschema import entities as g
from cfxstore.mrealm import entities as m
from cfxstore.realmstore.entities import Publication, Run, Session

T0 = 1_767_225_600_123_456_789  # 2026-01-01T00:00:00.123456789Z
T1 = T0 + 3_600_000_000_000
KEY = "a" * 64
DESCRIBED = {"label": "Label", "description": "A description.", "tags": ["one", "two"]}


def oid(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


# (schema attribute of the table, record class, full fields, sparse fields)
SAMPLES: list[tuple[str, type, dict[str, Any], dict[str, Any]]] = [
    ("cookies", Cookie,
     dict(oid=oid(1), created=T0, modified=T1, max_age=86400, expires=T1, name="cbtid", value_hash=b"\x01" * 32,
          authid="alice", authrole="user", authmethod="cookie", authrealm="realm1", authextra={"x": 1},
          node="node1", worker="worker1", session=77, transport={"type": "websocket"}),
     dict(oid=oid(1), created=T0, modified=T0, max_age=60, expires=T1, name="cbtid", value_hash=b"\x02" * 32)),
    ("sessions", Session,
     dict(oid=oid(2), session_id=2**53 + 1, realm="realm1", authid="alice", authrole="user", authmethod="ticket",
          authprovider="static", authextra={"a": [1]}, transport={"peer": "tcp4:127.0.0.1:1"}, joined_at=T0,
          left_at=T1, left_approximate=True, run="run-1"),
     dict(oid=oid(2), session_id=5, realm="realm1", joined_at=T0)),
    ("runs", Run, dict(run="run-1", host="host1", pid=4242, started=T0, alive=T1),
     dict(run="run-2", host="h", pid=1, started=T0, alive=T0)),
    ("publications", Publication,
     dict(publication_id=9, topic="com.example.topic", publisher=3, args=[1, "two"], kwargs={"k": None},
          publisher_authid="bob", publisher_authrole="pub", timestamp=T0),
     dict(publication_id=10, topic="t", timestamp=T0)),
    ("users", g.User,
     dict(DESCRIBED, oid=oid(3), email="Alice@Example.com", registered=T0, pubkey=KEY),
     dict(oid=oid(3), email="a@b", registered=T0)),
    ("activation_tokens", g.ActivationToken,
     dict(oid=oid(4), atype="login", status="active", created=T0, completed=T1, code_hash=b"\x03" * 32,
          email="a@b.c", pubkey=KEY),
     dict(oid=oid(4), atype="registration", created=T0, code_hash=b"\x04" * 32, email="a@b", pubkey=KEY)),
    ("organizations", g.Organization,
     dict(DESCRIBED, oid=oid(5), name="acme", otype="business", registered=T0),
     dict(oid=oid(5), name="acme", registered=T0)),
    ("user_org_roles", g.UserOrganizationRole,
     dict(user_oid=oid(3), org_oid=oid(5), roles=["owner", "admin"], granted=T0),
     dict(user_oid=oid(3), org_oid=oid(5), roles=["guest"], granted=T0)),
    ("mrealms", g.ManagementRealm,
     dict(DESCRIBED, oid=oid(6), name="mr1", created=T0, owner=oid(3), cf_router_worker="rw",
          cf_container_worker="cw"),
     dict(oid=oid(6), name="mr1", created=T0, owner=oid(3))),
    ("user_mrealm_roles", g.UserMrealmRole,
     dict(user_oid=oid(3), mrealm_oid=oid(6), roles=["user"], granted=T0),
     dict(user_oid=oid(3), mrealm_oid=oid(6), roles=["admin", "guest"], granted=T1)),
    ("nodes", g.Node,
     dict(DESCRIBED, oid=oid(7), pubkey=KEY, owner_oid=oid(3), mrealm_oid=oid(6), authid="node1",
          authextra={"e": 1}, cluster_ip="10.0.0.1"),
     dict(oid=oid(7), pubkey=KEY)),
    ("usage", g.UsageRecord,
     dict(oid=oid(8), timestamp=T1, timestamp_from=T0, mrealm_oid=oid(6), pubkey=KEY, status="processed",
          status_message="ok", counters={"calls": 3, "load": 0.5}),
     dict(oid=oid(8), timestamp=T1, timestamp_from=T0, mrealm_oid=oid(6))),
    ("arealms", m.ApplicationRealm,
     dict(DESCRIBED, oid=oid(10), name="realm1", status="running", workergroup_oid=oid(11), webcluster_oid=oid(12),
          owner_oid=oid(3), changed=T0),
     dict(oid=oid(10), name="realm1", changed=T0)),
    ("roles", m.Role,
     dict(DESCRIBED, oid=oid(13), name="user", created=T0, owner_oid=oid(3)),
     dict(oid=oid(13), name="user", created=T0)),
    ("permissions", m.Permission,
     dict(DESCRIBED, oid=oid(14), role_oid=oid(13), uri="com.example.", match="prefix", uri_check_level="loose",
          allow_call=True, allow_register=True, allow_publish=True, allow_subscribe=True, disclose_caller=True,
          disclose_publisher=True, cache=False, created=T0, owner_oid=oid(3)),
     dict(oid=oid(14), role_oid=oid(13), uri="", created=T0)),
    ("arealm_role_associations", m.ApplicationRealmRoleAssociation,
     dict(arealm_oid=oid(10), role_oid=oid(13), created=T0),
     dict(arealm_oid=oid(10), role_oid=oid(13), created=T1)),
    ("principals", m.Principal,
     dict(DESCRIBED, oid=oid(15), realm="realm1", authid="alice", role="user", extra={"n": 1}, arealm_oid=oid(10),
          role_oid=oid(13), created=T0, modified=T1),
     dict(oid=oid(15), realm="realm1", authid="alice", role="user", created=T0, modified=T0)),
    ("credentials", m.Credential,
     dict(oid=oid(16), principal_oid=oid(15), authmethod="ticket", realm="realm1", authid="alice",
          authconfig={"hash": "$argon2id$..."}, created=T0, modified=T1),
     dict(oid=oid(16), principal_oid=oid(15), authmethod="wampcra", realm="realm1", authid="alice", created=T0,
          modified=T0)),
    ("audit_events", AuditEvent,
     dict(at=T0, oid=oid(40), kind="login", action="attempt", realm="realm1", authid="alice", method="ticket",
          outcome="failure", reason="invalid authid or ticket", peer="192.0.2.1", detail={"count": 1}),
     dict(at=T0, oid=oid(41), kind="import", action="cfxdb")),
    ("cryptosign_keys", m.CryptosignKey,
     dict(pubkey="3b" * 32, principal_oid=oid(15), label="laptop", not_before=T0, not_after=T1, revoked=T1,
          created=T0),
     dict(pubkey="3b" * 32, principal_oid=oid(15), created=T0)),
    ("routerclusters", m.RouterCluster,
     dict(DESCRIBED, oid=oid(17), name="rc1", status="running", owner_oid=oid(3), changed=T0),
     dict(oid=oid(17), name="rc1", changed=T0)),
    ("routercluster_node_memberships", m.RouterClusterNodeMembership,
     dict(cluster_oid=oid(17), node_oid=oid(7), softlimit=1, hardlimit=2),
     dict(cluster_oid=oid(17), node_oid=oid(7))),
    ("router_workergroups", m.RouterWorkerGroup,
     dict(DESCRIBED, oid=oid(11), cluster_oid=oid(17), name="wg1", scale=3, status="starting", changed=T0),
     dict(oid=oid(11), cluster_oid=oid(17), name="wg1", changed=T0)),
    ("router_workergroup_placements", m.RouterWorkerGroupPlacement,
     dict(oid=oid(18), worker_group_oid=oid(11), cluster_oid=oid(17), node_oid=oid(7), worker_name="w1",
          status="running", changed=T0, tcp_listening_port=8081),
     dict(oid=oid(18), worker_group_oid=oid(11), cluster_oid=oid(17), node_oid=oid(7), worker_name="w1",
          changed=T0)),
    ("webclusters", m.WebCluster,
     dict(DESCRIBED, oid=oid(12), name="wc1", status="paused", owner_oid=oid(3), changed=T0, tcp_version=6,
          tcp_port=443, tcp_shared=False, tcp_interface="::", tcp_backlog=100, tls_key="key.pem",
          tls_certificate="cert.pem", tls_chain_certificates=["chain.pem"], tls_ca_certificates=["ca.pem"],
          tls_dhparam="dh.pem", tls_ciphers="HIGH", http_client_timeout=30, http_hsts=True,
          http_hsts_max_age=600, http_access_log=True, http_display_tracebacks=True),
     dict(oid=oid(12), name="wc1", changed=T0)),
    ("webcluster_node_memberships", m.WebClusterNodeMembership,
     dict(cluster_oid=oid(12), node_oid=oid(7), parallel=4, standby=True),
     dict(cluster_oid=oid(12), node_oid=oid(7))),
    ("webservices", m.WebService,
     dict(DESCRIBED, oid=oid(19), webcluster_oid=oid(12), path="/static", service_type="static",
          config={"directory": "/srv"}),
     dict(oid=oid(19), webcluster_oid=oid(12), path="/", service_type="static")),
    ("node_logs", m.NodeLog,
     dict(timestamp=T1, node_oid=oid(7), mrealm_oid=oid(6), period=10, state="running", session=5, sent=T0, seq=2,
          counters={"cpu": 0.25}),
     dict(timestamp=T1, node_oid=oid(7))),
    ("worker_logs", m.WorkerLog,
     dict(timestamp=T1, node_oid=oid(7), worker_id="worker1", mrealm_oid=oid(6), worker_type="container",
          period=10, state="stopping", sent=T0, seq=3, counters={"n": 1}),
     dict(timestamp=T1, node_oid=oid(7), worker_id="worker1")),
]


# Records with fields added after their kind was first stored: (table, form, record class, fields). The
# forms above, written without those fields, keep their pins and read back as before.
LATER_FORMS: list[tuple[str, str, type, dict[str, Any]]] = [
    ("cookies", "with device", Cookie,
     dict(SAMPLES[0][2], last_login=T1, peer="tcp4:192.0.2.7:50000", user_agent="Browser/1.0")),
    ("credentials", "tls", m.Credential,
     dict(oid=oid(17), principal_oid=oid(15), authmethod="tls", realm="realm1", authid="alice",
          authconfig={"sha256": "5e" * 32}, created=T0, modified=T0)),
    ("principals", "disabled", m.Principal,
     dict(oid=oid(15), realm="realm1", authid="alice", role="user", created=T0, modified=T1, disabled=T1)),
]
