"""The function authenticator on a real reactor: throttle, bounded argon2 pool, fast tickets, WAMP-CRA decoys."""

from __future__ import annotations

import re
import secrets
import threading
import time

import pytest
from argon2 import PasswordHasher, Type
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, reactor
from twisted.internet.task import Clock

from cfxstore.credentials import CredentialService
from cfxstore.database import open_database
from cfxstore.errors import InvalidArgument
from cfxstore.management import Management
from cfxstore.node.config import AuthConfig, DatabaseConfig, ThrottleConfig, WampcraConfig
from cfxstore.router.auth import Authenticator
from cfxstore.router.throttle import LoginThrottle
from cfxstore.router.dbcalls import DatabaseCalls
from cfxstore.router.verifypool import VerifyPool
from cfxstore.router.outcome import OUTCOME_HOOK
from cfxstore.router.wampcra import DERIVED_FLAG
from router_harness import wait_for

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)
REALM = "realm1"


@pytest.fixture
def db(tmp_path):
    database = open_database(str(tmp_path / "db"))
    yield database
    database.close()


@pytest.fixture
def creds(db):
    return CredentialService(db, hasher=CHEAP, wampcra_iterations=1000)


def make_auth(creds, clock=None, inline_reads=False, calls=None, **throttle) -> Authenticator:
    """``inline_reads``: credentials read on the reactor thread, so that a burst reaches the argon2 pool in
    one turn of the reactor (a router reads them in threads: the pool then sees them as their reads end)."""
    config = AuthConfig(database=DatabaseConfig(), throttle=ThrottleConfig(**{"deny_delay": 0.0, **throttle}),
                        wampcra=WampcraConfig(iterations=1000))
    limiter = LoginThrottle(config.throttle, clock) if clock is not None else None
    if inline_reads:
        calls = DatabaseCalls(creds.db, reactor, inline=True)
    return Authenticator(creds, config, reactor, throttle=limiter, calls=calls,
                         pool=VerifyPool(reactor, config.throttle.max_verifying, config.throttle.max_waiting))


def details(method="ticket", ticket=None, peer="tcp4:10.0.0.1:4711"):
    return {"authmethod": method, "ticket": ticket, "transport": {"peer": peer}}


def outcomes(rt, calls) -> list:
    """Run every authenticate call at once on the reactor; a principal dict or the error message of each."""
    def run():
        ds = [defer.maybeDeferred(auth, realm, authid, det) for auth, realm, authid, det in calls]
        return defer.gatherResults([d.addErrback(lambda f: f.value.args[0] if isinstance(f.value, ApplicationError)
                                                 else repr(f.value)) for d in ds])
    return rt.call(run, timeout=60)


def add(creds, authid, ticket=None, generated=False, wampcra=None):
    """A principal of REALM with these secrets, written by its owner with creds' hashing."""
    Management(creds.db, credentials=creds).principals.create(realm=REALM, authid=authid, role="user", ticket=ticket,
                                                              generated=generated, wampcra=wampcra)


def add_generated(creds, authid):
    """A principal with a generated ticket (fast hash); returns the ticket."""
    ticket = secrets.token_urlsafe(24)
    add(creds, authid, ticket, generated=True)
    return ticket


def test_a_burst_of_50_wrong_tickets_reaches_the_hash_at_most_free_failures_times(reactor_thread, creds):
    add(creds, "alice", "correct horse")
    auth = make_auth(creds, free_failures=3)
    results = outcomes(reactor_thread, [(auth, REALM, "alice", details(ticket=f"guess{i}")) for i in range(50)])
    assert sum(r == "invalid authid or ticket" for r in results) == 3
    assert sum("too many failed attempts" in r for r in results) == 47


def test_generated_ticket_is_checked_at_once_without_a_thread(reactor_thread, creds):
    ticket = add_generated(creds, "svc")
    auth = make_auth(creds)
    result = reactor_thread.call(lambda: defer.succeed(auth(REALM, "svc", details(ticket=ticket))))
    assert result == {"realm": REALM, "authid": "svc", "role": "user"}
    assert auth.pool.pending == 0


def test_argon2id_hash_made_with_mains_parameters_still_logs_in_and_is_upgraded(reactor_thread, db, creds):
    # main stored PasswordHasher(type=Type.ID) hashes: 64 MiB, t=3, p=4.
    mains = CredentialService(db, hasher=PasswordHasher(type=Type.ID))
    add(mains, "old", "their password")
    auth = make_auth(creds)
    result = outcomes(reactor_thread, [(auth, REALM, "old", details(ticket="their password"))])[0]
    assert result["authid"] == "old"
    with db.begin() as txn:
        stored = creds.schema.credentials.get_by_index(txn, "idx_credentials_by_auth", ("ticket", REALM, "old"))
    assert stored.authconfig["hash"].startswith("$argon2id$v=19$m=1024,t=1,p=1$")


def test_global_cap_refuses_slow_checks_beyond_the_pool_and_its_queue(reactor_thread, creds):
    for i in range(10):
        add(creds, f"user{i}", "chosen password")
    auth = make_auth(creds, inline_reads=True, max_verifying=1, max_waiting=2)
    calls = [(auth, REALM, f"user{i}", details(ticket="wrong", peer=f"tcp4:10.0.0.{i}:1")) for i in range(10)]
    results = outcomes(reactor_thread, calls)
    assert sum(r == "invalid authid or ticket" for r in results) == 3
    assert sum("busy" in r for r in results) == 7
    # A refusal for load is not a failure: those users are not locked.
    again = outcomes(reactor_thread, [(auth, REALM, "user9", details(ticket="chosen password"))])[0]
    assert again["authid"] == "user9"


def test_fast_logins_are_not_queued_behind_argon2(reactor_thread, creds):
    for i in range(4):
        add(creds, f"slow{i}", "chosen password")
    ticket = add_generated(creds, "fast")
    auth = make_auth(creds, max_verifying=1, max_waiting=10)
    calls = [(auth, REALM, f"slow{i}", details(ticket="wrong", peer=f"tcp4:10.0.1.{i}:1")) for i in range(4)]
    calls.append((auth, REALM, "fast", details(ticket=ticket)))
    assert outcomes(reactor_thread, calls)[-1]["authid"] == "fast"


def test_failures_are_answered_after_the_deny_delay_whatever_the_hash(reactor_thread, creds):
    add_generated(creds, "gen")
    auth = make_auth(creds, deny_delay=0.3, peer_free_failures=None)
    for authid in ("gen", "nobody"):
        started = time.monotonic()
        assert outcomes(reactor_thread, [(auth, REALM, authid, details(ticket="wrong"))]) == \
            ["invalid authid or ticket"]
        assert time.monotonic() - started >= 0.3


def test_unknown_and_oversized_authids_fail_like_wrong_tickets(reactor_thread, creds):
    auth = make_auth(creds, peer_free_failures=None)
    results = outcomes(reactor_thread, [(auth, REALM, "nobody", details(ticket="x")),
                                        (auth, REALM, "ü" * 400, details(ticket="x")),
                                        (auth, "r" * 600, "nobody", details(ticket="x"))])
    assert results == ["invalid authid or ticket"] * 3


def test_peer_limit_through_the_authenticator(reactor_thread, creds):
    auth = make_auth(creds, free_failures=3, peer_free_failures=5, base_delay=60.0)
    calls = [(auth, REALM, f"probe{i}", details(ticket="x", peer="tcp4:10.9.9.9:1")) for i in range(5)]
    outcomes(reactor_thread, calls)
    late = outcomes(reactor_thread, [(auth, REALM, "other", details(ticket="x", peer="tcp4:10.9.9.9:2"))])
    assert "peer address" in late[0]


# --- WAMP-CRA ---

def test_unknown_wampcra_authid_gets_a_challenge_shaped_like_a_real_one(reactor_thread, db, creds):
    add(creds, "real", wampcra="pw")
    auth = make_auth(creds)
    real = outcomes(reactor_thread, [(auth, REALM, "real", details("wampcra"))])[0]
    decoy = outcomes(reactor_thread, [(auth, REALM, "ghost", details("wampcra"))])[0]
    assert set(decoy) == set(real)
    for key in ("iterations", "keylen", "role", "realm"):
        assert decoy[key] == real[key]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", decoy["salt"]) and re.fullmatch(r"[A-Za-z0-9_-]{32}", real["salt"])
    assert len(decoy["secret"]) == len(real["secret"])
    # Stable per authid, across authenticators and services on the same database; different per authid.
    again = outcomes(reactor_thread, [(make_auth(CredentialService(db, hasher=CHEAP)), REALM, "ghost",
                                       details("wampcra"))])[0]
    other = outcomes(reactor_thread, [(auth, REALM, "ghost2", details("wampcra"))])[0]
    assert again["salt"] == decoy["salt"] != other["salt"]
    assert again["secret"] != decoy["secret"]
    # The decoy can never be answered: its outcome is a failure that counts.
    assert decoy[DERIVED_FLAG]
    assert answer(reactor_thread, decoy, False) == "WAMP-CRA client signature is invalid"
    assert auth.throttle.authids._records[(REALM, "ghost")].failures == 1


def answer(rt, challenge, ok: bool):
    """True if answering the challenge rightly (ok) or wrongly is accepted, else the denial message."""
    def run():
        d = defer.maybeDeferred(challenge[OUTCOME_HOOK], ok)
        return d.addErrback(lambda f: f.value.args[0])
    return rt.call(run)


def hello(rt, auth, authid, peer="tcp4:10.0.0.1:4711"):
    """The challenge for a WAMP-CRA HELLO, or the denial message."""
    return outcomes(rt, [(auth, REALM, authid, details("wampcra", peer=peer))])[0]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_unanswered_challenges_hold_no_one_back(reactor_thread, creds):
    add(creds, "carol", "carol's ticket", wampcra="pw")
    auth = make_auth(creds, free_failures=3, attempt_timeout=300.0)
    for i in range(10):                                  # HELLOs from two addresses, never answered
        hello(reactor_thread, auth, "carol", peer=f"tcp4:10.6.6.{i % 2}:1")
    # carol's own logins, by either method, are answered at once (before: held for attempt_timeout)
    assert answer(reactor_thread, hello(reactor_thread, auth, "carol", peer="tcp4:10.0.0.9:1"), True) is True
    ticket_login = outcomes(reactor_thread, [(auth, REALM, "carol", details(ticket="carol's ticket",
                                                                            peer="tcp4:10.0.0.9:1"))])[0]
    assert ticket_login["authid"] == "carol"


def test_wrong_signatures_lock_the_authid_for_the_lockout_times_only(reactor_thread, creds):
    add(creds, "carol", wampcra="pw")
    auth = make_auth(creds, free_failures=3, base_delay=1.0, max_delay=300.0)
    for _ in range(3):
        assert answer(reactor_thread, hello(reactor_thread, auth, "carol"), False) == \
            "WAMP-CRA client signature is invalid"
    assert "too many failed attempts" in hello(reactor_thread, auth, "carol", peer="tcp4:10.0.0.9:1")
    deadline = time.monotonic() + 10
    while "too many failed attempts" in str(challenge := hello(reactor_thread, auth, "carol")):
        assert time.monotonic() < deadline, "the lockout did not end"
        time.sleep(0.1)
    assert answer(reactor_thread, challenge, True) is True


def test_a_correct_signature_succeeds_after_flooding_evicted_its_record(reactor_thread, creds):
    add(creds, "erin", wampcra="pw")
    auth = make_auth(creds, max_tracked=10, peer_free_failures=None)
    challenge = hello(reactor_thread, auth, "erin")
    outcomes(reactor_thread, [(auth, REALM, f"flood{i}", details(ticket="x")) for i in range(50)])
    assert (REALM, "erin") not in auth.throttle.authids._records
    assert answer(reactor_thread, challenge, True) is True


def test_parallel_logins_of_one_account_wait_for_each_other_instead_of_failing(reactor_thread, creds):
    add(creds, "shared", "chosen password")
    auth = make_auth(creds, free_failures=3, max_verifying=2)
    results = outcomes(reactor_thread, [(auth, REALM, "shared", details(ticket="chosen password"))
                                        for _ in range(12)])
    assert [r["authid"] if isinstance(r, dict) else r for r in results] == ["shared"] * 12


def test_answer_to_an_expired_challenge_is_refused(reactor_thread, creds):
    add(creds, "dave", wampcra="pw")
    clock = FakeClock()
    auth = make_auth(creds, clock, attempt_timeout=30.0)
    challenge = hello(reactor_thread, auth, "dave")
    clock.now += 31
    assert answer(reactor_thread, challenge, True) == "WAMP-CRA client signature is invalid"


# --- odd tickets, the fixed delay and load: a failure looks the same whoever it is about ---

ODD_TICKETS = ["\ud800", "a\x00b", "x" * 1_000_000]


def test_odd_tickets_are_refused_and_counted_like_wrong_ones(reactor_thread, creds):
    add(creds, "chosen", "chosen password")
    add_generated(creds, "gen")
    auth = make_auth(creds, free_failures=3, base_delay=60.0, peer_free_failures=None)
    for authid in ("chosen", "gen", "nobody"):
        results = outcomes(reactor_thread, [(auth, REALM, authid, details(ticket=t)) for t in ODD_TICKETS])
        assert results == ["invalid authid or ticket"] * 3, authid
        assert "too many failed attempts" in outcomes(reactor_thread, [(auth, REALM, authid, details(ticket="x"))])[0]


def test_a_lone_surrogate_cannot_be_stored_as_a_secret(creds):
    with pytest.raises(InvalidArgument, match="lone surrogate"):
        add(creds, "odd", "\ud800")


class ClockReactor(Clock):
    """Twisted's deterministic clock, with the two reactor calls the argon2 pool makes at start."""

    def callWhenRunning(self, *args):  # noqa: N802 (Twisted's name)
        pass

    def addSystemEventTrigger(self, *args):  # noqa: N802
        pass


def answered_at(clock: Clock, d: defer.Deferred, step: float = 1 / 32, limit: float = 5.0) -> tuple[float, str]:
    """(seconds after now at which d fired, its denial message or "ok"), advancing the clock step by step.

    Every time in these tests is a multiple of 1/32 s, exact in binary: no rounding in the sums.
    """
    outcome: list = []
    d.addCallbacks(lambda _: outcome.append("ok"), lambda f: outcome.append(f.value.args[0]))
    waited = 0.0
    while not outcome:
        assert waited < limit, "never answered"
        clock.advance(step)
        waited += step
    return waited, outcome[0]


def test_every_failure_is_answered_at_the_fixed_delay_whatever_made_it(creds):
    add_generated(creds, "gen")
    add(creds, "carol", wampcra="pw")
    clock = ClockReactor()
    config = AuthConfig(database=DatabaseConfig(), wampcra=WampcraConfig(iterations=1000),
                        throttle=ThrottleConfig(deny_delay=0.5, free_failures=1, base_delay=60.0))
    # Driven by the clock, not a running reactor: credentials are read on the calling thread.
    auth = Authenticator(creds, config, clock, calls=DatabaseCalls(creds.db, clock, inline=True))

    def ticket(authid, value):
        return defer.maybeDeferred(auth, REALM, authid, details(ticket=value))

    assert answered_at(clock, ticket("nobody", "x")) == (0.5, "invalid authid or ticket")
    assert answered_at(clock, ticket("gen", "\ud800")) == (0.5, "invalid authid or ticket")
    locked = answered_at(clock, ticket("gen", "x"))           # one free failure was used above
    assert locked[0] == 0.5 and "too many failed attempts" in locked[1]
    # A WAMP-CRA failure: half a second after the signature arrived.
    challenge = auth(REALM, "carol", details("wampcra", peer="tcp4:10.0.0.2:1"))
    clock.advance(3.0)
    assert answered_at(clock, defer.maybeDeferred(challenge[OUTCOME_HOOK], False)) == \
        (0.5, "WAMP-CRA client signature is invalid")
    # A check that fails at once, one that fails after 0.25 s and one that has not finished by 0.5 s.
    def failing():
        raise RuntimeError("a bug")
    assert answered_at(clock, defer.maybeDeferred(auth.attempt, REALM, "a", None, failing, "wrong")) == \
        (0.5, "authentication is unavailable; retry later")
    slow: defer.Deferred = defer.Deferred()
    clock.callLater(0.25, slow.callback, None)
    assert answered_at(clock, defer.maybeDeferred(auth.attempt, REALM, "b", None, lambda: slow, "wrong")) == \
        (0.5, "wrong")
    late = defer.Deferred()
    clock.callLater(0.75, late.callback, {"authid": "c"})
    assert answered_at(clock, defer.maybeDeferred(auth.attempt, REALM, "c", None,
                                                  lambda: auth._in_time(late, clock.seconds()), "wrong")) == \
        (0.5, "the router is busy checking other logins; retry later")
    assert auth.throttle.authids._records[(REALM, "c")].failures == 0    # not counted
    # An attempt held back behind its client's own attempt keeps its start: answered when it would have been.
    first_check: defer.Deferred = defer.Deferred()
    clock.callLater(0.25, first_check.callback, None)
    defer.maybeDeferred(auth.attempt, REALM, "d", "10.0.0.3", lambda: first_check, "wrong").addErrback(lambda _: None)
    held = answered_at(clock, defer.maybeDeferred(auth.attempt, REALM, "d", "10.0.0.3", lambda: None, "wrong"))
    assert held[0] == 0.5 and "too many failed attempts" in held[1]    # the first failure locked "d"


class LateReads(DatabaseCalls):
    """Credential reads answered ``after`` seconds later (a database far away, or failing over)."""

    def __init__(self, db, reactor, after: float, inline: bool) -> None:
        super().__init__(db, reactor, inline=inline)
        self._reactor, self.after = reactor, after

    def call(self, store, fn, *args):
        result = super().call(store, fn, *args)
        late: defer.Deferred = defer.Deferred()
        self._reactor.callLater(self.after, lambda: defer.maybeDeferred(lambda: result).chainDeferred(late))
        return late


def test_a_late_credential_read_moves_the_answer_time_of_every_refusal_alike(creds):
    ticket = add_generated(creds, "gen")
    clock = ClockReactor()
    config = AuthConfig(database=DatabaseConfig(), throttle=ThrottleConfig(deny_delay=0.5, peer_free_failures=None))
    calls = LateReads(creds.db, clock, 0.25, inline=True)
    auth = Authenticator(creds, config, clock, calls=calls)

    def ticket_login(authid, value):
        return answered_at(clock, defer.maybeDeferred(auth, REALM, authid, details(ticket=value)))

    # Read within half the delay: refusals at the delay, as ever.
    assert ticket_login("gen", "wrong") == (0.5, "invalid authid or ticket")
    assert ticket_login("nobody", "wrong") == (0.5, "invalid authid or ticket")
    # Read later than that: the check keeps half the delay after the read, and both refusals wait alike.
    calls.after = 0.375
    assert ticket_login("gen", "wrong") == (0.625, "invalid authid or ticket")
    assert ticket_login("nobody", "wrong") == (0.625, "invalid authid or ticket")
    # A success is answered as soon as it is checked.
    assert ticket_login("gen", ticket) == (0.375, "ok")


def test_an_argon2_ticket_read_late_is_still_checked_not_answered_busy(reactor_thread, creds):
    add(creds, "chosen", "chosen password")
    # The reads end after the answer time: the argon2 check still gets half the delay.
    auth = make_auth(creds, calls=LateReads(creds.db, reactor, 0.6, inline=False), deny_delay=0.5)
    started = time.monotonic()
    results = outcomes(reactor_thread, [(auth, REALM, "chosen", details(ticket="chosen password")),
                                        (auth, REALM, "chosen", details(ticket="wrong", peer="tcp4:10.0.0.2:1"))])
    assert results[0]["authid"] == "chosen"
    assert results[1] == "invalid authid or ticket"
    assert time.monotonic() - started >= 0.6 + 0.25


def test_while_the_argon2_pool_is_full_every_failed_ticket_is_answered_alike(reactor_thread, creds):
    add(creds, "chosen", "chosen password")
    ticket = add_generated(creds, "gen")
    auth = make_auth(creds, max_verifying=1, max_waiting=1, peer_free_failures=None)
    gate = threading.Event()
    reactor_thread.call(lambda: [auth.pool.run(gate.wait, 30) for _ in range(2)] and None)
    try:
        calls = [(auth, REALM, authid, details(ticket="wrong")) for authid in ("chosen", "gen", "nobody")]
        assert outcomes(reactor_thread, calls) == ["the router is busy checking other logins; retry later"] * 3
        assert outcomes(reactor_thread, [(auth, REALM, "gen", details(ticket=ticket))])[0]["authid"] == "gen"
    finally:
        gate.set()
    records = auth.throttle.authids._records
    assert all(r.failures == 0 for r in records.values()) and records    # none of the refusals counted


def test_one_client_never_takes_every_argon2_thread(reactor_thread, creds):
    add(creds, "chosen", "chosen password")
    auth = make_auth(creds, max_verifying=2, max_waiting=10)
    gate = threading.Event()
    reactor_thread.call(lambda: auth.pool.run(gate.wait, 30, owner="10.0.0.1") and None)   # its one share
    try:
        own = []

        def start_own():
            d = defer.maybeDeferred(auth, REALM, "chosen", details(ticket="chosen password"))
            d.addBoth(own.append)
        reactor_thread.call(start_own)
        # Another client's check starts at once, in the thread the first client cannot take ...
        other = outcomes(reactor_thread, [(auth, REALM, "chosen", details(ticket="chosen password",
                                                                         peer="tcp4:10.0.0.2:1"))])[0]
        assert other["authid"] == "chosen"
        assert own == []                                    # ... while the first client's own login waits
    finally:
        gate.set()
    wait_for(lambda: own, 30, "the held login to finish")
    assert own[0]["authid"] == "chosen"


def test_every_outcome_and_lockout_is_staged_for_the_audit_log_without_the_secret(reactor_thread, creds):
    from cfxstore.audit.service import AuditLog
    from cfxstore.router.loginaudit import LoginAudit
    from cfxstore.router.writebehind import WriteBehind

    add(creds, "alice", "correct horse")
    log = AuditLog(creds.db)
    writer = WriteBehind(creds.db, delay=0.01, max_items=1000)  # no reactor: each staged write commits at once
    auth = make_auth(creds, free_failures=2, base_delay=300.0)
    auth._audit = LoginAudit(log, writer)
    calls = [(auth, REALM, "alice", details(ticket=t)) for t in ("correct horse", "wrong one", "wrong two",
                                                                 "correct horse")]
    results = [outcomes(reactor_thread, [call])[0] for call in calls]
    assert isinstance(results[0], dict) and results[1:3] == ["invalid authid or ticket"] * 2
    assert "too many failed attempts" in results[3]

    events = log.list(authid="alice", kinds=["login", "lockout"])
    assert [(e.kind, e.outcome, e.reason) for e in events] == [
        ("login", "success", None),
        ("login", "failure", "invalid authid or ticket"),
        ("login", "failure", "invalid authid or ticket"),
        ("lockout", None, None),
        ("login", "failure", results[3]),
    ]
    assert events[0].detail == {"role": "user"} and {e.method for e in events} == {"ticket"}
    assert events[3].action == "authid locked" and events[3].detail == {"seconds": 300.0}
    assert {e.peer for e in events} == {"10.0.0.1"}
    assert "horse" not in repr(events) and "wrong" not in repr([e.detail for e in events])


def test_an_attempt_with_an_oversized_or_odd_authid_is_recorded_cut_to_what_an_event_holds(reactor_thread, creds):
    from cfxstore.audit.service import AuditLog
    from cfxstore.router.loginaudit import LoginAudit
    from cfxstore.router.writebehind import WriteBehind

    log = AuditLog(creds.db)
    auth = make_auth(creds)
    auth._audit = LoginAudit(log, WriteBehind(creds.db, delay=0.01, max_items=1000))
    authid = "ä" * 1000 + "\ud800"
    assert outcomes(reactor_thread, [(auth, "a realm\n", authid, details(ticket="x"))]) == ["invalid authid or ticket"]
    [event] = log.list(kinds=["login"])
    assert event.authid == "ä" * 127 and event.realm == "a realm\n" and event.outcome == "failure"


def test_during_an_outage_login_events_are_dropped_and_counted_past_the_bound(creds, monkeypatch):
    from cfxstore.audit.service import AuditLog
    from cfxstore.router import loginaudit
    from cfxstore.router.writebehind import WriteBehind

    monkeypatch.setattr(loginaudit, "MAX_ITEMS", 2)
    log = AuditLog(creds.db)
    writer = WriteBehind(creds.db, delay=0.01, max_items=1000)
    audit = loginaudit.LoginAudit(log, writer)
    monkeypatch.setattr(writer.availability, "_down", True)  # as an unreachable PostgreSQL server leaves it
    for _ in range(5):
        audit.login(REALM, "alice", "ticket", "10.0.0.1", "failure", "authentication is unavailable; retry later")
    assert len(writer) == 2 and audit.dropped == 3
    monkeypatch.setattr(writer.availability, "_down", False)
    writer.flush()
    assert len(log.list(authid="alice", kinds=["login"])) == 2
