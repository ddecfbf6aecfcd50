"""Authentication hardening end to end: a real router process and real Autobahn clients."""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid

import pytest
from argon2 import PasswordHasher, Type
from autobahn.wamp.types import ComponentConfig
from twisted.internet import defer

from cfxstore.credentials.hashing import FAST_TAG
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from router_harness import init_node, run_cli, running, throttled
from router_wampclient import AsciiJsonSerializer, Client, Denied, leave, login

REALM = "realm1"
# A long attempt_timeout: a login held back by someone else's unanswered challenge would time out the test.
# No peer limit: every client here is 127.0.0.1 (tests/router/test_router_proxy_e2e.py tests that limit).
THROTTLE = {"free_failures": 3, "base_delay": 3.0, "attempt_timeout": 300.0, "deny_delay": 1.0,
            "max_tracked": 50, "peer_free_failures": None}


@pytest.fixture(scope="module")
def router(tmp_path_factory, reactor_thread):
    with running(init_node(tmp_path_factory.mktemp("authnode"), throttled(THROTTLE))) as node:
        yield node


@pytest.fixture(scope="module")
def credentials(router):
    db = open_database(str(router.cbdir / "cfxstore-db"))
    yield CredentialService(db, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID),
                            wampcra_iterations=1000)
    db.close()


@pytest.fixture(scope="module")
def principals(credentials):
    return Management(credentials.db, credentials=credentials).principals


def new_authid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def stored_ticket_hash(credentials, authid):
    with credentials.db.begin() as txn:
        cred = credentials.schema.credentials.get_by_index(txn, "idx_credentials_by_auth", ("ticket", REALM, authid))
    return cred.authconfig["hash"]


def ticket_login(rt, router, authid, ticket):
    return rt.call(login, router.port, authmethods=["ticket"], authid=authid, ticket=ticket)


def test_generated_ticket_from_add_principal_is_fast_hashed_and_logs_in(reactor_thread, router, credentials):
    authid = new_authid("gen")
    result = run_cli("router", "add-principal", "--cbdir", str(router.cbdir), "--role", "user", authid)
    assert result.returncode == 0, result.stderr
    ticket = re.search(r"shown only this once\): (\S+)", result.stdout).group(1)
    assert stored_ticket_hash(credentials, authid).startswith(FAST_TAG)
    session = ticket_login(reactor_thread, router, authid, ticket)
    assert session.details.authid == authid
    reactor_thread.call(leave, session.session)


def test_operator_chosen_ticket_is_argon2id_hashed_and_logs_in(reactor_thread, router, credentials):
    authid = new_authid("chosen")
    result = run_cli("router", "add-principal", "--cbdir", str(router.cbdir), "--role", "user",
                     "--choose-ticket", authid, input="an operator's choice\n")
    assert result.returncode == 0, result.stderr
    assert stored_ticket_hash(credentials, authid).startswith("$argon2id$")
    session = ticket_login(reactor_thread, router, authid, "an operator's choice")
    reactor_thread.call(leave, session.session)


def burst(rt, router, authid, tickets):
    """All logins at once; the denial message of each (or "ok")."""
    def run():
        def one(ticket):
            d = login(router.port, authmethods=["ticket"], authid=authid, ticket=ticket)
            d.addCallback(lambda result: (leave(result.session), "ok")[1])
            return d.addErrback(lambda f: f.value.message if isinstance(f.value, Denied) else repr(f.value))
        return defer.gatherResults([one(t) for t in tickets])
    return rt.call(run, timeout=60)


def test_a_burst_of_20_wrong_tickets_gets_at_most_3_evaluated(reactor_thread, router, principals):
    authid, ticket = new_authid("burst"), secrets.token_urlsafe(16)
    principals.create(realm=REALM, authid=authid, role="user", ticket=ticket)
    results = burst(reactor_thread, router, authid, [f"guess{i}" for i in range(20)])
    assert sum(r == "invalid authid or ticket" for r in results) <= 3
    assert all(r == "invalid authid or ticket" or "too many failed attempts" in r for r in results)
    # ... and the account is now locked, even for the right ticket.
    assert "too many failed attempts" in burst(reactor_thread, router, authid, [ticket])[0]


class Prober(Client):
    """A WAMP-CRA client that records the CHALLENGE extra and answers it wrongly."""

    def onChallenge(self, challenge):
        self.challenge = dict(challenge.extra)
        return "not-a-signature"


def probe(rt, router, authid):
    """The CHALLENGE extra the router sends for authid (the login then fails)."""
    from autobahn.twisted.websocket import WampWebSocketClientFactory
    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint

    session = Prober(ComponentConfig(REALM), authmethods=["wampcra"], authid=authid, ticket=None, secret=None)

    @defer.inlineCallbacks
    def run():
        factory = WampWebSocketClientFactory(lambda: session, url=f"ws://127.0.0.1:{router.port}/")
        yield TCP4ClientEndpoint(reactor, "127.0.0.1", router.port).connect(factory)
        try:
            yield session.joined
        except Denied:
            pass
        return session.challenge

    return rt.call(run)


def test_unknown_wampcra_authid_gets_a_challenge_like_a_real_one(reactor_thread, router, principals):
    real = new_authid("cra")
    principal = principals.create(realm=REALM, authid=real, role="user")
    principals.set_secret(principal.oid, "wampcra", "pw", iterations=600_000)
    known, ghost = probe(reactor_thread, router, real), probe(reactor_thread, router, new_authid("ghost"))
    assert set(known) == set(ghost) == {"challenge", "salt", "iterations", "keylen"}
    assert (known["iterations"], known["keylen"]) == (ghost["iterations"], ghost["keylen"])
    assert len(known["salt"]) == len(ghost["salt"])
    assert set(json.loads(ghost["challenge"])) == set(json.loads(known["challenge"]))


def test_unknown_wampcra_authid_gets_the_same_salt_every_time(reactor_thread, router):
    ghost = new_authid("ghost")
    assert probe(reactor_thread, router, ghost)["salt"] == probe(reactor_thread, router, ghost)["salt"]


class Silent(Client):
    """Receives the challenge and never answers it."""

    def onChallenge(self, challenge):
        self.challenged.callback(None)
        return defer.Deferred()


def test_an_abandoned_challenge_does_not_lock_the_user_out(reactor_thread, router, principals):
    from autobahn.twisted.websocket import WampWebSocketClientFactory
    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint

    authid, secret = new_authid("carol"), "carol's secret"
    principal = principals.create(realm=REALM, authid=authid, role="user")
    principals.set_secret(principal.oid, "wampcra", secret, iterations=1000)
    silent = Silent(ComponentConfig(REALM), authmethods=["wampcra"], authid=authid, ticket=None, secret=None)
    silent.challenged = defer.Deferred()
    silent.joined.addErrback(lambda failure: failure.trap(Denied))  # it never joins, by design

    @defer.inlineCallbacks
    def abandon():
        factory = WampWebSocketClientFactory(lambda: silent, url=f"ws://127.0.0.1:{router.port}/")
        proto = yield TCP4ClientEndpoint(reactor, "127.0.0.1", router.port).connect(factory)
        yield silent.challenged
        proto.transport.loseConnection()

    reactor_thread.call(abandon)
    # One challenge left unanswered plus three wrong signatures: the abandoned challenge counts for
    # nothing, the third failure starts an ordinary lockout (base_delay, 3 s), then the right secret logs in.
    for _ in range(3):
        with pytest.raises(Denied):
            reactor_thread.call(login, router.port, authmethods=["wampcra"], authid=authid, secret="wrong")
    deadline = time.monotonic() + 20
    while True:
        try:
            result = reactor_thread.call(login, router.port, authmethods=["wampcra"], authid=authid, secret=secret)
            break
        except Denied as denied:
            assert "too many failed attempts" in denied.message
            assert time.monotonic() < deadline, "the user stayed locked out"
            time.sleep(0.2)
    assert result.details.authid == authid
    reactor_thread.call(leave, result.session)


class Paused(Client):
    """A WAMP-CRA client that signals when challenged and answers (rightly) only once ``go`` fires."""

    def onChallenge(self, challenge):
        self.challenged.callback(None)
        return self.go.addCallback(lambda _: super(Paused, self).onChallenge(challenge))


def paused_login(rt, router, authid, secret=None):
    """A WAMP-CRA client of authid that holds its challenge unanswered (connected, on the reactor)."""
    from autobahn.twisted.websocket import WampWebSocketClientFactory
    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint

    client = Paused(ComponentConfig(REALM), authmethods=["wampcra"], authid=authid, ticket=None, secret=secret)
    client.challenged, client.go = defer.Deferred(), defer.Deferred()
    if secret is None:
        client.joined.addErrback(lambda failure: failure.trap(Denied))  # it never joins, by design

    @defer.inlineCallbacks
    def connect():
        factory = WampWebSocketClientFactory(lambda: client, url=f"ws://127.0.0.1:{router.port}/")
        yield TCP4ClientEndpoint(reactor, "127.0.0.1", router.port).connect(factory)
        yield client.challenged

    rt.call(connect)
    return client


def test_unanswered_hellos_for_a_user_never_hold_up_its_logins(reactor_thread, router, principals):
    authid, secret, ticket = new_authid("victim"), "victim's secret", secrets.token_urlsafe(16)
    principal = principals.create(realm=REALM, authid=authid, role="user", ticket=ticket)
    principals.set_secret(principal.oid, "wampcra", secret, iterations=1000)
    attackers = [paused_login(reactor_thread, router, authid) for _ in range(6)]   # challenged, never answering
    # Before, three of these held every login of the victim for attempt_timeout (here 300 s).
    for methods, kw in ((["ticket"], {"ticket": ticket}), (["wampcra"], {"secret": secret})):
        result = reactor_thread.call(login, router.port, authmethods=methods, authid=authid, **kw)
        assert result.details.authid == authid
        reactor_thread.call(leave, result.session)
    for attacker in attackers:
        reactor_thread.call(lambda a=attacker: a.disconnect())


def test_odd_tickets_get_the_wrong_ticket_refusal_and_count(reactor_thread, router, principals):
    authid = new_authid("odd")
    principals.create(realm=REALM, authid=authid, role="user", ticket="a chosen ticket")   # argon2id
    for odd in ("\ud800", "a\x00b", "x" * 1_000_000):
        with pytest.raises(Denied) as denied:
            reactor_thread.call(login, router.port, authmethods=["ticket"], authid=authid, ticket=odd,
                                serializers=[AsciiJsonSerializer()])
        assert denied.value.message == "invalid authid or ticket"
    # Three odd tickets were three failures: the account is locked now.
    with pytest.raises(Denied, match="too many failed attempts"):
        ticket_login(reactor_thread, router, authid, "a chosen ticket")
    assert "surrogates not allowed" not in router.log()


def test_a_correct_signature_succeeds_after_flooding_evicts_its_record(reactor_thread, router, principals):
    authid, secret = new_authid("evicted"), "evicted's secret"
    principal = principals.create(realm=REALM, authid=authid, role="user")
    principals.set_secret(principal.oid, "wampcra", secret, iterations=1000)
    user = paused_login(reactor_thread, router, authid, secret)
    # Fresh authids fill the throttle (max_tracked 50) well past its size while the user's challenge is out.
    results = burst_authids(reactor_thread, router, [new_authid("flood") for _ in range(120)])
    assert set(results) == {"invalid authid or ticket"}
    reactor_thread.call(lambda: user.go.callback(None))
    details = reactor_thread.call(lambda: user.joined)
    assert details.authid == authid
    reactor_thread.call(leave, user)


def burst_authids(rt, router, authids):
    """A wrong ticket for each authid, all at once; the denial message of each."""
    def run():
        def one(authid):
            d = login(router.port, authmethods=["ticket"], authid=authid, ticket="wrong")
            return d.addCallbacks(lambda result: "ok", lambda f: getattr(f.value, "message", repr(f.value)))
        return defer.gatherResults([one(a) for a in authids])
    return rt.call(run, timeout=120)


@pytest.mark.parametrize("method", ["ticket", "wampcra"])
def test_a_secret_changed_on_a_running_node_takes_effect_at_once(reactor_thread, router, principals, method):
    """The authenticator reads the store at every HELLO: no restart, no cache to wait out."""
    authid = new_authid(method)
    principal = principals.create(realm=REALM, authid=authid, role="user")
    principals.set_secret(principal.oid, method, "first secret", **({"iterations": 1000} if method == "wampcra" else {}))

    def attempt(secret):
        return reactor_thread.call(login, router.port, authmethods=[method], authid=authid,
                                   **({"ticket": secret} if method == "ticket" else {"secret": secret}))

    first = attempt("first secret")
    assert first.details.authid == authid
    reactor_thread.call(leave, first.session)
    principals.set_secret(principal.oid, method, "second secret", **({"iterations": 1000} if method == "wampcra" else {}))
    with pytest.raises(Denied):
        attempt("first secret")
    second = attempt("second secret")
    assert second.details.authid == authid
    reactor_thread.call(leave, second.session)
