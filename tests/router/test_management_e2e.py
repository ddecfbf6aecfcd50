"""End to end: the management API and the store-backed authorizer in a real router process,
called by real Autobahn clients.

The router runs the management component on realm "mgmt" and the authorizer
for role "app" on realm "realm1", both as components of the node config.
"""

from __future__ import annotations


import pytest
from argon2 import PasswordHasher, Type
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.router.managementconfig import add_authorizer, add_management
from router_harness import init_node, run_cli, running, wait_for
from authz_probe import denied
from router_wampclient import leave, login

P = "cfxstore.mgmt."
DB = "cfxstore-db"


@pytest.fixture(scope="module")
def router(tmp_path_factory, reactor_thread):
    def configure(config: dict) -> None:
        add_management(config, db=DB)
        # A role that may call the API's URIs but is not an admin role of the component.
        mgmt = next(r for r in config["workers"][0]["realms"] if r["name"] == "mgmt")
        mgmt["roles"].append({"name": "auditor", "permissions": [{
            "uri": P, "match": "prefix", "allow": {"call": True, "register": False, "publish": False,
                                                 "subscribe": False},
            "disclose": {"caller": True, "publisher": False}, "cache": True}]})
        add_authorizer(config, realm="realm1", roles=["app"], db=DB)

    with running(init_node(tmp_path_factory.mktemp("node"), configure)) as node:
        wait_for(lambda: "cfxstore management API ready" in node.log()
                 and "cfxstore authorizer" in node.log(), 30, "the components to register")
        yield node


@pytest.fixture(scope="module")
def node_db(router):
    db = open_database(str(router.cbdir / DB))
    yield db
    db.close()


@pytest.fixture(scope="module")
def tickets(node_db):
    """Principals: an admin and a non-admin on the management realm, an "app" user on realm1."""
    creds = CredentialService(node_db, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1,
                                                             type=Type.ID))
    principals = Management(node_db, credentials=creds).principals
    out = {}
    for realm, authid, role in (("mgmt", "ops", "admin"), ("mgmt", "viewer", "auditor"),
                                ("realm1", "alice", "app")):
        principals.create(realm=realm, authid=authid, role=role, ticket=f"ticket-of-{authid}")
        out[authid] = f"ticket-of-{authid}"
    return out


def _login(reactor_thread, router, tickets, authid, realm="mgmt"):
    return reactor_thread.call(login, router.port, realm=realm, authmethods=["ticket"], authid=authid,
                               ticket=tickets[authid]).session


@pytest.fixture(scope="module")
def admin(reactor_thread, router, tickets):
    session = _login(reactor_thread, router, tickets, "ops")
    yield session
    reactor_thread.call(leave, session)


def call(rt, session, proc, *args, **kwargs):
    return rt.call(session.call, P + proc, *args, **kwargs)


def error_of(rt, session, proc, *args, **kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        call(rt, session, proc, *args, **kwargs)
    return info.value


def test_admin_creates_gets_lists_and_deletes_a_role(reactor_thread, admin):
    role = call(reactor_thread, admin, "role.create", {"name": "e2e-viewer", "description": "reads"})
    assert role["name"] == "e2e-viewer" and isinstance(role["oid"], str) and role["created"].endswith("Z")
    assert call(reactor_thread, admin, "role.get", role["oid"]) == role
    assert call(reactor_thread, admin, "role.get_by", "e2e-viewer")["oid"] == role["oid"]
    updated = call(reactor_thread, admin, "role.update", role["oid"], {"description": "reads more"})
    assert updated["description"] == "reads more"
    names = [r["name"] for r in call(reactor_thread, admin, "role.list")["items"]]
    assert "e2e-viewer" in names
    assert call(reactor_thread, admin, "role.delete", role["oid"])["oid"] == role["oid"]
    assert error_of(reactor_thread, admin, "role.get", role["oid"]).error == "cfxstore.error.not_found"


def test_lists_are_paginated_with_a_cursor(reactor_thread, admin):
    for i in range(5):
        call(reactor_thread, admin, "routercluster.create", {"name": f"page-{i}"})
    seen, after = [], None
    while True:
        page = call(reactor_thread, admin, "routercluster.list", limit=2, after=after)
        assert len(page["items"]) <= 2
        seen += [c["name"] for c in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert [n for n in seen if n.startswith("page-")] == [f"page-{i}" for i in range(5)]


def test_changes_are_published_on_topics(reactor_thread, admin, router, tickets):
    received: list = []
    got = defer.Deferred()

    def on_event(record):
        received.append(record)
        if not got.called:
            got.callback(record)

    reactor_thread.call(admin.subscribe, on_event, P + "organization.on_created")
    org = call(reactor_thread, admin, "organization.create", {"name": "acme-e2e"})
    event = reactor_thread.call(lambda: got, timeout=10)
    assert event["oid"] == org["oid"] and event["name"] == "acme-e2e"


class Recorder:
    """Events received on topics, with a wait for a condition on them."""

    def __init__(self, rt, session, *topics):
        self.events: list = []
        for topic in topics:
            rt.call(session.subscribe, lambda record, t=topic: self.events.append((t, record)), P + topic)

    def named(self, topic, name):
        return [r for t, r in list(self.events) if t == topic and r.get("name") == name]

    def wait(self, topic, name, what):
        return wait_for(lambda: self.named(topic, name), 10, what)[0]


def test_a_change_made_by_the_cli_is_published(reactor_thread, admin, router):
    events = Recorder(reactor_thread, admin, "role.on_created", "role.on_deleted")
    db = str(router.cbdir / DB)
    result = run_cli("roles", "add", "cli-made", "--db", db)
    assert result.returncode == 0, result.stderr
    made = events.wait("role.on_created", "cli-made", "the event of the CLI's change")
    assert made["oid"] == call(reactor_thread, admin, "role.get_by", "cli-made")["oid"]
    assert run_cli("roles", "remove", "cli-made", "--yes", "--db", db).returncode == 0
    assert events.wait("role.on_deleted", "cli-made", "the event of the CLI's delete")["oid"] == made["oid"]


def test_a_change_through_the_api_is_published_exactly_once(reactor_thread, admin):
    events = Recorder(reactor_thread, admin, "organization.on_created")
    call(reactor_thread, admin, "organization.create", {"name": "once-1"})
    events.wait("organization.on_created", "once-1", "the first event")
    # Events of one publisher arrive in order: once the next change is heard, a second copy of the
    # first would have arrived before it.
    call(reactor_thread, admin, "organization.create", {"name": "once-2"})
    events.wait("organization.on_created", "once-2", "the second event")
    assert len(events.named("organization.on_created", "once-1")) == 1


def test_a_change_by_another_process_through_the_service_layer_is_published(reactor_thread, admin, node_db):
    events = Recorder(reactor_thread, admin, "webcluster.on_created")
    Management(node_db).webclusters.create(name="from-a-service")  # this test process, not the router
    assert events.wait("webcluster.on_created", "from-a-service", "the event")["name"] == "from-a-service"


def test_an_aborted_change_is_not_published(reactor_thread, admin, node_db):
    events = Recorder(reactor_thread, admin, "webcluster.on_created")
    mgmt = Management(node_db)
    with pytest.raises(RuntimeError):
        with node_db.begin(write=True) as txn:
            mgmt.webclusters.create(txn, name="aborted")
            raise RuntimeError("changed my mind")
    mgmt.webclusters.create(name="after-abort")
    events.wait("webcluster.on_created", "after-abort", "the event of the committed change")
    assert events.named("webcluster.on_created", "aborted") == []


def test_records_deleted_by_a_cascade_are_published(reactor_thread, admin):
    got: defer.Deferred = defer.Deferred()
    reactor_thread.call(admin.subscribe, lambda record: got.called or got.callback(record),
                        P + "permission.on_deleted")
    role = call(reactor_thread, admin, "role.create", {"name": "cascade-role"})
    perm = call(reactor_thread, admin, "permission.create", {"role_oid": role["oid"], "uri": "com.cascade."})
    call(reactor_thread, admin, "role.delete", role["oid"])
    assert reactor_thread.call(lambda: got, timeout=10)["oid"] == perm["oid"]


def test_bad_input_is_a_wamp_error_naming_the_field_and_writes_nothing(reactor_thread, admin):
    err = error_of(reactor_thread, admin, "permission.create", {"role_oid": "not-a-uuid", "uri": "a."})
    assert err.error == "cfxstore.error.invalid_argument" and "role_oid" in err.args[0]
    err = error_of(reactor_thread, admin, "role.create", {"name": "has space"})
    assert err.error == "cfxstore.error.invalid_argument" and "name" in err.args[0]
    err = error_of(reactor_thread, admin, "role.create", {"name": "x", "colour": "red"})
    assert "colour" in err.args[0]
    err = error_of(reactor_thread, admin, "role.create")
    assert err.error == "cfxstore.error.invalid_argument"
    err = error_of(reactor_thread, admin, "role.list", limit=0)
    assert "limit" in err.args[0]
    names = [r["name"] for r in call(reactor_thread, admin, "role.list")["items"]]
    assert "has space" not in names and "x" not in names


def test_integrity_errors_travel_as_wamp_errors(reactor_thread, admin):
    realm = call(reactor_thread, admin, "arealm.create", {"name": "integrity-realm"})
    role = call(reactor_thread, admin, "role.create", {"name": "integrity-role"})
    call(reactor_thread, admin, "arealm_role.create", {"arealm_oid": realm["oid"], "role_oid": role["oid"]})
    err = error_of(reactor_thread, admin, "role.delete", role["oid"])
    assert err.error == "cfxstore.error.in_use" and "integrity-role" in err.args[0]
    err = error_of(reactor_thread, admin, "arealm.create", {"name": "integrity-realm"})
    assert err.error == "cfxstore.error.already_exists"


def test_principal_secrets_are_hashed_and_usable_for_login(reactor_thread, admin, router, node_db):
    p = call(reactor_thread, admin, "principal.create", {"realm": "realm1", "authid": "carol", "role": "user"},
             ticket="carol-secret-ticket")
    assert "carol-secret-ticket" not in repr(p)
    creds = call(reactor_thread, admin, "principal.credentials", p["oid"])
    assert [c["authmethod"] for c in creds] == ["ticket"]
    session = reactor_thread.call(login, router.port, realm="realm1", authmethods=["ticket"], authid="carol",
                                  ticket="carol-secret-ticket").session
    reactor_thread.call(leave, session)
    # The database file never holds the ticket itself.
    assert b"carol-secret-ticket" not in (router.cbdir / DB / "data.mdb").read_bytes()


def test_only_admin_roles_may_call(reactor_thread, router, tickets):
    session = _login(reactor_thread, router, tickets, "viewer")
    try:
        with pytest.raises(ApplicationError) as info:
            reactor_thread.call(session.call, P + "role.list")
        assert info.value.error == "cfxstore.error.not_authorized" and "auditor" in info.value.args[0]
    finally:
        reactor_thread.call(leave, session)


def test_permissions_changed_through_the_api_apply_to_a_joined_session(reactor_thread, admin, router, tickets):
    alice = _login(reactor_thread, router, tickets, "alice", realm="realm1")
    try:
        assert denied(reactor_thread, alice, "com.live.add")
        realm = call(reactor_thread, admin, "arealm.create", {"name": "realm1"})
        role = call(reactor_thread, admin, "role.create", {"name": "app"})
        call(reactor_thread, admin, "arealm_role.create", {"arealm_oid": realm["oid"], "role_oid": role["oid"]})
        perm = call(reactor_thread, admin, "permission.create",
                    {"role_oid": role["oid"], "uri": "com.live.", "match": "prefix", "allow_register": True})
        wait_for(lambda: not denied(reactor_thread, alice, "com.live.add"), 1.0, "the grant to apply")
        call(reactor_thread, admin, "permission.update", perm["oid"], {"allow_register": False})
        wait_for(lambda: denied(reactor_thread, alice, "com.live.add"), 1.0, "the change to apply")
        call(reactor_thread, admin, "permission.update", perm["oid"], {"allow_register": True})
        wait_for(lambda: not denied(reactor_thread, alice, "com.live.add"), 1.0, "the grant to apply again")
        call(reactor_thread, admin, "permission.delete", perm["oid"])
        wait_for(lambda: denied(reactor_thread, alice, "com.live.add"), 1.0, "the revocation to apply")
    finally:
        reactor_thread.call(leave, alice)


def _app_role(mgmt: Management):
    """Role "app" on realm1 (an earlier test may have made it through the API)."""
    from cfxstore.management.errors import NotFound

    try:
        return mgmt.roles.get_by("app")
    except NotFound:
        def create(txn):
            role = mgmt.roles.create(txn, name="app")
            mgmt.arealm_roles.create(txn, arealm_oid=mgmt.arealms.create(txn, name="realm1").oid, role_oid=role.oid)
            return role
        return mgmt.write(None, create)


def test_changes_by_another_process_apply_within_a_second(reactor_thread, admin, router, tickets, node_db):
    alice = _login(reactor_thread, router, tickets, "alice", realm="realm1")
    try:
        mgmt = Management(node_db)  # this test process, not the router
        role = _app_role(mgmt)
        assert denied(reactor_thread, alice, "com.other.add")
        perm = mgmt.permissions.create(role_oid=role.oid, uri="com.other.add", allow_register=True)
        wait_for(lambda: not denied(reactor_thread, alice, "com.other.add"), 1.0, "the grant to apply")
        mgmt.permissions.delete(perm.oid)
        wait_for(lambda: denied(reactor_thread, alice, "com.other.add"), 1.0, "the revocation to apply")
    finally:
        reactor_thread.call(leave, alice)


def test_session_history_and_cookie_revocation_through_the_api(reactor_thread, admin, router, tickets):
    rt = reactor_thread
    alice = rt.call(login, router.port, realm="realm1", authmethods=["ticket"], authid="alice",
                    ticket=tickets["alice"])
    session_id = alice.details.session
    try:
        sessions = wait_for(lambda: [s for s in call(rt, admin, "session.by_authid", "alice")
                                     if s["session_id"] == session_id], 10, "the session to be stored")
        assert sessions[0]["realm"] == "realm1" and sessions[0]["joined_at"].endswith("Z")
        assert call(rt, admin, "session.get", session_id)["authid"] == "alice"
        assert error_of(rt, admin, "session.get", "one").error == "cfxstore.error.invalid_argument"
        assert alice.cookie is not None
        revoked = call(rt, admin, "cookie.revoke_by_authid", "alice")
        assert revoked["authid"] == "alice" and revoked["cookies_deleted"] >= 1
        # Inside the router worker the connections that used the cookies are closed too.
        assert revoked["connections_closed"] >= 1
        rt.call(lambda: alice.session.left, timeout=10)
    finally:
        rt.call(leave, alice.session)
