"""Upgrading a real stock Crossbar node: every user, cookie and event survives ``cfxstore router adopt``.

One stock node (``crossbar edge start``: `database` cookie store with 12-character
cookies, `cfxdb` realm store with event history, static ticket and WAMP-CRA
principals, cookie auth) is driven by real Autobahn clients for the whole module;
then the node is stopped, adopted and started as ``cfxstore router start``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from router_harness import RouterProcess, port_open, run_cli, running, wait_for
from router_wampclient import Denied, leave, login

from cfxstore.cookies.service import CookieService
from cfxstore.migrate.cfxdb_source import EVENTS as EVENTS_TABLE
from cfxstore.migrate.cfxdb_source import CfxdbSource
from cfxstore.realmstore.service import SessionHistory

CROSSBAR = [os.path.join(os.path.dirname(sys.executable), "crossbar")]
TOPIC = "com.example.news"
EVENTS = 7
TICKETS = {"alice": "alice-stock-ticket", "bob": "bob-stock-ticket"}
CRA = {"secret": "carol-stock-secret", "salt": "carol-salt", "iterations": 100, "keylen": 32}
# Stock cookie values of this length often hold "+" or "/"; keep logging in until enough do.
WANT_SPECIAL, MAX_LOGINS = 3, 80


def stock_config(port: int) -> dict:
    allow = {"call": True, "register": True, "publish": True, "subscribe": True}
    return {
        "version": 2, "controller": {},
        "workers": [{
            "type": "router",
            "realms": [{
                "name": "realm1",
                "roles": [{"name": "user", "permissions": [
                    {"uri": "", "match": "prefix", "allow": allow, "disclose": {"caller": False, "publisher": True},
                     "cache": True}]}],
                "store": {"type": "cfxdb", "path": "realmstore", "maxsize": 2**24,
                          "event-history": [{"uri": TOPIC, "match": "exact", "limit": 100}]},
            }],
            "transports": [{
                "type": "websocket",
                "endpoint": {"type": "tcp", "port": port, "interface": "127.0.0.1"},
                "cookie": {"name": "cbtid", "length": 12, "max_age": 86400,
                           "store": {"type": "database", "path": "cookies", "maxsize": 2**24}},
                "auth": {
                    "ticket": {"type": "static", "principals": {
                        name: {"ticket": ticket, "role": "user"} for name, ticket in TICKETS.items()}},
                    "wampcra": {"type": "static", "users": {"carol": {**CRA, "role": "user"}}},
                    "cookie": {},
                },
            }],
        }],
    }


class StockNode:
    def __init__(self, cbdir: Path, port: int) -> None:
        self.cbdir, self.port = cbdir, port
        self.log_path = cbdir / "stock.log"
        with open(self.log_path, "a") as out:
            self.proc = subprocess.Popen([*CROSSBAR, "edge", "start", "--cbdir", str(cbdir)], stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"crossbar exited with {self.proc.returncode}:\n"
                                     f"{self.log_path.read_text()[-4000:]}")
            return port_open(port)

        wait_for(ready, 90, "the stock node to listen", interval=0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(60)
            finally:
                if self.proc.poll() is None:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(10)
        wait_for(lambda: not port_open(self.port), 15, "the stock node's port to close")


def _value(cookie: str) -> str:
    return cookie.split("=", 1)[1]


@pytest.fixture(scope="module")
def stock(tmp_path_factory, reactor_thread):
    """A stock node run once: cookies received per login, events published; then stopped."""
    from router_harness import free_port

    cbdir = tmp_path_factory.mktemp("stock") / ".crossbar"
    cbdir.mkdir()
    port = free_port()
    (cbdir / "config.json").write_text(json.dumps(stock_config(port), indent=2))
    node = StockNode(cbdir, port)
    call = reactor_thread.call
    made: dict = {"cbdir": cbdir, "port": port, "cookies": [], "logged_out": None}
    try:
        # A running node is not adopted.
        refused = run_cli("router", "adopt", "--cbdir", str(cbdir))
        made["adopt_while_running"] = (refused.returncode, refused.stderr)

        names = [*TICKETS, "carol"]
        for i in range(MAX_LOGINS):
            authid = names[i % len(names)]
            kwargs = ({"authmethods": ["cookie", "ticket"], "ticket": TICKETS[authid]} if authid in TICKETS
                      else {"authmethods": ["cookie", "wampcra"], "secret": CRA["secret"]})
            done = call(login, port, authid=authid, **kwargs)
            assert done.cookie and done.details.authid == authid
            made["cookies"].append((done.cookie, authid, done.details.authrole))
            call(leave, done.session)
            special = [c for c, _, _ in made["cookies"] if set(_value(c)) & set("+/")]
            if i >= 8 and len(special) >= WANT_SPECIAL:
                break

        # One user logs out: stock deletes that cookie, which must stay dead.
        out = call(login, port, authid="bob", authmethods=["cookie", "ticket"], ticket=TICKETS["bob"])
        made["logged_out"] = out.cookie
        call(leave, out.session, "wamp.close.logout")

        # Event history: a subscriber and a publisher. (Stock's own wamp.subscription.get_events fails
        # on its cfxdb store, a key type mismatch in zlmdb; its database file is read instead.)
        sub = call(login, port, authid="alice", authmethods=["ticket"], ticket=TICKETS["alice"])
        pub = call(login, port, authid="bob", authmethods=["ticket"], ticket=TICKETS["bob"])
        subscription = call(sub.session.subscribe, lambda *a, **kw: None, TOPIC)
        for n in range(EVENTS):
            call(pub.session.publish, TOPIC, n, f"event {n}", options=_acked())
        assert subscription.id
        wait_for(lambda: _stored(cbdir / "realmstore", EVENTS_TABLE) >= EVENTS, 30, "stock to store the events",
                 interval=0.2)
        call(leave, sub.session)
        call(leave, pub.session)
    finally:
        node.stop()
    return made


def _stored(path: Path, table) -> int:
    with CfxdbSource(str(path), "realm store") as source:
        return source.count(table)


def _acked():
    from autobahn.wamp.types import PublishOptions

    return PublishOptions(acknowledge=True)


@pytest.fixture(scope="module")
def adopted(stock, reactor_thread):
    result = run_cli("router", "adopt", "--cbdir", str(stock["cbdir"]), "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    router = RouterProcess(stock["cbdir"], [stock["port"]])
    try:
        router.start()
        yield {**stock, "report": json.loads(result.stdout), "router": router}
    finally:
        try:
            router.stop()
        finally:
            router.kill()


def test_a_running_stock_node_is_not_adopted(stock):
    code, stderr = stock["adopt_while_running"]
    assert code == 1 and "is running" in stderr and "stop it first" in stderr


def test_stock_issued_standard_base64_cookies_of_the_configured_length(stock):
    values = [_value(c) for c, _, _ in stock["cookies"]]
    assert all(len(v) == 12 for v in values)
    assert sum(1 for v in values if set(v) & set("+/")) >= WANT_SPECIAL


def test_every_stock_cookie_logs_in_as_the_same_user(adopted, reactor_thread):
    call = reactor_thread.call
    for cookie, authid, authrole in adopted["cookies"]:
        done = call(login, adopted["port"], authmethods=["cookie"], cookie=cookie)
        assert (done.details.authid, done.details.authrole, done.details.authmethod) == (authid, authrole, "cookie")
        assert done.set_cookie is None, f"cookie {cookie} was replaced"
        call(leave, done.session)


def test_a_cookie_logged_out_on_stock_stays_logged_out(adopted, reactor_thread):
    with pytest.raises(Denied):
        reactor_thread.call(login, adopted["port"], authmethods=["cookie"], cookie=adopted["logged_out"])


def test_stock_tickets_and_wampcra_secrets_still_log_in_and_left_the_config(adopted, reactor_thread):
    call = reactor_thread.call
    for authid, ticket in TICKETS.items():
        done = call(login, adopted["port"], authid=authid, authmethods=["ticket"], ticket=ticket)
        assert (done.details.authid, done.details.authrole) == (authid, "user")
        call(leave, done.session)
    done = call(login, adopted["port"], authid="carol", authmethods=["wampcra"], secret=CRA["secret"])
    assert done.details.authid == "carol"
    call(leave, done.session)
    with pytest.raises(Denied):
        call(login, adopted["port"], authid="alice", authmethods=["ticket"], ticket="wrong")
    config = (adopted["cbdir"] / "config.json").read_text()
    assert all(secret not in config for secret in [*TICKETS.values(), CRA["secret"]])
    auth = json.loads(config)["workers"][0]["transports"][0]["auth"]
    # unknown authids are challenged like the real WAMP-CRA users
    assert auth["wampcra"]["config"]["wampcra"] == {"iterations": 100, "keylen": 32, "decoy_role": "user"}
    backup = Path(adopted["report"]["backup"])
    assert backup.exists() and (backup.stat().st_mode & 0o077) == 0


def test_imported_history_is_returned_by_get_events(adopted, reactor_thread):
    call = reactor_thread.call
    done = call(login, adopted["port"], authid="alice", authmethods=["ticket"], ticket=TICKETS["alice"])
    subscription = call(done.session.subscribe, lambda *a, **kw: None, TOPIC)
    events = call(done.session.call, "wamp.subscription.get_events", subscription.id)
    call(leave, done.session)
    assert sorted(e["args"][0] for e in events) == list(range(EVENTS))
    assert all(e["topic"] == TOPIC and e["args"][1] == f"event {e['args'][0]}" for e in events)


def test_imported_history_by_topic_and_sessions_ended(adopted):
    db = str(adopted["cbdir"] / "cfxstore-db")
    with SessionHistory.open(db, readonly=True) as history:
        assert sorted(e.args[0] for e in history.events_by_topic(TOPIC)) == list(range(EVENTS))
        stock_sessions = [s for s in history.sessions_by_authid("alice") if s.run is None]  # imported ones
        assert stock_sessions and all(s.left_at is not None for s in stock_sessions)
    imported = adopted["report"]["imported"]
    sessions = next(v for k, v in imported.items() if k.startswith("sessions"))
    assert sessions["changed"].get("marked ended (leave time unknown)", 0) > 0


def test_a_reimport_never_revives_a_revoked_cookie_and_adopt_is_idempotent(adopted):
    cbdir, db = adopted["cbdir"], str(adopted["cbdir"] / "cfxstore-db")
    revoked = _value(adopted["cookies"][0][0])
    with CookieService.open(db) as service:
        assert service.revoke_authid(adopted["cookies"][0][1])
        assert service.lookup(revoked) is None
    again = run_cli("migrate", "import-cfxdb", "--cookies", str(cbdir / "cookies"), "--db", db, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["tables"]["cookies"]["imported"] == 0
    with CookieService.open(db) as service:
        assert service.lookup(revoked) is None
    config = (cbdir / "config.json").read_text()
    adopted["router"].stop()  # adopt refuses a running node, cfxstore's included
    rerun = run_cli("router", "adopt", "--cbdir", str(cbdir))
    assert rerun.returncode == 0 and "nothing to do" in rerun.stdout
    assert (cbdir / "config.json").read_text() == config


def _two_listeners(public: int, internal: int, internal_principals: dict) -> dict:
    """A stock node listening on a public port (alice) and an internal one (its own principals)."""
    config = stock_config(public)
    worker = config["workers"][0]
    worker["realms"][0].pop("store")
    template = worker["transports"][0]
    template.pop("cookie")
    template["auth"] = {"ticket": {"type": "static", "principals": {"alice": {"ticket": TICKETS["alice"],
                                                                              "role": "user"}}}}
    inner = json.loads(json.dumps(template))
    inner["endpoint"]["port"] = internal
    inner["auth"]["ticket"]["principals"] = internal_principals
    worker["transports"].append(inner)
    return config


def _joins(rt, port: int, authid: str, ticket: str) -> bool:
    try:
        done = rt.call(login, port, authid=authid, authmethods=["ticket"], ticket=ticket)
    except Denied:
        return False
    rt.call(leave, done.session)
    return True


def test_adopt_never_lets_a_principal_of_one_listener_log_in_on_another(tmp_path, reactor_thread):
    from router_harness import free_port

    rt = reactor_thread
    public, internal = free_port(), free_port()
    cbdir = tmp_path / ".crossbar"
    cbdir.mkdir()
    ops = {"ticket": "ops-internal-ticket", "role": "user"}
    principals = {"alice": {"ticket": TICKETS["alice"], "role": "user"}, "ops": ops}
    text = json.dumps(_two_listeners(public, internal, principals), indent=2)
    (cbdir / "config.json").write_text(text)
    node = StockNode(cbdir, public)
    try:
        wait_for(lambda: port_open(internal), 30, "the internal listener")
        # What stock Crossbar does: ops logs in on the internal listener only; alice on both.
        assert _joins(rt, internal, "ops", ops["ticket"]) and not _joins(rt, public, "ops", ops["ticket"])
        assert _joins(rt, public, "alice", TICKETS["alice"]) and _joins(rt, internal, "alice", TICKETS["alice"])
    finally:
        node.stop()

    refused = run_cli("router", "adopt", "--cbdir", str(cbdir), timeout=120)
    assert refused.returncode == 1, refused.stdout
    assert ("ticket principal 'ops' (realm 'realm1') of workers[0].transports[1] could then log in on "
            "workers[0].transports[0] too") in refused.stderr and "nothing was changed" in refused.stderr
    assert (cbdir / "config.json").read_text() == text
    assert not list(cbdir.glob("config.json.stock-*")) and not (cbdir / "cfxstore-db").exists()

    # Listeners that list the same principals share the store as they shared the principals.
    (cbdir / "config.json").write_text(json.dumps(_two_listeners(public, internal, {"alice": principals["alice"]})))
    adopted = run_cli("router", "adopt", "--cbdir", str(cbdir), timeout=120)
    assert adopted.returncode == 0, adopted.stderr
    with running(RouterProcess(cbdir, [public, internal])):
        assert _joins(rt, public, "alice", TICKETS["alice"]) and _joins(rt, internal, "alice", TICKETS["alice"])
        assert not _joins(rt, public, "ops", ops["ticket"]) and not _joins(rt, internal, "ops", ops["ticket"])
