"""`router adopt` and the logins of the static principals it writes: the stock node's logins survive adoption,
and adopting again ends a principal's logins only when the config gives it a new secret."""

from __future__ import annotations

import json

import pytest
from cfxdb_factories import build_cookie_store

from cfxstore.cookies.service import CookieService
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.router.adopt import DB_PATH, adopt

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
