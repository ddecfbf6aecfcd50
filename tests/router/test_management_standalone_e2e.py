"""End to end against stock Crossbar (its own `crossbar start`, static ticket principals): the
management API and the authorizer run as standalone Autobahn components in their own processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from autobahn.wamp.exception import ApplicationError

from cfxstore.database import open_database
from router_harness import free_port, port_open, wait_for
from authz_probe import denied
from router_wampclient import leave, login

CROSSBAR = os.path.join(os.path.dirname(sys.executable), "crossbar")
P = "cfxstore.mgmt."
TICKETS = {"svc": "svc-ticket", "ops": "ops-ticket", "alice": "alice-ticket"}
_ALL = {"call": True, "register": True, "publish": True, "subscribe": True}


def _config(port: int) -> dict:
    def perm(uri, match="prefix", disclose=False, **allow):
        return {"uri": uri, "match": match, "allow": {**dict.fromkeys(_ALL, False), **allow},
                "disclose": {"caller": disclose, "publisher": disclose}, "cache": True}

    return {"version": 2, "controller": {}, "workers": [{
        "type": "router",
        "realms": [
            {"name": "mgmt", "roles": [
                {"name": "admin", "permissions": [perm("", disclose=True, **_ALL)]},
                {"name": "service", "permissions": [perm(P, register=True, publish=True)]}]},
            {"name": "realm1", "roles": [
                {"name": "app", "authorizer": "cfxstore.authorize"},
                {"name": "service", "permissions": [perm("cfxstore.authorize", "exact", register=True)]}]},
        ],
        "transports": [{"type": "websocket", "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": port},
                        "auth": {"ticket": {"type": "static", "principals": {
                            "svc": {"ticket": TICKETS["svc"], "role": "service"},
                            "ops": {"ticket": TICKETS["ops"], "role": "admin"},
                            "alice": {"ticket": TICKETS["alice"], "role": "app"}}}}}],
    }]}


def _spawn(args, log, env=None):
    out = open(log, "a")
    return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture(scope="module")
def stock(tmp_path_factory, reactor_thread):
    base = tmp_path_factory.mktemp("stock")
    cbdir, db = base / "node", str(base / "db")
    cbdir.mkdir()
    port = free_port()
    (cbdir / "config.json").write_text(json.dumps(_config(port)))
    open_database(db).close()  # created and stamped before the components open it
    procs = []
    try:
        log = base / "crossbar.log"
        procs.append(_spawn([CROSSBAR, "start", "--cbdir", str(cbdir)], log))
        wait_for(lambda: port_open(port) and "configured and ready" in log.read_text(), 60, "crossbar to start")
        url = f"ws://127.0.0.1:{port}/"
        env = {"CFXSTORE_TICKET": TICKETS["svc"]}
        for component, realm in (("management", "mgmt"), ("authorizer", "realm1")):
            procs.append(_spawn([sys.executable, "-m", "cfxstore.router.standalone", component, "--url", url,
                                 "--realm", realm, "--authid", "svc", "--db", db], base / f"{component}.log", env))
        wait_for(lambda: all("ready" in (base / f"{c}.log").read_text() for c in ("management", "authorizer")),
                 60, "the standalone components to register")
        yield port, db
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _session(rt, port, authid, realm):
    return rt.call(login, port, realm=realm, authmethods=["ticket"], authid=authid, ticket=TICKETS[authid]).session


def test_standalone_components_manage_and_authorize_on_stock_crossbar(reactor_thread, stock):
    port, _ = stock
    rt = reactor_thread
    ops = _session(rt, port, "ops", "mgmt")
    alice = _session(rt, port, "alice", "realm1")
    try:
        assert denied(rt, alice, "com.stock.echo")
        realm = rt.call(ops.call, P + "arealm.create", {"name": "realm1"})
        role = rt.call(ops.call, P + "role.create", {"name": "app"})
        rt.call(ops.call, P + "arealm_role.create", {"arealm_oid": realm["oid"], "role_oid": role["oid"]})
        perm = rt.call(ops.call, P + "permission.create", {"role_oid": role["oid"], "uri": "com.stock.",
                                                           "match": "prefix", "allow_register": True})
        # The management process wrote it; the authorizer process sees it within its recheck interval.
        wait_for(lambda: not denied(rt, alice, "com.stock.echo"), 1.0, "the grant to apply")
        rt.call(ops.call, P + "permission.delete", perm["oid"])
        wait_for(lambda: denied(rt, alice, "com.stock.echo"), 1.0, "the revocation to apply")
        with pytest.raises(ApplicationError) as info:
            rt.call(ops.call, P + "role.delete", role["oid"])
        assert info.value.error == "cfxstore.error.in_use"
    finally:
        rt.call(leave, alice)
        rt.call(leave, ops)


def test_a_standalone_api_publishes_changes_made_by_another_process(reactor_thread, stock):
    from cfxstore.management import Management

    port, db = stock
    ops = _session(reactor_thread, port, "ops", "mgmt")
    events: list = []
    try:
        reactor_thread.call(ops.subscribe, events.append, P + "routercluster.on_created")
        with open_database(db) as database:  # this test process: neither the router nor the component
            made = Management(database).routerclusters.create(name="made-elsewhere")
        wait_for(lambda: events, 10, "the event")
        assert events[0]["oid"] == str(made.oid) and events[0]["name"] == "made-elsewhere"
    finally:
        reactor_thread.call(leave, ops)
