"""`router adopt` and the logins of the static principals it writes: the stock node's logins survive adoption,
and adopting again ends a principal's logins only when the config gives it a new secret."""

from __future__ import annotations

import json

import pytest
from cfxdb_factories import build_cookie_store

from cfxstore.cookies.service import CookieService
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.router.adopt import DB_PATH, AdoptError, adopt

TICKET = "user0-static-ticket"


def stock_config(ticket: str) -> dict:
    """A stock node: a cfxdb cookie store, and user0 a static ticket principal of realm1."""
    auth = {"ticket": {"type": "static", "principals": {"user0": {"ticket": ticket, "role": "user"}}}, "cookie": {}}
    return {"version": 2, "controller": {},
            "workers": [{"type": "router", "realms": [{"name": "realm1", "roles": [{"name": "user", "permissions": []}]}],
                         "transports": [{"type": "websocket", "endpoint": {"type": "tcp", "port": 8080},
                                         "cookie": {"store": {"type": "database", "path": "cookies"}},
                                         "auth": auth}]}]}


@pytest.fixture
def node(tmp_path):
    """A stock node directory whose cookie store holds one login: user0's on realm1. Returns (cbdir, its value)."""
    cbdir = tmp_path / "node"
    cbdir.mkdir()
    [cookie] = build_cookie_store(str(cbdir / "cookies"), 1)
    assert cookie["authid"] == "user0"
    return cbdir, cookie["value"]


def adopt_stock(cbdir, ticket: str) -> None:
    """Adopt the node with the stock config giving user0 this ticket (written again: adopting again)."""
    (cbdir / "config.json").write_text(json.dumps(stock_config(ticket)))
    adopt(str(cbdir))


def login_of(cbdir, value: str) -> str | None:
    """Who the cookie with this value is logged in as in the adopted store (None: no such cookie)."""
    with open_database(str(cbdir / DB_PATH), readonly=True) as db:
        cookie = CookieService(db).lookup(value)
    return None if cookie is None else cookie.authid


def verifies(cbdir, ticket: str) -> bool:
    with open_database(str(cbdir / DB_PATH), readonly=True) as db:
        return CredentialService(db).verify_ticket("realm1", "user0", ticket) is not None


def test_the_stock_nodes_logins_survive_adoption(node):
    cbdir, value = node
    adopt_stock(cbdir, TICKET)
    assert login_of(cbdir, value) == "user0"
    assert verifies(cbdir, TICKET)


@pytest.mark.parametrize("again, kept", [(TICKET, True), ("user0-new-static-ticket", False)],
                         ids=["same ticket", "new ticket"])
def test_adopting_again_ends_the_principals_logins_only_for_a_new_ticket(node, again, kept):
    cbdir, value = node
    adopt_stock(cbdir, TICKET)
    adopt_stock(cbdir, again)
    assert login_of(cbdir, value) == ("user0" if kept else None)
    assert verifies(cbdir, again) and verifies(cbdir, TICKET) == kept


def two_listeners(public: dict, internal: dict, *, internal_cra: dict | None = None) -> dict:
    """A stock node with a public and an internal listener, each with its own static ticket principals."""
    def transport(port: int, principals: dict, cra: dict | None) -> dict:
        auth: dict = {"ticket": {"type": "static", "principals": principals}}
        if cra:
            auth["wampcra"] = {"type": "static", "users": cra}
        return {"type": "websocket", "endpoint": {"type": "tcp", "port": port}, "auth": auth}
    return {"version": 2, "controller": {},
            "workers": [{"type": "router", "realms": [{"name": "realm1", "roles": [{"name": "user", "permissions": []}]}],
                         "transports": [transport(8080, public, None), transport(8081, internal, internal_cra)]}]}


def _refused(tmp_path, config: dict) -> str:
    """Adopting config is refused, and leaves the node directory exactly as it was; returns the reason."""
    cbdir = tmp_path / "node"
    cbdir.mkdir()
    text = json.dumps(config)
    (cbdir / "config.json").write_text(text)
    with pytest.raises(AdoptError) as info:
        adopt(str(cbdir))
    assert (cbdir / "config.json").read_text() == text
    assert sorted(p.name for p in cbdir.iterdir()) == ["config.json"]  # no backup, no database
    return str(info.value)


def _p(ticket: str, role: str = "user") -> dict:
    return {"ticket": ticket, "role": role}


def test_a_principal_of_one_listener_is_not_made_a_login_of_another(tmp_path):
    reason = _refused(tmp_path, two_listeners({"alice": _p("a")}, {"alice": _p("a"), "ops": _p("o", "admin")}))
    assert ("ticket principal 'ops' (realm 'realm1') of workers[0].transports[1] could then log in on "
            "workers[0].transports[0] too, which does not list it") in reason
    assert "alice" not in reason and "nothing was changed" in reason


def test_two_tickets_or_roles_for_one_authid_are_reported_not_resolved(tmp_path):
    reason = _refused(tmp_path, two_listeners({"alice": _p("a"), "bob": _p("b")},
                                              {"alice": _p("other"), "bob": _p("b", "admin")}))
    assert ("ticket principal 'alice' (realm 'realm1'): workers[0].transports[0] and workers[0].transports[1] "
            "give it different tickets") in reason
    assert "ticket principal 'bob' (realm 'realm1')" in reason and "different roles" in reason


def test_a_wampcra_user_and_a_ticket_principal_of_one_authid_with_other_roles_are_reported(tmp_path):
    reason = _refused(tmp_path, two_listeners({"carol": _p("c")}, {"carol": _p("c")},
                                              internal_cra={"carol": {"secret": "s", "role": "admin"}}))
    assert "principal 'carol' (realm 'realm1'): workers[0].transports[0] gives it role 'user' for ticket" in reason


def test_listeners_with_the_same_principals_are_adopted_into_one_store(tmp_path):
    cbdir = tmp_path / "node"
    cbdir.mkdir()
    same = {"alice": _p("a"), "ops": _p("o", "admin")}
    (cbdir / "config.json").write_text(json.dumps(two_listeners(same, dict(same))))
    report = adopt(str(cbdir))
    assert len(report.principals) == 2  # the listeners' two, stored (and reported) once
    with open_database(str(cbdir / DB_PATH), readonly=True) as db:
        service = CredentialService(db)
        assert service.verify_ticket("realm1", "alice", "a") is not None
        assert service.verify_ticket("realm1", "ops", "o") is not None


def test_adoption_and_its_import_are_in_the_audit_log_and_a_rerun_that_changes_nothing_adds_nothing(node):
    from cfxstore.audit.service import AuditLog

    cbdir, _ = node
    adopt_stock(cbdir, TICKET)

    def events():
        with open_database(str(cbdir / DB_PATH), readonly=True) as db:
            return [(e.kind, e.action, e.authid, e.method, (e.detail or {}).get("table"))
                    for e in AuditLog(db).list(kinds=["adoption", "import", "principal"])]

    first = events()
    assert first[:3] == [("principal", "created", "user0", None, None),
                         ("principal", "credential set", "user0", "ticket", None),
                         ("adoption", "principal adopted", "user0", "ticket", None)]
    assert [e[:2] for e in first[3:]] == [("import", "cfxdb import")] and first[3][4].startswith("cookies")
    adopt_stock(cbdir, TICKET)
    assert events() == first
    with open_database(str(cbdir / DB_PATH), readonly=True) as db:
        assert TICKET.encode() not in repr([e.marshal() for e in AuditLog(db).list()]).encode()
