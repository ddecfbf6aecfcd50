"""The store-backed authorizer while its PostgreSQL database is unreachable: closed at once, and generic.

A real router whose role "app" is authorized by the store (the authorizer
component, cfxstore/router/authorizer.py) reaches PostgreSQL through a TCP
proxy the test cuts (pgproxy.py). The URL's timeout is long (60 s), so an
authorizer that waited for the database would not answer within the
deadlines here; and Crossbar sends a failed authorization's text to the
client, so the answers are checked for every part of the URL.
"""

from __future__ import annotations

import uuid

import pytest
from autobahn.wamp.exception import ApplicationError

import pg
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.router.authorizer import STORE
from cfxstore.router.availability import STORE_UNAVAILABLE
from cfxstore.router.managementconfig import add_authorizer
from router_harness import init_node, running, wait_for
from router_wampclient import leave, login
from test_cluster_e2e import PASSWORD, _principal
from test_management_e2e import _app_role
from test_cluster_outage import pg_url, proxy  # noqa: F401 - fixtures: a private schema, the proxy to it

# Long enough that waiting for a connection cannot pass for an answer.
URL_TIMEOUT = 60
ANSWER_WITHIN = 15
UNREACHABLE = "database unreachable, refusing what needs it"
# Ignored by a connection without a client key; there to prove no log line shows it.
SSL_PASSWORD = "n0t-in-any-log-either"


@pytest.fixture(scope="module")
def node(tmp_path_factory, reactor_thread, pg_url, proxy):
    with open_database(pg_url) as db:
        mgmt = Management(db)
        role = _app_role(mgmt)
        mgmt.permissions.create(role_oid=role.oid, uri="com.app.", match="prefix", allow_register=True,
                                allow_call=True, allow_publish=True, allow_subscribe=True)
    url = f"{proxy.url()}&timeout={URL_TIMEOUT}&sslpassword={SSL_PASSWORD}"
    with running(init_node(tmp_path_factory.mktemp("node"),
                           lambda config: add_authorizer(config, realm="realm1", roles=["app"]),
                           pg.on_postgres(url))) as n:
        wait_for(lambda: "cfxstore authorizer" in n.log(), 30, "the authorizer to register")
        yield n
    assert PASSWORD not in n.log() and SSL_PASSWORD not in n.log() and "&sslpassword=" in n.log()


@pytest.fixture
def app_session(reactor_thread, node, pg_url):
    authid, ticket = _principal(pg_url, "app")
    session = reactor_thread.call(login, node.port, authmethods=["ticket"], authid=authid, ticket=ticket).session
    yield session
    reactor_thread.call(leave, session)


def _register(rt, session, uri: str):
    """None if the router let session register uri (undone at once), else the WAMP error."""
    try:
        registration = rt.call(session.register, lambda: None, uri, timeout=ANSWER_WITHIN)
    except ApplicationError as exc:
        return exc
    rt.call(registration.unregister)
    return None


def test_an_outage_fails_authorization_closed_at_once_without_showing_the_url(reactor_thread, node, proxy,
                                                                              pg_url, app_session):
    rt = reactor_thread
    assert _register(rt, app_session, "com.app.before") is None  # the store decides while it answers
    downs = node.log().count(UNREACHABLE)
    proxy.cut()
    try:
        first = _register(rt, app_session, "com.app.first")  # may be the one that finds the database gone
        wait_for(lambda: node.log().count(UNREACHABLE) > downs, ANSWER_WITHIN, "the node to notice the outage")
        # A request racing the cut may still reach the database; every one after the node noticed may not.
        errors = [e for e in [first] if e is not None] + [
            _register(rt, app_session, f"com.app.during{i}") for i in range(3)]
        # A decision cached before the outage is not trusted past its recheck either.
        errors.append(wait_for(lambda: _register(rt, app_session, "com.app.before"), ANSWER_WITHIN,
                               "the cached decision to be refused"))
    finally:
        proxy.restore()
    schema = pg_url.rsplit("schema=", 1)[-1]
    for error in errors:
        assert isinstance(error, ApplicationError), error
        text = " ".join(map(str, error.args))
        assert error.error == ApplicationError.AUTHORIZATION_FAILED
        assert STORE_UNAVAILABLE in text and f"the {STORE} is unavailable; retry later" in text
        for part in ("postgres", PASSWORD, SSL_PASSWORD, schema, str(proxy.port), "127.0.0.1"):
            assert part not in text, text
    # Back by itself once the database answers.
    wait_for(lambda: _register(rt, app_session, f"com.app.after{uuid.uuid4().hex[:6]}") is None, 30,
             "authorization to work again")
