"""Per-client limits behind a reverse proxy: a real proxy process in front of a real router, Autobahn clients.

Clients connect to the proxy from different loopback addresses (127.0.0.5, 127.0.0.6, ...); the proxy
connects to the router from 127.0.0.1, the one trusted proxy, and appends each client's address to
X-Forwarded-For (xffproxy.py).
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type

from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from router_harness import free_port, init_node, running, throttled
from router_wampclient import Denied, leave, login

REALM = "realm1"
THROTTLE = {"free_failures": 3, "peer_free_failures": 3, "base_delay": 60.0, "deny_delay": 0.1,
            "trusted_proxies": ["127.0.0.1/32"]}
ATTACKER, USER, OTHER = "127.0.0.5", "127.0.0.6", "127.0.0.7"


@pytest.fixture(scope="module")
def router(tmp_path_factory, reactor_thread):
    with running(init_node(tmp_path_factory.mktemp("proxynode"), throttled(THROTTLE))) as node:
        yield node


@pytest.fixture(scope="module")
def proxy(router):
    port = free_port()
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("xffproxy.py")), str(port),
                                str(router.port)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        yield port
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def principals(router):
    db = open_database(str(router.cbdir / "cfxstore-db"))
    credentials = CredentialService(db, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1,
                                                              type=Type.ID))
    yield Management(db, credentials=credentials).principals
    db.close()


def ticket_login(rt, port, authid, ticket, bind, headers=None):
    return rt.call(login, port, authmethods=["ticket"], authid=authid, ticket=ticket, bind=bind, headers=headers)


def refusal(rt, port, bind, headers=None) -> str:
    """The denial of a wrong ticket for a fresh authid, from address bind."""
    with pytest.raises(Denied) as denied:
        ticket_login(rt, port, f"nobody-{uuid.uuid4().hex[:8]}", "wrong", bind, headers)
    return denied.value.message


def test_one_client_locked_behind_the_proxy_does_not_lock_the_others(reactor_thread, router, proxy, principals):
    authid, ticket = f"user-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(24)
    principals.create(realm=REALM, authid=authid, role="user", ticket=ticket, generated=True)
    for _ in range(3):                                     # the attacker's free failures, across authids
        assert refusal(reactor_thread, proxy, ATTACKER) == "invalid authid or ticket"
    assert "peer address" in refusal(reactor_thread, proxy, ATTACKER)
    # What the attacker writes into X-Forwarded-For itself changes nothing: the proxy appends its address.
    assert "peer address" in refusal(reactor_thread, proxy, ATTACKER, {"X-Forwarded-For": USER})
    # ... nor does it help to go round the proxy: a client that is not a trusted proxy names no one.
    assert "peer address" in refusal(reactor_thread, router.port, ATTACKER, {"X-Forwarded-For": OTHER})
    # Another client behind the same proxy logs in (before, all of them were the proxy's one address).
    session = ticket_login(reactor_thread, proxy, authid, ticket, USER)
    assert session.details.authid == authid
    reactor_thread.call(leave, session.session)
    assert refusal(reactor_thread, proxy, OTHER) == "invalid authid or ticket"
