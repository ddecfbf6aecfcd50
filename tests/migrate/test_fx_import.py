"""Importing Crossbar FX databases (written through cfxdb's own API) into cfxstore."""

from __future__ import annotations

import json
import os

import pytest
from cfxdb_factories import build_cookie_store, build_fx_global, build_fx_mrealm
from click.testing import CliRunner
from store_factories import MAXSIZE, snapshot

from cfxstore.cli.main import cli
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.globalschema.schema import GlobalSchema
from cfxstore.migrate.errors import ImportSourceError
from cfxstore.migrate.fx_import import fx_sources, import_global, import_mrealm
from cfxstore.mrealm.schema import MrealmSchema


@pytest.fixture
def fx(tmp_path):
    g, m = str(tmp_path / "controller"), str(tmp_path / "mrealm")
    return g, build_fx_global(g), m, build_fx_mrealm(m)


def test_controller_database_fields_are_mapped(fx, db_path):
    path, made, _, _ = fx
    with open_database(db_path, maxsize=MAXSIZE) as db:
        results = import_global(path, db)
        assert {k: (r.read, r.imported) for k, r in results.items()} == {
            "users": (1, 1), "organizations": (1, 1), "activation tokens": (1, 1), "management realms": (1, 1),
            "user roles": (1, 1), "nodes": (1, 1)}
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
            "principals": (2, 2), "credentials": (2, 2)}
        schema = MrealmSchema.attach(db)
        with db.begin() as txn:
            arealm = schema.arealms[txn, made["arealm"].oid]
            perm = schema.permissions[txn, made["permission"].oid]
        assert (arealm.name, arealm.status) == ("app1", "stopped")
        assert (perm.uri, perm.match, perm.allow_call, perm.allow_subscribe, perm.allow_publish) == \
            ("com.example.", "prefix", True, True, False)
        service = CredentialService(db)
        assert service.verify_ticket("app1", "dave", "dave-fx-ticket").role == "frontend"
        assert service.verify_ticket("app1", "dave", "wrong") is None
        cra = service.get_wampcra("app1", "erin")
        assert (cra["salt"], cra["iterations"], cra["role"]) == ("pepper", 50, "frontend")
    with open(os.path.join(db_path, "data.mdb"), "rb") as f:
        data = f.read()
    assert b"dave-fx-ticket" not in data and b"erin-fx-secret" not in data


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
    assert tables["credentials (mrealm)"]["changed"] == {"ticket hashed (argon2id)": 1, "WAMP-CRA key derived": 1}


def test_a_cookie_store_given_as_fx_database_is_refused(tmp_path):
    path = str(tmp_path / "cookies")
    build_cookie_store(path, 1)
    with pytest.raises(ImportSourceError, match="neither controller"):
        fx_sources([path])


def test_the_table_ids_match_cfxdb():
    import cfxdb.globalschema as cg
    import cfxdb.mrealmschema as cm

    from cfxstore.migrate import fx_import as fx

    assert {fx.USERS: cg.Users, fx.ORGANIZATIONS: cg.Organizations, fx.ACTIVATION_TOKENS: cg.ActivationTokens,
            fx.MREALMS: cg.ManagementRealms, fx.USER_MREALM_ROLES: cg.UserMrealmRoles, fx.NODES: cg.Nodes,
            fx.USAGE: cg.UsageRecords, fx.AREALMS: cm.ApplicationRealms, fx.PRINCIPALS: cm.Principals,
            fx.CREDENTIALS: cm.Credentials, fx.ROLES: cm.Roles, fx.PERMISSIONS: cm.Permissions,
            fx.AREALM_ROLES: cm.ApplicationRealmRoleAssociations} == \
        {t._zlmdb_oid: t for t in (cg.Users, cg.Organizations, cg.ActivationTokens, cg.ManagementRealms,
                                   cg.UserMrealmRoles, cg.Nodes, cg.UsageRecords, cm.ApplicationRealms,
                                   cm.Principals, cm.Credentials, cm.Roles, cm.Permissions,
                                   cm.ApplicationRealmRoleAssociations)}
    names = {t._zlmdb_oid: t.__name__ for t in [*vars(cg).values(), *vars(cm).values()]
             if isinstance(t, type) and hasattr(t, "_zlmdb_oid")}
    assert all(oid in names for oid in fx.NOT_IMPORTED)


@pytest.mark.parametrize("point", ["fx-record-committed", "fx-secret-set"])
def test_a_killed_fx_import_rerun_ends_like_one_run(fx, tmp_path, point):
    from test_atomic_kill import run_cli
    from test_import_kill import CREDENTIAL_TABLES

    g, _, m, _ = fx

    def state(path):
        tables = snapshot(path)
        counts = {name: len(tables.pop(name, [])) for name in CREDENTIAL_TABLES}
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
