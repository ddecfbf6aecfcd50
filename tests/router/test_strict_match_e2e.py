"""Strict matching in a real router: a prefix or wildcard subscription or registration is granted only
where the role's permissions allow every URI it can match (realm option ``strict_match``).

One node made by ``router init`` (strict on realm1, as init writes it) with a
second realm "loose" that has the same roles without the option, to show what
Crossbar grants without it; real Autobahn clients subscribe, register and
publish.
"""

from __future__ import annotations

import copy
import itertools

import pytest
from argon2 import PasswordHasher, Type
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions, RegisterOptions, SubscribeOptions

from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.router.managementconfig import add_authorizer
from router_harness import init_node, running, wait_for
from router_wampclient import leave, login
from test_management_e2e import _app_role

DB = "cfxstore-db"
_ALL = {"call": True, "register": True, "publish": True, "subscribe": True}
_ids = itertools.count()


@pytest.fixture(scope="module")
def node(tmp_path_factory, reactor_thread):
    def configure(config: dict) -> None:
        router = config["workers"][0]
        realm1 = router["realms"][0]
        assert realm1["options"] == {"strict_match": True}  # what router init writes
        # "narrow" may subscribe to com.app.x and nothing else; "app" is decided by the store.
        realm1["roles"].append({"name": "narrow", "permissions": [
            {"uri": "com.app.x", "match": "exact", "allow": {**_ALL, "call": False}, "cache": True}]})
        loose = copy.deepcopy(realm1)
        loose["name"] = "loose"
        del loose["options"]
        loose.pop("store")
        router["realms"].append(loose)
        add_authorizer(config, realm="realm1", roles=["app"])

    with running(init_node(tmp_path_factory.mktemp("node"), configure)) as n:
        wait_for(lambda: "cfxstore authorizer" in n.log(), 30, "the authorizer to register")
        yield n


@pytest.fixture(scope="module")
def mgmt(node):
    db = open_database(str(node.cbdir / DB))
    creds = CredentialService(db, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID))
    yield Management(db, credentials=creds)
    db.close()


@pytest.fixture
def join(reactor_thread, node, mgmt):
    """join(realm, role) -> a session of a new principal with that role; all left afterwards."""
    sessions = []

    def make(realm: str, role: str):
        authid = f"{role}-{next(_ids)}"
        mgmt.principals.create(realm=realm, authid=authid, role=role, ticket=f"ticket-of-{authid}")
        session = reactor_thread.call(login, node.port, realm=realm, authmethods=["ticket"], authid=authid,
                                      ticket=f"ticket-of-{authid}").session
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        reactor_thread.call(leave, session)


def _subscribe(rt, session, topic: str, match: str = "exact"):
    """(subscription, received topics) or the WAMP error of a refused subscription."""
    received: list[str] = []
    try:
        sub = rt.call(session.subscribe, lambda *a, details=None: received.append(details.topic or topic), topic,
                      options=SubscribeOptions(match=match, details_arg="details"))
    except ApplicationError as exc:
        return exc
    return sub, received


def _refused(result) -> bool:
    return isinstance(result, ApplicationError) and result.error == ApplicationError.NOT_AUTHORIZED


def _publish(rt, session, topic: str) -> None:
    rt.call(session.publish, topic, options=PublishOptions(acknowledge=True, exclude_me=False))


def test_without_strict_matching_an_exact_permission_grants_a_prefix_that_reaches_other_topics(
        reactor_thread, join):
    rt = reactor_thread
    narrow, admin = join("loose", "narrow"), join("loose", "admin")
    sub, received = _subscribe(rt, narrow, "com.app.x", "prefix")
    _publish(rt, admin, "com.app.x_admin")
    wait_for(lambda: received == ["com.app.x_admin"], 10, "Crossbar's grant to deliver the other topic")


def test_strict_matching_refuses_a_prefix_an_exact_permission_does_not_cover(reactor_thread, join):
    rt = reactor_thread
    narrow, admin = join("realm1", "narrow"), join("realm1", "admin")
    assert _refused(_subscribe(rt, narrow, "com.app.x", "prefix"))
    assert _refused(_subscribe(rt, narrow, "com.app..", "wildcard"))
    # The exact subscription is granted; Crossbar's cache (by URI and action) must not then grant the prefix.
    sub, received = _subscribe(rt, narrow, "com.app.x")
    assert _refused(_subscribe(rt, narrow, "com.app.x", "prefix"))
    _publish(rt, admin, "com.app.x_admin")
    _publish(rt, admin, "com.app.x")
    wait_for(lambda: received == ["com.app.x"], 10, "the exact subscription's event")


def test_the_default_user_role_cannot_reach_cfxstore_topics_or_procedures_by_a_pattern(reactor_thread, join):
    rt = reactor_thread
    user, admin = join("realm1", "user"), join("realm1", "admin")
    for topic, match in (("", "prefix"), ("cfx", "prefix"), ("..revoke_by_authid", "wildcard")):
        assert _refused(_subscribe(rt, user, topic, match)), (topic, match)
        with pytest.raises(ApplicationError) as info:
            rt.call(user.register, lambda: None, topic, options=RegisterOptions(match=match))
        assert info.value.error == ApplicationError.NOT_AUTHORIZED
    # Patterns the permissions cover are granted as before.
    sub, received = _subscribe(rt, user, "com.example.", "prefix")
    wild, wild_received = _subscribe(rt, user, "com..news", "wildcard")
    _publish(rt, admin, "com.example.news")
    wait_for(lambda: received == ["com.example.news"] and wild_received == ["com.example.news"], 10,
             "the covered subscriptions' events")
    registration = rt.call(user.register, lambda: None, "com.example.", options=RegisterOptions(match="prefix"))
    rt.call(registration.unregister)


def test_the_store_backed_authorizer_answers_the_strict_question(reactor_thread, join, mgmt):
    rt = reactor_thread

    role = _app_role(mgmt)
    mgmt.permissions.create(role_oid=role.oid, uri="com.app.x", match="exact", allow_subscribe=True)
    mgmt.permissions.create(role_oid=role.oid, uri="com.wide.", match="prefix", allow_subscribe=True)
    app = join("realm1", "app")
    assert _refused(_subscribe(rt, app, "com.app.x", "prefix"))
    assert not isinstance(_subscribe(rt, app, "com.app.x"), ApplicationError)
    assert not isinstance(_subscribe(rt, app, "com.wide.x", "prefix"), ApplicationError)
