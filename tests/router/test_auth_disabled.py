"""A disabled principal is refused by every login method exactly like a wrong secret: the same challenge, the
same message, counted by the throttle, answered at the same fixed delay (the function authenticator on a real
reactor and on a deterministic clock)."""

from __future__ import annotations

import secrets
import threading

import pytest
from nacl.signing import SigningKey
from twisted.internet import defer, reactor

from cfxstore.credentials import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.node.config import AuthConfig, DatabaseConfig, ScramConfig, ThrottleConfig, WampcraConfig
from cfxstore.router.auth import BUSY, Authenticator
from cfxstore.router.dbcalls import DatabaseCalls
from cfxstore.router.outcome import OUTCOME_HOOK
from test_auth import CHEAP, ClockReactor, answered_at, details
from test_auth_scram_tls import scram_details, tls_details
from tlscerts import issue

REALM = "realm1"
GENERATED = secrets.token_urlsafe(24)
KEY = SigningKey.generate().verify_key.encode().hex()
CLIENT, STRANGER = issue("device-1"), issue("stranger")
#: Each method's principal, and what a wrong secret of that method is told.
AUTHIDS = {"generated ticket": "gen", "chosen ticket": "chosen", "wampcra": "cra", "scram": "sam", "tls": "device-1",
           "cryptosign": "cs"}
WRONG = {"generated ticket": "invalid authid or ticket", "chosen ticket": "invalid authid or ticket",
         "wampcra": "WAMP-CRA client signature is invalid", "scram": "SCRAM authentication failed",
         "tls": "invalid authid or client certificate", "cryptosign": "WAMP-cryptosign signature is invalid"}
CHALLENGED = ("wampcra", "scram", "cryptosign")


@pytest.fixture
def creds(tmp_path):
    database = open_database(str(tmp_path / "db"))
    yield CredentialService(database, hasher=CHEAP, wampcra_iterations=1000)
    database.close()


@pytest.fixture
def principals(creds):
    principals = Management(creds.db, credentials=creds).principals
    principals.create(realm=REALM, authid="gen", role="user", ticket=GENERATED, generated=True)
    principals.create(realm=REALM, authid="chosen", role="user", ticket="a chosen ticket")
    principals.create(realm=REALM, authid="cra", role="user", wampcra="cra secret")
    principals.create(realm=REALM, authid="sam", role="user", scram="scram password")
    principals.create(realm=REALM, authid="device-1", role="user", tls={"sha256": CLIENT.sha256})
    principals.add_key(principals.create(realm=REALM, authid="cs", role="user").oid, KEY)
    return principals


def make_auth(creds, clock=None, **throttle) -> Authenticator:
    config = AuthConfig(database=DatabaseConfig(), wampcra=WampcraConfig(iterations=1000),
                        scram=ScramConfig(decoy_role="member"),
                        throttle=ThrottleConfig(**{"deny_delay": 0.0, "free_failures": 10,
                                                   "peer_free_failures": None, **throttle}))
    if clock is None:
        return Authenticator(creds, config, reactor)
    # Driven by the clock, not a running reactor: credentials are read on the calling thread.
    return Authenticator(creds, config, clock, calls=DatabaseCalls(creds.db, clock, inline=True))


def hello(auth, method):
    """The challenge a HELLO of method's principal gets (WAMP-CRA, WAMP-SCRAM, WAMP-cryptosign)."""
    authid = AUTHIDS[method]
    if method == "wampcra":
        return auth(REALM, authid, details("wampcra"))
    if method == "scram":
        return auth(REALM, authid, scram_details())
    return auth(REALM, authid, {"authmethod": "cryptosign", "transport": {"peer": "tcp4:10.0.0.1:4711"},
                                "authextra": {"pubkey": KEY}})


def start(auth, method, right, challenge=None) -> defer.Deferred:
    """One login attempt of method's principal, with its right secret or a wrong one."""
    authid = AUTHIDS[method]
    if method == "generated ticket":
        return defer.maybeDeferred(auth, REALM, authid, details(ticket=GENERATED if right else "wrong"))
    if method == "chosen ticket":
        return defer.maybeDeferred(auth, REALM, authid, details(ticket="a chosen ticket" if right else "wrong"))
    if method == "tls":
        return defer.maybeDeferred(auth, REALM, authid, tls_details(CLIENT if right else STRANGER))
    d = defer.maybeDeferred(hello, auth, method) if challenge is None else defer.succeed(challenge)
    return d.addCallback(lambda challenged: challenged[OUTCOME_HOOK](right))


def attempt(rt, auth, method, right, challenge=None):
    """"accepted", or the refusal's message."""
    def run():
        return start(auth, method, right, challenge).addCallbacks(
            lambda accepted: "accepted" if accepted else repr(accepted), lambda f: f.value.args[0])
    return rt.call(run, timeout=60)


def challenge_of(rt, auth, method) -> dict:
    """The challenge a client of method is sent, as it sees it (the outcome hook is the router's own)."""
    challenge = rt.call(lambda: hello(auth, method))
    return {k: v for k, v in challenge.items() if k != OUTCOME_HOOK}


def failures(auth, method):
    record = auth.throttle.authids._records.get((REALM, AUTHIDS[method]))
    return 0 if record is None else record.failures


@pytest.mark.parametrize("method", AUTHIDS)
def test_a_disabled_principal_is_refused_like_a_wrong_secret_until_enabled(reactor_thread, creds, principals,
                                                                            method):
    auth = make_auth(creds)
    principal = principals.get_by((REALM, AUTHIDS[method]))
    challenged = method in CHALLENGED
    before = challenge_of(reactor_thread, auth, method) if challenged else None
    assert attempt(reactor_thread, auth, method, True) == "accepted"
    assert attempt(reactor_thread, auth, method, False) == WRONG[method]
    assert failures(auth, method) == 1
    principals.disable(principal.oid)
    # The same challenge as before (its real salt, keys or public key), then the wrong secret's refusal, counted.
    if challenged:
        assert challenge_of(reactor_thread, auth, method) == before
    assert attempt(reactor_thread, auth, method, True) == WRONG[method]
    assert failures(auth, method) == 2
    principals.enable(principal.oid)
    assert attempt(reactor_thread, auth, method, True) == "accepted"


@pytest.mark.parametrize("method", CHALLENGED)
def test_a_principal_disabled_while_challenged_is_refused(reactor_thread, creds, principals, method):
    auth = make_auth(creds)
    challenge = reactor_thread.call(lambda: hello(auth, method))
    principals.disable(principals.get_by((REALM, AUTHIDS[method])).oid)
    assert attempt(reactor_thread, auth, method, True, challenge) == WRONG[method]
    assert failures(auth, method) == 1


def test_a_disabled_principal_is_answered_at_the_fixed_delay_like_a_wrong_secret(creds, principals):
    clock = ClockReactor()
    auth = make_auth(creds, clock, deny_delay=0.5)
    for method in ("generated ticket", "wampcra"):
        assert answered_at(clock, start(auth, method, False)) == (0.5, WRONG[method])
        principals.disable(principals.get_by((REALM, AUTHIDS[method])).oid)
        assert answered_at(clock, start(auth, method, True)) == (0.5, WRONG[method])


def test_while_the_argon2_pool_is_full_a_disabled_principal_is_answered_like_a_wrong_ticket(reactor_thread, creds,
                                                                                             principals):
    auth = make_auth(creds, max_verifying=1, max_waiting=1)
    principals.disable(principals.get_by((REALM, "gen")).oid)
    gate = threading.Event()
    reactor_thread.call(lambda: [auth.pool.run(gate.wait, 30) for _ in range(2)] and None)
    try:
        assert attempt(reactor_thread, auth, "generated ticket", True) == BUSY
        assert attempt(reactor_thread, auth, "generated ticket", False) == BUSY
    finally:
        gate.set()
