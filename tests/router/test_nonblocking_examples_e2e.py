"""The non-blocking examples of docs/management.md run as written: a Twisted and an asyncio component, each in
its own process on stock Crossbar, create and list roles in a real LMDB database and refuse as the service does."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from autobahn.wamp.exception import ApplicationError

from cfxstore.database import open_database
from cfxstore.management import Management
from router_harness import free_port, port_open, wait_for
from router_wampclient import leave, login
from test_management_standalone_e2e import CROSSBAR, _spawn, _stop

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples" / "nonblocking"
TICKETS = {"svc": "svc-ticket", "ops": "ops-ticket"}


def _config(port: int) -> dict:
    def role(name: str, **allow: bool) -> dict:
        return {"name": name, "permissions": [{"uri": "com.example.", "match": "prefix", "allow": {
            "call": False, "register": False, "publish": False, "subscribe": False, **allow}, "cache": True}]}

    return {"version": 2, "controller": {}, "workers": [{
        "type": "router",
        "realms": [{"name": "mgmt", "roles": [role("service", register=True), role("ops", call=True)]}],
        "transports": [{"type": "websocket", "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": port},
                        "auth": {"ticket": {"type": "static", "principals": {
                            "svc": {"ticket": TICKETS["svc"], "role": "service"},
                            "ops": {"ticket": TICKETS["ops"], "role": "ops"}}}}}],
    }]}


@pytest.fixture(scope="module")
def crossbar(tmp_path_factory):
    base = tmp_path_factory.mktemp("stock")
    cbdir = base / "node"
    cbdir.mkdir()
    port = free_port()
    (cbdir / "config.json").write_text(json.dumps(_config(port)))
    log = base / "crossbar.log"
    proc = _spawn([CROSSBAR, "start", "--cbdir", str(cbdir)], log)
    try:
        wait_for(lambda: port_open(port) and "configured and ready" in log.read_text(), 60, "crossbar to start")
        yield port
    finally:
        _stop(proc)


def test_the_docs_show_the_examples_as_they_are():
    docs = (ROOT / "docs" / "management.md").read_text()
    for example in ("twisted_roles.py", "asyncio_roles.py"):
        assert (EXAMPLES / example).read_text().strip() in docs, f"docs/management.md does not show {example}"


@pytest.mark.parametrize("example", ["twisted_roles.py", "asyncio_roles.py"])
def test_an_example_component_creates_lists_and_refuses_roles(reactor_thread, crossbar, tmp_path, example):
    db = str(tmp_path / "db")
    open_database(db).close()  # created and stamped before the component opens it
    log = tmp_path / "component.log"
    proc = _spawn([sys.executable, str(EXAMPLES / example), f"ws://127.0.0.1:{crossbar}/", "mgmt", "svc", db], log,
                  {"CFXSTORE_TICKET": TICKETS["svc"]})
    rt = reactor_thread
    try:
        wait_for(lambda: "roles ready" in log.read_text(), 60, f"{example} to register")
        ops = rt.call(login, crossbar, realm="mgmt", authmethods=["ticket"], authid="ops",
                      ticket=TICKETS["ops"]).session
        try:
            oid = rt.call(ops.call, "com.example.roles.create", "frontend")
            assert rt.call(ops.call, "com.example.roles.names") == ["frontend"]
            with pytest.raises(ApplicationError) as refused:
                rt.call(ops.call, "com.example.roles.create", "frontend")
            assert refused.value.error == "cfxstore.error.already_exists"
        finally:
            rt.call(leave, ops)
    finally:
        _stop(proc)
    with open_database(db) as database:
        assert [(str(r.oid), r.name) for r in Management(database).roles.list().items] == [(oid, "frontend")]
