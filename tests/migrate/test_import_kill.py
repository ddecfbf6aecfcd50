"""A killed import-cfxdb or router adopt, run again, ends exactly like an uninterrupted run.

Real `cfxstore` processes are SIGKILLed at named points (ORM_CRASH_AT: after a
committed import batch, after adopt's backup, principals and import) and from
outside at instants spread over the work; then the same command is run again.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
from cfxdb_factories import build_cookie_store, build_realm_store
from store_factories import snapshot
from test_atomic_kill import kill_after_ready, run_cli

from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.migrate.cfxdb_import import BATCH

KILL_DELAYS = [0.1, 0.4, 1.0]
TICKET = "alice-chosen-ticket"
CRA_SECRET = "carol-secret"


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    base = tmp_path_factory.mktemp("stock")
    build_cookie_store(str(base / "cookies"), BATCH * 2 + 100)  # three batches: kills land between them
    build_realm_store(str(base / "realmstore"), sessions=40, publications=300, receivers=3)
    config = {
        "version": 2, "controller": {},
        "workers": [{"type": "router",
                     "realms": [{"name": "realm1", "roles": [{"name": "user", "permissions": []}],
                                 "store": {"type": "cfxdb", "path": "realmstore",
                                           "event-history": [{"uri": "com.example.", "match": "prefix"}]}}],
                     "transports": [{"type": "websocket", "endpoint": {"type": "tcp", "port": 8080},
                                     "cookie": {"store": {"type": "database", "path": "cookies"}},
                                     "auth": {"ticket": {"type": "static", "principals": {
                                                  "alice": {"ticket": TICKET, "role": "user"}}},
                                              "wampcra": {"type": "static", "users": {
                                                  "carol": {"secret": CRA_SECRET, "role": "user",
                                                            "salt": "s4lt", "iterations": 10, "keylen": 32}}},
                                              "cookie": {}}}]}],
    }
    (base / "config.json").write_text(json.dumps(config, indent=2))
    return base


def import_args(sources, target):
    return ["migrate", "import-cfxdb", "--cookies", str(sources / "cookies"), "--realmstore",
            str(sources / "realmstore"), "--node-config", str(sources / "config.json"), target]


@pytest.fixture(scope="module")
def import_reference(sources, tmp_path_factory):
    target = str(tmp_path_factory.mktemp("ref") / "db")
    done = run_cli(*import_args(sources, target))
    assert done.returncode == 0, done.stderr
    return comparable(target)


def test_import_killed_after_a_batch_then_rerun_matches_an_uninterrupted_run(sources, import_reference, tmp_path):
    target = str(tmp_path / "db")
    killed = run_cli(*import_args(sources, target), crash_at="import-batch-committed")
    assert killed.returncode == -9
    assert comparable(target) != import_reference  # the kill left it part-way
    done = run_cli(*import_args(sources, target))
    assert done.returncode == 0, done.stderr
    assert comparable(target) == import_reference


@pytest.mark.parametrize("delay", KILL_DELAYS)
def test_import_killed_at_any_instant_then_rerun_matches_an_uninterrupted_run(sources, import_reference, tmp_path,
                                                                              delay):
    target = str(tmp_path / "db")
    kill_after_ready(import_args(sources, target), delay)
    done = run_cli(*import_args(sources, target))
    assert done.returncode == 0, done.stderr
    assert comparable(target) == import_reference


# -- adopt -----------------------------------------------------------------------------


def node_copy(sources, where):
    cbdir = where / "node"
    shutil.copytree(sources, cbdir)
    return cbdir


# Principal and credential rows get fresh ids, times and salts per run: compared by what they mean.
CREDENTIAL_TABLES = ("principals", "credentials", "idx_principals_by_realm_authid", "idx_credentials_by_auth",
                     "idx_credentials_by_principal")


def feed_by_meaning(tables):
    """The change feed as (kind, op, realm, authid) per entry: its records carry per-run ids and times."""
    entries = tables.pop("changes", [])
    return [(e["kind"], e["op"], e["record"].get("realm"), e["record"].get("authid")) for _, e in entries]


def comparable(path):
    """A snapshot whose audit log is compared by meaning (audit_by_meaning)."""
    tables = snapshot(path)
    tables["audit_events"] = audit_by_meaning(tables)
    return tables


def audit_by_meaning(tables):
    """What the audit log records, as the distinct (kind, action, realm, authid, table): its keys carry per-run
    ids and times, and a killed run and its re-run record their batches apart."""
    tables.pop("idx_audit_events_by_authid", None)
    return sorted({(e["kind"], e["action"], e.get("realm"), e.get("authid"), (e.get("detail") or {}).get("table"))
                   for _, e in tables.pop("audit_events", [])}, key=repr)


def adopted_state(cbdir):
    """The config, the backups, every imported table, the principal changes published, and the principals
    with the logins they allow."""
    db = str(cbdir / "cfxstore-db")
    tables = snapshot(db)
    credentials = len(tables["credentials"])
    for name in CREDENTIAL_TABLES:
        tables.pop(name, None)
    tables["changes"] = feed_by_meaning(tables)
    tables["audit_events"] = audit_by_meaning(tables)
    with open_database(db, readonly=True) as database:
        service = CredentialService(database)
        principals = [(p.realm, p.authid, p.role) for p in service.list_principals()]
        logins = (service.verify_ticket("realm1", "alice", TICKET) is not None,
                  service.verify_ticket("realm1", "alice", "wrong") is not None,
                  service.get_wampcra("realm1", "carol")["salt"])
    backups = sorted(p for p in os.listdir(cbdir) if p.startswith("config.json"))
    return (cbdir / "config.json").read_text(), backups, tables, principals, credentials, logins


@pytest.fixture(scope="module")
def adopt_reference(sources, tmp_path_factory):
    cbdir = node_copy(sources, tmp_path_factory.mktemp("adopt-ref"))
    done = run_cli("router", "adopt", "--cbdir", str(cbdir))
    assert done.returncode == 0, done.stderr
    state = adopted_state(cbdir)
    assert state[3:] == ([("realm1", "alice", "user"), ("realm1", "carol", "user")], 2, (True, False, "s4lt"))
    return state


@pytest.mark.parametrize("point", ["adopt-backed-up", "adopt-principals-stored", "import-batch-committed",
                                   "adopt-imported"])
def test_adopt_killed_at_a_point_then_rerun_matches_an_uninterrupted_run(sources, adopt_reference, tmp_path, point):
    cbdir = node_copy(sources, tmp_path)
    stock = (cbdir / "config.json").read_text()
    killed = run_cli("router", "adopt", "--cbdir", str(cbdir), crash_at=point)
    assert killed.returncode == -9
    assert (cbdir / "config.json").read_text() == stock  # the config is switched last, in one rename
    done = run_cli("router", "adopt", "--cbdir", str(cbdir))
    assert done.returncode == 0, done.stderr
    assert adopted_state(cbdir) == adopt_reference


@pytest.mark.parametrize("delay", KILL_DELAYS)
def test_adopt_killed_at_any_instant_then_rerun_matches_an_uninterrupted_run(sources, adopt_reference, tmp_path,
                                                                             delay):
    cbdir = node_copy(sources, tmp_path)
    kill_after_ready(["router", "adopt", "--cbdir", str(cbdir)], delay)
    done = run_cli("router", "adopt", "--cbdir", str(cbdir))
    assert done.returncode == 0, done.stderr
    assert adopted_state(cbdir) == adopt_reference
