"""Importing Crossbar FX databases (written through cfxdb's own API) into cfxstore."""

from __future__ import annotations

import json
import os
import time
import uuid

import numpy as np
import pytest
import zlmdb
from autobahn.wamp.auth import derive_key
from cfxdb_factories import FX_CREDENTIALS, build_cookie_store, build_fx_global, build_fx_mrealm, fx_credential
from click.testing import CliRunner
from store_factories import MAXSIZE, snapshot

from cfxstore.cli.main import cli
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.globalschema.schema import GlobalSchema
from cfxstore.migrate.errors import ImportSourceError
from cfxstore.migrate.fx_import import fx_sources, import_global, import_mrealm
from cfxstore.mrealm.schema import MrealmSchema


def add_fx_usage(path, made):
    """Usage metering records, written through cfxdb's GlobalSchema (FlatBuffers)."""
    from cfxdb.globalschema import GlobalSchema as CfxdbGlobal
    from cfxdb.usage import MasterNodeUsage

    now = time.time_ns()
    usage = MasterNodeUsage.parse({
        "timestamp": now, "timestamp_from": now - 300 * 10**9, "mrealm_id": str(made["mrealm"].oid),
        "metering_id": str(uuid.uuid4()), "pubkey": bytes.fromhex("c" * 64), "status": 2,
        "status_message": "billed", "seq": 7, "sent": now, "count": 3, "total": 40, "nodes": 2,
        "routers": 2, "sessions": 5, "msgs_call": 11, "msgs_publish": 13})
    key = (np.datetime64(now, "ns"), uuid.uuid4())
    with zlmdb.Database(dbpath=path, maxsize=2**26) as db:
        schema = CfxdbGlobal.attach(db)
        with db.begin(write=True) as txn:
            schema.usage[txn, key] = usage
    made.update(usage=usage, usage_key=key)


def add_fx_clusters_and_logs(path, made):
    """Router and web clusters, their memberships, worker groups, placements, a web service and
    node / worker logs, written through cfxdb's MrealmSchema."""
    from cfxdb.log import MNodeLog, MWorkerLog
    from cfxdb.mrealm import (RouterCluster, RouterClusterNodeMembership, RouterWorkerGroup,
                              RouterWorkerGroupClusterPlacement, WebCluster, WebClusterNodeMembership, WebService)
    from cfxdb.mrealmschema import MrealmSchema as CfxdbMrealm

    now = np.datetime64(time.time_ns(), "ns")
    node_oid, mrealm_oid = uuid.uuid4(), uuid.uuid4()
    rc = RouterCluster(oid=uuid.uuid4(), name="cluster1", status=3, changed=now, label="Routers", tags=["prod"])
    rcm = RouterClusterNodeMembership(cluster_oid=rc.oid, node_oid=node_oid, softlimit=4, hardlimit=8)
    wg = RouterWorkerGroup(oid=uuid.uuid4(), cluster_oid=rc.oid, name="wg1", scale=2, status=7, changed=now)
    pl = RouterWorkerGroupClusterPlacement(oid=uuid.uuid4(), worker_group_oid=wg.oid, cluster_oid=rc.oid,
                                           node_oid=node_oid, worker_name="router1", status=3, changed=now,
                                           tcp_listening_port=8081)
    wc = WebCluster(oid=uuid.uuid4(), name="web1", status=1, changed=now, tcp_version=4, tcp_port=8443,
                    tcp_shared=True, tls_key="server.key", tls_certificate="server.crt", http_hsts=True,
                    http_hsts_max_age=3600)
    wcm = WebClusterNodeMembership(cluster_oid=wc.oid, node_oid=node_oid, parallel=2, standby=False)
    ws = WebService.parse({"oid": str(uuid.uuid4()), "webcluster_oid": str(wc.oid), "path": "info",
                           "service_type": "static", "directory": "/srv/www", "label": "Info"})
    node_log = MNodeLog.parse(mrealm_oid, node_oid, {
        "timestamp": time.time_ns(), "period": 60, "state": 2, "session": 42, "seq": 5,
        "workers": {"router": 2, "xbrmm": 1}, "system": {"cpu": {"user": 12.5}, "memory": {"total": 4096}}})
    worker_log = MWorkerLog.parse(mrealm_oid, node_oid, "router1", {
        "timestamp": time.time_ns(), "period": 60, "state": 1, "seq": 6, "type": "xbrmm",
        "process": {"num_threads": 9}})
    with zlmdb.Database(dbpath=path, maxsize=2**26) as db:
        schema = CfxdbMrealm.attach(db)
        with db.begin(write=True) as txn:
            schema.routerclusters[txn, rc.oid] = rc
            schema.routercluster_node_memberships[txn, (rc.oid, node_oid)] = rcm
            schema.router_workergroups[txn, wg.oid] = wg
            schema.router_workergroup_placements[txn, pl.oid] = pl
            schema.webclusters[txn, wc.oid] = wc
            schema.webcluster_node_memberships[txn, (wc.oid, node_oid)] = wcm
            schema.webservices[txn, ws.oid] = ws
            schema.mnode_logs[txn, (node_log.timestamp, node_oid)] = node_log
            schema.mworker_logs[txn, (worker_log.timestamp, node_oid, "router1")] = worker_log
    made.update(routercluster=rc, workergroup=wg, placement=pl, webcluster=wc, webservice=ws, node_oid=node_oid,
                mrealm_oid=mrealm_oid, node_log=node_log, worker_log=worker_log)


@pytest.fixture
def fx(tmp_path):
    g, m = str(tmp_path / "controller"), str(tmp_path / "mrealm")
    made_g, made_m = build_fx_global(g), build_fx_mrealm(m)
    add_fx_usage(g, made_g)
    add_fx_clusters_and_logs(m, made_m)
    return g, made_g, m, made_m


def test_controller_database_fields_are_mapped(fx, db_path):
    path, made, _, _ = fx
    with open_database(db_path, maxsize=MAXSIZE) as db:
        results = import_global(path, db)
        assert {k: (r.read, r.imported) for k, r in results.items()} == {
            "users": (1, 1), "organizations": (1, 1), "activation tokens": (1, 1), "management realms": (1, 1),
            "user roles": (1, 1), "nodes": (1, 1), "usage records": (1, 1)}
        assert results["activation tokens"].changed == {"activation code hashed": 1}
        schema = GlobalSchema.attach(db)
        with db.begin() as txn:
            user = schema.users[txn, made["user"].oid]
            org = schema.organizations[txn, made["org"].oid]
            token = schema.activation_tokens[txn, made["token"].oid]
            mrealm = schema.mrealms[txn, made["mrealm"].oid]
            roles = schema.user_mrealm_roles[txn, (made["user"].oid, made["mrealm"].oid)]
            node = schema.nodes[txn, made["node"].oid]
    assert (user.email, user.pubkey, user.label) == ("ops@example.com", "a" * 64, "Ops")
    assert user.registered == int(made["user"].registered.timestamp() * 1_000_000) * 1000
    assert (org.name, org.otype) == ("example-org", "individual")
    assert (token.atype, token.status, token.email) == ("registration", "pending", "ops@example.com")
    assert token.code_matches("ABCD-EFGH-IJKL") and not token.code_matches("ABCD-EFGH-IJKX")
    assert (mrealm.name, mrealm.owner) == ("mrealm1", made["user"].oid)
    assert roles.roles == ["owner", "admin"]
    assert (node.pubkey, node.authid, node.authextra, node.mrealm_oid) == ("b" * 64, "node1", {"x": 1},
                                                                          made["mrealm"].oid)


def test_management_realm_fields_are_mapped_and_secrets_hashed(fx, db_path):
    _, _, path, made = fx
    with open_database(db_path, maxsize=MAXSIZE) as db:
        results = import_mrealm(path, db)
        assert {k: (r.read, r.imported) for k, r in results.items()} == {
            "application realms": (1, 1), "roles": (1, 1), "permissions": (1, 1), "role associations": (1, 1),
            "principals": (4, 4), "router clusters": (1, 1), "router cluster memberships": (1, 1),
            "router worker groups": (1, 1), "worker group placements": (1, 1), "web clusters": (1, 1),
            "web cluster memberships": (1, 1), "web services": (1, 1), "node logs": (1, 1), "worker logs": (1, 1),
            "credentials": (4, 4)}
        schema = MrealmSchema.attach(db)
        with db.begin() as txn:
            arealm = schema.arealms[txn, made["arealm"].oid]
            perm = schema.permissions[txn, made["permission"].oid]
        assert (arealm.name, arealm.status) == ("app1", "stopped")
        assert (perm.uri, perm.match, perm.allow_call, perm.allow_subscribe, perm.allow_publish) == \
            ("com.example.", "prefix", True, True, False)
        assert_logins(CredentialService(db))
    with open(os.path.join(db_path, "data.mdb"), "rb") as f:
        data = f.read()
    assert not [authid for authid, (_, settings, _) in FX_CREDENTIALS.items() if settings["secret"].encode() in data]


def assert_logins(service):
    """Every FX_CREDENTIALS principal logs in with its FX secret, and only with it."""
    for authid, (method, settings, _) in FX_CREDENTIALS.items():
        if method == "ticket":
            assert service.verify_ticket("app1", authid, settings["secret"]).role == "frontend"
            assert service.verify_ticket("app1", authid, settings["secret"] + "x") is None
        else:
            cra = service.get_wampcra("app1", authid)
            assert (cra["salt"], cra["iterations"], cra["keylen"], cra["role"]) == \
                (settings["salt"], settings["iterations"], settings["keylen"], "frontend")
            # What a WAMP-CRA client derives from its secret and the challenge's parameters.
            assert cra["secret"] == derive_key(settings["secret"], cra["salt"], cra["iterations"],
                                               cra["keylen"]).decode()


def add_fx_credential(path, authid, method, settings, form, *, principal_oid=None):
    """One more credential in an FX management-realm database, written through cfxdb."""
    from cfxdb.mrealmschema import MrealmSchema as CfxdbMrealm

    c = fx_credential(method, settings, form)
    c.oid, c.created, c.realm, c.authid = uuid.uuid4(), np.datetime64(time.time_ns(), "ns"), "app1", authid
    c.principal_oid = principal_oid or uuid.uuid4()
    with zlmdb.Database(dbpath=path, maxsize=2**26) as db:
        with db.begin(write=True) as txn:
            CfxdbMrealm.attach(db).credentials[txn, c.oid] = c


def test_credentials_as_crossbar_fx_writes_them_and_in_authconfig_are_imported(tmp_path, db_path):
    path = str(tmp_path / "mrealm")
    build_fx_mrealm(path)
    with open_database(db_path, maxsize=MAXSIZE) as db:
        result = import_mrealm(path, db)["credentials"]
        assert (result.read, result.imported, result.skipped) == (4, 4, {})
        assert result.changed == {"ticket hashed (argon2id)": 2, "WAMP-CRA key derived": 2}
        assert_logins(CredentialService(db))


def test_every_credential_read_is_imported_or_skipped_with_its_reason(tmp_path, db_path):
    path = str(tmp_path / "mrealm")
    build_fx_mrealm(path, {"hank": ("wampcra", {"secret": "hank-fx-secret"}, "api"),
                           "ivy": ("ticket", {}, "api"),
                           "jill": ("cookie", {}, "api"),
                           "kate": ("anonymous", {}, "authconfig"),
                           "liam": ("ticket", {"secret": ""}, "authconfig")})
    add_fx_credential(path, "nobody", "ticket", {"secret": "t"}, "api")
    # The same setting in both places, differently: which one Crossbar FX would use is unknown.
    both = {"secret": "top", "authconfig": {"secret": "nested"}}
    add_fx_credential(path, "hank", "ticket", both, "api")
    with open_database(db_path, maxsize=MAXSIZE) as db:
        result = import_mrealm(path, db)["credentials"]
        cra = CredentialService(db).get_wampcra("app1", "hank")
    assert result.read == result.imported + sum(result.skipped.values()) == 7
    assert result.imported == 1 and result.changed == {"WAMP-CRA key derived with a new salt": 1}
    assert result.skipped == {"ticket credential without a secret": 2,
                              "cookie credentials have no cfxstore counterpart": 1,
                              "anonymous credentials have no cfxstore counterpart": 1,
                              "no principal with its realm and authid": 1,
                              "secret differs between authconfig and the top level": 1}
    # Without a salt Crossbar FX signed with the secret itself: cfxstore's challenge now names a salt.
    assert cra["salt"] and cra["secret"] == derive_key("hank-fx-secret", cra["salt"], cra["iterations"],
                                                       cra["keylen"]).decode()


def test_usage_records_are_mapped(fx, db_path):
    path, made, _, _ = fx
    usage = made["usage"]
    with open_database(db_path, maxsize=MAXSIZE) as db:
        import_global(path, db)
        schema = GlobalSchema.attach(db)
        with db.begin() as txn:
            (record,) = list(schema.usage.select(txn, return_keys=False))
    assert record.oid == made["usage_key"][1]
    assert (record.timestamp, record.timestamp_from) == (int(usage.timestamp), int(usage.timestamp_from))
    assert (record.mrealm_oid, record.pubkey) == (made["mrealm"].oid, "c" * 64)
    assert (record.status, record.status_message) == ("processed", "billed")
    assert {k: record.counters[k] for k in ("count", "total", "nodes", "routers", "sessions", "msgs_call",
                                            "msgs_publish")} == \
        {"count": 3, "total": 40, "nodes": 2, "routers": 2, "sessions": 5, "msgs_call": 11, "msgs_publish": 13}
    assert "seq" not in record.counters and "client_ip_port" not in record.counters


def test_clusters_memberships_and_web_services_are_mapped(fx, db_path):
    _, _, path, made = fx
    rc, wg, pl, wc, ws, node = (made[k] for k in ("routercluster", "workergroup", "placement", "webcluster",
                                                  "webservice", "node_oid"))
    with open_database(db_path, maxsize=MAXSIZE) as db:
        results = import_mrealm(path, db)
        schema = MrealmSchema.attach(db)
        with db.begin() as txn:
            cluster = schema.routerclusters[txn, rc.oid]
            rmember = schema.routercluster_node_memberships[txn, (rc.oid, node)]
            group = schema.router_workergroups[txn, wg.oid]
            placement = schema.router_workergroup_placements[txn, pl.oid]
            web = schema.webclusters[txn, wc.oid]
            wmember = schema.webcluster_node_memberships[txn, (wc.oid, node)]
            service = schema.webservices[txn, ws.oid]
    assert (cluster.name, cluster.status, cluster.label, cluster.tags) == ("cluster1", "running", "Routers", ["prod"])
    assert cluster.changed == int(rc.changed)
    assert (rmember.softlimit, rmember.hardlimit) == (4, 8)
    assert (group.cluster_oid, group.name, group.scale, group.status) == (rc.oid, "wg1", 2, "error")
    assert results["router worker groups"].changed == {"status DEGRADED stored as error": 1}
    assert (placement.worker_group_oid, placement.node_oid, placement.worker_name, placement.status,
            placement.tcp_listening_port) == (wg.oid, node, "router1", "running", 8081)
    assert (web.name, web.status, web.tcp_port, web.tls_key, web.tls_certificate, web.http_hsts,
            web.http_hsts_max_age) == ("web1", "stopped", 8443, "server.key", "server.crt", True, 3600)
    assert (wmember.parallel, wmember.standby) == (2, False)
    assert (service.webcluster_oid, service.path, service.service_type, service.label, service.config) == \
        (wc.oid, "info", "static", "Info", {"directory": "/srv/www"})


def test_node_and_worker_logs_are_mapped(fx, db_path):
    _, _, path, made = fx
    node, mrealm = made["node_oid"], made["mrealm_oid"]
    with open_database(db_path, maxsize=MAXSIZE) as db:
        results = import_mrealm(path, db)
        schema = MrealmSchema.attach(db)
        with db.begin() as txn:
            (node_log,) = list(schema.node_logs.select(txn, return_keys=False))
            (worker_log,) = list(schema.worker_logs.select(txn, return_keys=False))
    src = made["node_log"]
    assert (node_log.timestamp, node_log.node_oid, node_log.mrealm_oid, node_log.period, node_log.session,
            node_log.seq, node_log.sent) == (int(src.timestamp), node, mrealm, 60, 42, 5, int(src.sent))
    assert node_log.state == "error" and results["node logs"].changed == {"state DEGRADED stored as error": 1}
    assert (node_log.counters["workers.router"], node_log.counters["workers.xbrmm"], node_log.counters["cpu.user"],
            node_log.counters["memory.total"]) == (2, 1, 12.5, 4096)
    assert (worker_log.timestamp, worker_log.node_oid, worker_log.worker_id, worker_log.worker_type,
            worker_log.state, worker_log.seq) == (int(made["worker_log"].timestamp), node, "router1", "marketmaker",
                                                  "running", 6)
    assert worker_log.counters["process.num_threads"] == 9


def test_a_log_cfxstore_cannot_hold_is_skipped_with_the_reason(fx, db_path):
    from cfxdb.log import MWorkerLog
    from cfxdb.mrealmschema import MrealmSchema as CfxdbMrealm

    _, _, path, made = fx
    testee = MWorkerLog.parse(made["mrealm_oid"], made["node_oid"], "testee1",
                              {"timestamp": time.time_ns(), "seq": 1, "type": "testee", "state": 1})
    with zlmdb.Database(dbpath=path, maxsize=2**26) as src:
        with src.begin(write=True) as txn:
            CfxdbMrealm.attach(src).mworker_logs[txn, (testee.timestamp, made["node_oid"], "testee1")] = testee
    with open_database(db_path, maxsize=MAXSIZE) as db:
        result = import_mrealm(path, db)["worker logs"]
        with db.begin() as txn:
            kept = [v.worker_id for v in MrealmSchema.attach(db).worker_logs.select(txn, return_keys=False)]
    assert (result.read, result.imported, kept) == (2, 1, ["router1"])
    assert result.skipped == {"worker type 'testee' has no cfxstore counterpart": 1}


def test_a_rerun_imports_nothing_twice(fx, db_path):
    g, _, m, _ = fx
    with open_database(db_path, maxsize=MAXSIZE) as db:
        import_global(g, db)
        import_mrealm(m, db)
    first = snapshot(db_path)
    with open_database(db_path, maxsize=MAXSIZE) as db:
        again = {**import_global(g, db), **import_mrealm(m, db)}
    assert all(r.imported == 0 and r.skipped == {"imported before": r.read} for r in again.values())
    assert snapshot(db_path) == first


def test_the_cli_imports_fx_databases_with_a_summary(fx, db_path):
    g, _, m, _ = fx
    result = CliRunner().invoke(cli, ["migrate", "import-cfxdb", "--fx", g, "--fx", m, db_path, "--json"])
    assert result.exit_code == 0, result.output
    tables = json.loads(result.output)["tables"]
    assert tables["users (controller)"]["imported"] == 1
    assert tables["credentials (mrealm)"]["changed"] == {"ticket hashed (argon2id)": 2, "WAMP-CRA key derived": 2}


def test_a_cookie_store_given_as_fx_database_is_refused(tmp_path):
    path = str(tmp_path / "cookies")
    build_cookie_store(path, 1)
    with pytest.raises(ImportSourceError, match="neither controller"):
        fx_sources([path])


def test_the_table_ids_match_cfxdb():
    import cfxdb.globalschema as cg
    import cfxdb.mrealmschema as cm

    from cfxstore.migrate import fx_import as fx

    ours = {fx.USERS: cg.Users, fx.ORGANIZATIONS: cg.Organizations, fx.ACTIVATION_TOKENS: cg.ActivationTokens,
            fx.MREALMS: cg.ManagementRealms, fx.USER_MREALM_ROLES: cg.UserMrealmRoles, fx.NODES: cg.Nodes,
            fx.USAGE: cg.UsageRecords, fx.AREALMS: cm.ApplicationRealms, fx.PRINCIPALS: cm.Principals,
            fx.CREDENTIALS: cm.Credentials, fx.ROLES: cm.Roles, fx.PERMISSIONS: cm.Permissions,
            fx.AREALM_ROLES: cm.ApplicationRealmRoleAssociations, fx.ROUTER_CLUSTERS: cm.RouterClusters,
            fx.ROUTER_CLUSTER_MEMBERSHIPS: cm.RouterClusterNodeMemberships, fx.WORKER_GROUPS: cm.RouterWorkerGroups,
            fx.PLACEMENTS: cm.RouterWorkerGroupClusterPlacements, fx.WEB_CLUSTERS: cm.WebClusters,
            fx.WEB_CLUSTER_MEMBERSHIPS: cm.WebClusterNodeMemberships, fx.WEB_SERVICES: cm.WebServices,
            fx.NODE_LOGS: cm.MNodeLogs, fx.WORKER_LOGS: cm.MWorkerLogs}
    assert all(uuid.UUID(str(table._zlmdb_oid)) == oid
               for oid, table in ours.items())
    # Every cfxdb data table (not an index) has an importer.
    data_tables = {uuid.UUID(str(t._zlmdb_oid)) for t in [*vars(cg).values(), *vars(cm).values()]
                   if isinstance(t, type) and getattr(t, "_zlmdb_oid", None) and not t.__name__.startswith("Index")}
    assert data_tables == set(ours)


@pytest.mark.parametrize("point", ["fx-record-committed", "fx-secret-set"])
def test_a_killed_fx_import_rerun_ends_like_one_run(fx, tmp_path, point):
    from test_atomic_kill import run_cli
    from test_import_kill import CREDENTIAL_TABLES, audit_by_meaning, feed_by_meaning

    g, _, m, _ = fx

    def state(path):
        tables = snapshot(path)
        counts = {name: len(tables.pop(name, [])) for name in CREDENTIAL_TABLES}
        tables["changes"] = feed_by_meaning(tables)
        tables["audit_events"] = audit_by_meaning(tables)
        with open_database(path, readonly=True) as db:
            service = CredentialService(db)
            logins = (service.verify_ticket("app1", "dave", "dave-fx-ticket") is not None,
                      service.get_wampcra("app1", "erin")["salt"])
        return tables, counts, logins

    reference, target = str(tmp_path / "ref"), str(tmp_path / "db")
    args = ["migrate", "import-cfxdb", "--fx", g, "--fx", m]
    assert run_cli(*args, reference).returncode == 0
    assert run_cli(*args, target, crash_at=point).returncode == -9
    done = run_cli(*args, target)
    assert done.returncode == 0, done.stderr
    assert state(target) == state(reference)


def test_every_access_granting_record_imported_is_an_import_event_in_its_transaction(fx, db_path):
    from cfxstore.audit.service import AuditLog
    from cfxstore.migrate.fx_import import AUDITED

    g, _, m, _ = fx
    with open_database(db_path, maxsize=MAXSIZE) as db:
        results = {**import_global(g, db), **import_mrealm(m, db)}
        events = AuditLog(db).list(kinds=["import"], limit=1000)
    counted: dict[str, int] = {}
    for e in events:
        assert e.action == "fx import" and e.detail["source key"]
        counted[e.detail["table"]] = counted.get(e.detail["table"], 0) + 1
    assert counted == {name: r.imported for name, r in results.items() if name in AUDITED and r.imported}
    assert "principals" in counted and "node logs" not in counted
