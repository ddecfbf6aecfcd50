"""End to end: a principal's logins end on a running router whichever path changes the principal.

One real router process (LMDB) runs the management API. Each test logs a
fresh principal in with its ticket (which sets a cookie) and again with that
cookie on a second connection, changes the principal through one path - the
services from another process, the CLI, the management API inside the router,
``cookies revoke``, disabling it - and shows that both connections are closed
by the router and the cookie is refused from then on. A disabled principal's
ticket is refused like a wrong one until the principal is enabled.
"""

from __future__ import annotations

import json
import secrets
import sys
import uuid
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type

from cfxstore.cookies.service import CookieService
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.router.managementconfig import add_management
from router_harness import free_port, init_node, run_cli, running, wait_for
from router_wampclient import Denied, leave, login

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "migrate"))  # the cfxdb data factories
from cfxdb_factories import add_fx_credential, build_fx_mrealm  # noqa: E402

P = "cfxstore.mgmt."
DB = "cfxstore-db"
REALM = "realm1"
#: Generous: the router closes within its poll interval (0.1 s); the machine is shared and noisy.
CLOSE_DEADLINE = 10


@pytest.fixture(scope="module")
def router(tmp_path_factory, reactor_thread):
    with running(init_node(tmp_path_factory.mktemp("node"), lambda config: add_management(config, db=DB))) as node:
        wait_for(lambda: "cfxstore management API ready" in node.log(), 30, "the management API to register")
        yield node


@pytest.fixture(scope="module")
def mgmt(router):
    """Management from the test process: another process than the router's, on the same LMDB database."""
    db = open_database(str(router.cbdir / DB))
    creds = CredentialService(db, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID))
    yield Management(db, credentials=creds)
    db.close()


@pytest.fixture(scope="module")
def admin(reactor_thread, router, mgmt):
    mgmt.principals.create(realm="mgmt", authid="ops", role="admin", ticket="ticket-of-ops")
    session = reactor_thread.call(login, router.port, realm="mgmt", authmethods=["ticket"], authid="ops",
                                  ticket="ticket-of-ops").session
    yield session
    reactor_thread.call(leave, session)


@pytest.fixture
def user(mgmt):
    authid = f"user-{uuid.uuid4().hex[:8]}"
    ticket = secrets.token_urlsafe(16)
    principal = mgmt.principals.create(realm=REALM, authid=authid, role="user", ticket=ticket)
    return principal, ticket


def logged_in(rt, router, mgmt, principal, ticket):
    """Two live connections of the principal: its ticket login and a login with the cookie it got."""
    first = rt.call(login, router.port, authmethods=["ticket"], authid=principal.authid, ticket=ticket)
    assert first.cookie is not None
    value = first.cookie.partition("=")[2]
    cookies = CookieService(mgmt.db)
    # Logins are committed in batches: wait until this one is in the database, where the change finds it.
    wait_for(lambda: getattr(cookies.lookup(value), "authid", None) == principal.authid, 10,
             "the login to be committed")
    second = rt.call(login, router.port, authmethods=["cookie"], cookie=first.cookie)
    assert second.details.authid == principal.authid and second.details.authmethod == "cookie"
    return first, second


def assert_logins_ended(rt, router, first, second):
    for connection in (first, second):
        rt.call(lambda c=connection: c.session.left, timeout=CLOSE_DEADLINE)
    with pytest.raises(Denied):
        rt.call(login, router.port, authmethods=["cookie"], cookie=first.cookie)


SERVICE_CHANGES = {
    "role changed": lambda m, p: m.principals.update(p.oid, role="admin"),
    "realm changed": lambda m, p: m.principals.update(p.oid, realm="realm2"),
    "deleted": lambda m, p: m.principals.delete(p.oid),
    "new ticket": lambda m, p: m.principals.set_secret(p.oid, "ticket", "a-new-ticket"),
    "new WAMP-CRA secret": lambda m, p: m.principals.set_secret(p.oid, "wampcra", "a-secret", iterations=10),
    "ticket removed": lambda m, p: m.principals.remove_secret(p.oid, "ticket"),
    "disabled": lambda m, p: m.principals.disable(p.oid),
}


@pytest.mark.parametrize("change", SERVICE_CHANGES)
def test_a_change_through_the_services_of_another_process_ends_the_logins(reactor_thread, router, mgmt, user,
                                                                          change):
    first, second = logged_in(reactor_thread, router, mgmt, *user)
    SERVICE_CHANGES[change](mgmt, user[0])
    assert_logins_ended(reactor_thread, router, first, second)


CLI_CHANGES = {
    "principals update --role": lambda db, authid: run_cli("principals", "update", authid, "--db", db,
                                                           "--role", "admin"),
    "principals passwd": lambda db, authid: run_cli("principals", "passwd", authid, "--db", db,
                                                    "--password-stdin", input="another-ticket\n"),
    "principals remove": lambda db, authid: run_cli("principals", "remove", authid, "--db", db, "--yes"),
    "principals remove-secret": lambda db, authid: run_cli("principals", "remove-secret", authid, "--db", db,
                                                           "--method", "ticket"),
    "cookies revoke": lambda db, authid: run_cli("cookies", "revoke", "--authid", authid, "--db", db, "--yes"),
    "principals disable": lambda db, authid: run_cli("principals", "disable", authid, "--db", db),
}


@pytest.mark.parametrize("command", CLI_CHANGES)
def test_a_change_through_the_cli_ends_the_logins(reactor_thread, router, mgmt, user, command):
    first, second = logged_in(reactor_thread, router, mgmt, *user)
    out = CLI_CHANGES[command](str(router.cbdir / DB), user[0].authid)
    assert out.returncode == 0, out.stderr
    assert_logins_ended(reactor_thread, router, first, second)


API_CHANGES = {
    "principal.update": lambda call, p: call("principal.update", str(p.oid), {"role": "admin"}),
    "principal.set_secret": lambda call, p: call("principal.set_secret", str(p.oid), "ticket", "api-ticket"),
    "principal.delete": lambda call, p: call("principal.delete", str(p.oid)),
    "principal.remove_secret": lambda call, p: call("principal.remove_secret", str(p.oid), "ticket"),
    "principal.disable": lambda call, p: call("principal.disable", str(p.oid)),
}


@pytest.mark.parametrize("procedure", API_CHANGES)
def test_a_change_through_the_management_api_ends_the_logins(reactor_thread, router, mgmt, admin, user,
                                                             procedure):
    first, second = logged_in(reactor_thread, router, mgmt, *user)
    API_CHANGES[procedure](lambda proc, *args: reactor_thread.call(admin.call, P + proc, *args), user[0])
    assert_logins_ended(reactor_thread, router, first, second)


def ticket_login(rt, router, authid, ticket):
    """The login's authid, or the router's refusal message."""
    try:
        connection = rt.call(login, router.port, authmethods=["ticket"], authid=authid, ticket=ticket)
    except Denied as denied:
        return denied.message
    rt.call(leave, connection.session)
    return connection.details.authid


def test_a_disabled_principal_is_refused_like_a_wrong_ticket_until_enabled(reactor_thread, router, mgmt, admin,
                                                                           user):
    principal, ticket = user
    db = str(router.cbdir / DB)
    wrong = ticket_login(reactor_thread, router, principal.authid, "a wrong ticket")
    assert wrong == "invalid authid or ticket"
    out = run_cli("principals", "disable", principal.authid, "--db", db)
    assert out.returncode == 0, out.stderr
    assert ticket_login(reactor_thread, router, principal.authid, ticket) == wrong
    reactor_thread.call(admin.call, P + "principal.enable", str(principal.oid))
    assert ticket_login(reactor_thread, router, principal.authid, ticket) == principal.authid
    # Disabled through the management API, enabled with the CLI.
    assert reactor_thread.call(admin.call, P + "principal.disable", str(principal.oid))["disabled"]
    assert ticket_login(reactor_thread, router, principal.authid, ticket) == wrong
    out = run_cli("principals", "enable", principal.authid, "--db", db)
    assert out.returncode == 0, out.stderr
    assert ticket_login(reactor_thread, router, principal.authid, ticket) == principal.authid


def test_an_unrelated_principal_keeps_its_logins(reactor_thread, router, mgmt, user):
    other = mgmt.principals.create(realm=REALM, authid=f"other-{uuid.uuid4().hex[:8]}", role="user",
                                   ticket="others-ticket")
    mine = logged_in(reactor_thread, router, mgmt, *user)
    others = logged_in(reactor_thread, router, mgmt, other, "others-ticket")
    mgmt.principals.update(other.oid, role="admin")
    assert_logins_ended(reactor_thread, router, *others)
    # The router has acted on that change: this principal's connections and cookie were left alone.
    assert all(connection.session.is_attached() for connection in mine)
    again = reactor_thread.call(login, router.port, authmethods=["cookie"], cookie=mine[0].cookie)
    assert again.details.authid == user[0].authid
    for connection in (*mine, again):
        reactor_thread.call(leave, connection.session)


# --- Crossbar's session kill ---

@pytest.fixture(scope="module")
def realm_admin(reactor_thread, router, mgmt):
    mgmt.principals.create(realm=REALM, authid="realm-admin", role="admin", ticket="ticket-of-realm-admin")
    session = reactor_thread.call(login, router.port, authmethods=["ticket"], authid="realm-admin",
                                  ticket="ticket-of-realm-admin").session
    yield session
    reactor_thread.call(leave, session)


KILLS = {
    "wamp.session.kill_by_authid": lambda call, first, second: call("wamp.session.kill_by_authid",
                                                                    first.details.authid, reason="wamp.close.logout"),
    "wamp.session.kill": lambda call, first, second: call("wamp.session.kill", second.details.session,
                                                          reason="wamp.close.logout"),
}


@pytest.mark.parametrize("kill", KILLS)
def test_a_kill_with_the_logout_reason_deletes_the_cookie_and_closes_its_connections(reactor_thread, router, mgmt,
                                                                                     realm_admin, user, kill):
    first, second = logged_in(reactor_thread, router, mgmt, *user)
    KILLS[kill](lambda proc, *args, **kw: reactor_thread.call(realm_admin.call, proc, *args, **kw), first, second)
    assert_logins_ended(reactor_thread, router, first, second)
    assert CookieService(mgmt.db).lookup(first.cookie.partition("=")[2]) is None


def test_a_kill_with_another_reason_leaves_the_cookie_logged_in(reactor_thread, router, mgmt, realm_admin, user):
    first, second = logged_in(reactor_thread, router, mgmt, *user)
    killed = reactor_thread.call(realm_admin.call, "wamp.session.kill_by_authid", user[0].authid,
                                 reason="wamp.close.killed")
    assert sorted(killed) == sorted([first.details.session, second.details.session])
    for connection in (first, second):
        reactor_thread.call(lambda c=connection: c.session.left, timeout=CLOSE_DEADLINE)
    again = reactor_thread.call(login, router.port, authmethods=["cookie"], cookie=first.cookie)
    assert again.details.authid == user[0].authid
    reactor_thread.call(leave, again.session)


# --- per-device logins ---

def device_login(rt, router, mgmt, principal, ticket, agent):
    connection = rt.call(login, router.port, authmethods=["ticket"], authid=principal.authid, ticket=ticket,
                         headers={"User-Agent": agent})
    value = connection.cookie.partition("=")[2]
    wait_for(lambda: getattr(CookieService(mgmt.db).lookup(value), "authid", None), 10, "the login to be committed")
    return connection


def test_an_authids_logins_are_listed_per_device_and_one_is_revoked(reactor_thread, router, mgmt, admin, user):
    rt = reactor_thread
    phone = device_login(rt, router, mgmt, *user, "PhoneBrowser/1.0")
    laptop = device_login(rt, router, mgmt, *user, "LaptopBrowser/2.0")
    listed = rt.call(admin.call, P + "cookie.by_authid", user[0].authid)
    assert len(listed) == 2
    by_agent = {next(a for a in ("PhoneBrowser", "LaptopBrowser") if a in d["user_agent"]): d for d in listed}
    for entry in listed:
        assert entry["peer"].startswith("tcp4:127.0.0.1:") and entry["last_login"] and entry["created"]
        assert set(entry) == {"id", "authid", "realm", "role", "authmethod", "created", "last_login", "expires",
                              "peer", "user_agent"}
    for connection in (phone, laptop):  # never the value, nor its hash
        value = connection.cookie.partition("=")[2]
        assert value not in repr(listed) and CookieService.hash_value(value).hex() not in repr(listed)
    cli = run_cli("cookies", "list", "--authid", user[0].authid, "--db", str(router.cbdir / DB), "--json")
    assert cli.returncode == 0, cli.stderr
    assert sorted(c["user_agent"] for c in json.loads(cli.stdout)) == \
        sorted(d["user_agent"] for d in listed)
    revoked = rt.call(admin.call, P + "cookie.revoke", by_agent["PhoneBrowser"]["id"])
    assert revoked == {"id": by_agent["PhoneBrowser"]["id"], "authid": user[0].authid, "cookies_deleted": 1}
    rt.call(lambda: phone.session.left, timeout=CLOSE_DEADLINE)
    assert laptop.session.is_attached()
    assert [d["id"] for d in rt.call(admin.call, P + "cookie.by_authid", user[0].authid)] == \
        [by_agent["LaptopBrowser"]["id"]]
    # The CLI revokes the other device; the router closes its connection.
    out = run_cli("cookies", "revoke", "--id", by_agent["LaptopBrowser"]["id"], "--db", str(router.cbdir / DB))
    assert out.returncode == 0 and "revoked cookie" in out.stdout, out.stdout + out.stderr
    rt.call(lambda: laptop.session.left, timeout=CLOSE_DEADLINE)
    again = run_cli("cookies", "revoke", "--id", by_agent["LaptopBrowser"]["id"], "--db", str(router.cbdir / DB))
    assert again.returncode == 1 and "no cookie" in again.stderr


def test_router_adopt_giving_a_principal_a_new_secret_ends_its_logins(reactor_thread, router, mgmt, user, tmp_path):
    principal, ticket = user
    first, second = logged_in(reactor_thread, router, mgmt, principal, ticket)
    # A stopped stock node whose adopted store is this router's database, with a new ticket for the principal.
    stock = tmp_path / "stock"
    stock.mkdir()
    (stock / DB).symlink_to(router.cbdir / DB)
    auth = {"ticket": {"type": "static", "principals": {principal.authid: {"ticket": "stock-ticket", "role": "user"}}}}
    (stock / "config.json").write_text(json.dumps({
        "version": 2, "controller": {},
        "workers": [{"type": "router", "realms": [{"name": REALM, "roles": [{"name": "user", "permissions": []}]}],
                     "transports": [{"type": "websocket", "endpoint": {"type": "tcp", "port": free_port()},
                                     "auth": auth}]}]}))
    out = run_cli("router", "adopt", "--cbdir", str(stock), timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert_logins_ended(reactor_thread, router, first, second)


def test_a_ticket_imported_from_crossbar_fx_for_a_logged_in_principal_ends_its_logins(reactor_thread, router, mgmt,
                                                                                     tmp_path):
    """`migrate import-cfxdb --fx` writes principals through their owner too: a credential Crossbar FX added
    for a principal imported before replaces its ticket, ends its logins and the new ticket logs in."""
    authid = f"fx-{uuid.uuid4().hex[:8]}"
    fx = str(tmp_path / "fx-mrealm")
    build_fx_mrealm(fx, {authid: ("ticket", {"secret": "first-fx-ticket"}, "api")}, arealm=REALM, role="user")
    imported = run_cli("migrate", "import-cfxdb", "--fx", fx, str(router.cbdir / DB))
    assert imported.returncode == 0, imported.stderr
    principal = mgmt.principals.get_by((REALM, authid))
    first, second = logged_in(reactor_thread, router, mgmt, principal, "first-fx-ticket")
    add_fx_credential(fx, authid, "ticket", {"secret": "second-fx-ticket"})
    imported = run_cli("migrate", "import-cfxdb", "--fx", fx, str(router.cbdir / DB))
    assert imported.returncode == 0, imported.stderr
    assert_logins_ended(reactor_thread, router, first, second)
    again = reactor_thread.call(login, router.port, authmethods=["ticket"], authid=authid, ticket="second-fx-ticket")
    assert again.details.authid == authid
    reactor_thread.call(leave, again.session)
