"""Crossbar "function" authenticator for WAMP-Ticket, WAMP-CRA, WAMP-SCRAM, WAMP-cryptosign and TLS on cfxstore credentials.

Node config (one transport's "auth" item)::

    "ticket":  {"type": "function", "create": "cfxstore.router.auth.create_authenticator",
                "config": {"path": "cfxstore-db"}},
    "wampcra": {"type": "function", "create": "cfxstore.router.auth.create_authenticator",
                "config": {"path": "cfxstore-db"}}

Crossbar imports ``create_authenticator``, calls it once per worker and
*caches the result by the "create" name*, so all auth methods (and
transports) of a worker share the first config given; use one config.

Every method goes through one path, ``Authenticator.attempt``: the attempt
is admitted by the LoginThrottle (per authid and per client address, see
clientaddr.py) before any work is done, its check runs, its outcome is
counted, and every failure, whichever method failed and whatever the hash
cost, is answered exactly ``deny_delay`` after the attempt began with one
message per method. A check that has not finished by then is answered "the
router is busy" (not counted), as is every failed ticket attempt while the
argon2 pool, or the client's share of it, is full, so load tells no
principal's hash apart from another's. A credential read that ran late
moves the answer time of the attempt's refusals alike (``_verify_read``).

Credentials are read off the reactor thread (dbcalls.py: a round trip, or
a disk read, must not hold up the worker's other connections).
Generated tickets are checked in the reactor thread (microseconds); argon2id
tickets in a bounded pool of their own. Unknown WAMP-CRA authids get a decoy
or WAMP-SCRAM challenge that looks like a real one; cryptosign clients whose
key is unknown, revoked or outside its validity window a challenge for a key
nobody holds (cryptosign.py). A challenged attempt
(WAMP-CRA, WAMP-SCRAM, WAMP-cryptosign) begins when its answer arrives, not at the HELLO: a
challenge nobody answers holds nothing, so no one can delay another client's
login by leaving challenges unanswered.

A disabled principal is challenged as before (its real salt, its real key)
and its proven secret is then refused like a wrong one (``_principal``):
nothing tells a disabled principal from a wrong secret. A challenged
principal is read again when its answer arrives, so one disabled (or
removed) meanwhile is refused too.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from autobahn.wamp.exception import ApplicationError
from twisted.internet import threads
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
import txaio

from cfxstore.credentials.cryptosign import CryptosignKeyring
from cfxstore.credentials.hashing import owasp_argon2id
from cfxstore.credentials.service import CredentialService
from cfxstore.mrealm.entities import Principal
from cfxstore.node.config import AuthConfig, parse_auth, resolve_path
from cfxstore.router import cryptosign, scram, tls
from cfxstore.router.availability import StoreUnavailable, availability
from cfxstore.router.clientaddr import ClientKeys
from cfxstore.router.dbcalls import DatabaseCalls, database_calls, then
from cfxstore.router.reactorguard import guard_reactor
from cfxstore.router.loginaudit import MAX_ITEMS, LoginAudit
from cfxstore.router.services import node_services
from cfxstore.router.throttle import LoginThrottle, Throttled
from cfxstore.router.verifypool import PoolBusy, VerifyPool
from cfxstore.router.outcome import OUTCOME_HOOK
from cfxstore.router.wampcra import DERIVED_FLAG
from orm.engine.pgurl import shown

txaio.use_twisted()  # this module is Twisted code; importing it outside Crossbar must work too
log = txaio.make_logger()  # type: ignore[attr-defined]  # txaio defines it once a framework is chosen

FAILED = ApplicationError.AUTHENTICATION_FAILED
STORE = "credential store"  # how errors name it (availability.py)
WRONG_TICKET = "invalid authid or ticket"
WRONG_SIGNATURE = "WAMP-CRA client signature is invalid"
BUSY = "the router is busy checking other logins; retry later"
UNAVAILABLE = "authentication is unavailable; retry later"
WRONG_CERTIFICATE = "invalid authid or client certificate"
_CRA_KEYS = ("secret", "salt", "iterations", "keylen", "role", "authid", "realm")
METHODS = ("ticket", "wampcra", "scram", "cryptosign", "tls")

#: An attempt as the audit log names it: (realm, authid, method, client address).
Who = tuple[str, str, str | None, str | None]
# A check: returns what the login is accepted with (or a Deferred of it), None for wrong credentials.
Check = Callable[[], Any]


class Authenticator:
    """``authenticate(realm, authid, details)`` as Crossbar's function authenticators are called."""

    def __init__(self, credentials: CredentialService, config: AuthConfig, reactor: Any,
                 throttle: LoginThrottle | None = None, pool: VerifyPool | None = None, cbdir: str = ".",
                 audit: LoginAudit | None = None, keyring: CryptosignKeyring | None = None,
                 calls: DatabaseCalls | None = None) -> None:
        """``audit``: where the outcome of every attempt and each lockout is recorded (None: nowhere);
        ``keyring``: the cryptosign keys (by default: opened here, on the credentials' database);
        ``calls``: where credentials are read (by default the database's pool, off the reactor)."""
        self._credentials = credentials
        self._config = config
        self._cn_issuers = tls.load_issuers(config.tls.cn_issuers, cbdir)
        self._reactor = reactor
        self.throttle = throttle if throttle is not None else LoginThrottle(config.throttle, reactor.seconds)
        self.pool = pool if pool is not None else VerifyPool(reactor, config.throttle.max_verifying,
                                                             config.throttle.max_waiting)
        self.clients = ClientKeys(config.throttle.trusted_proxies, config.throttle.ipv6_prefix)
        self._held: dict[Deferred, Any] = {}
        self._availability = availability(credentials.db)
        # Credential reads: off the reactor (a Deferred), on either engine.
        self._calls = calls if calls is not None else database_calls(credentials.db, reactor)
        self._keyring = keyring if keyring is not None else CryptosignKeyring(credentials.db)
        self._audit = audit
        self.throttle.on_settle = self.pool.on_done = self._settled

    def __call__(self, realm: str, authid: str, details: dict[str, Any]) -> Any:
        method = details.get("authmethod")
        if not isinstance(realm, str) or not realm:
            raise ApplicationError(ApplicationError.NO_SUCH_REALM, "no realm requested")
        if method not in METHODS:
            raise ApplicationError(FAILED, f"cfxstore authenticator does not handle authmethod {method!r}")
        # A client certificate names its principal, and a cryptosign client may name itself by its
        # public key alone; the other methods need the authid.
        if method in ("tls", "cryptosign") and authid is not None and not isinstance(authid, str):
            raise ApplicationError(FAILED, "an authid must be a string")
        if method not in ("tls", "cryptosign") and (not isinstance(authid, str) or not authid):
            raise ApplicationError(FAILED, "an authid is required")
        client = self.clients.key(details.get("transport"))
        if method == "ticket":
            return self._ticket(realm, authid, client, details.get("ticket"), self._reactor.seconds())
        if method == "tls":
            return self.attempt(realm, tls.throttle_key(authid, details), client,
                                lambda: then(self._read(tls.principal_of, self._credentials, realm, authid, details,
                                                        self._cn_issuers), _principal),
                                WRONG_CERTIFICATE, method=method)
        if method == "cryptosign":
            pubkey = cryptosign.pubkey_of(details)
            return self._challenge(method, realm, cryptosign.throttle_key(authid, pubkey), client, cryptosign.DENIED,
                                   lambda: cryptosign.principal_for(self._keyring, self._config.wampcra.decoy_role,
                                                                    realm, authid, pubkey))
        if method == "scram":
            return self._challenge(method, realm, authid, client, scram.DENIED,
                                   lambda: scram.principal_for(self._credentials, self._config.scram, realm, authid))
        return self._challenge(method, realm, authid, client, WRONG_SIGNATURE,
                               lambda: self._cra_principal(realm, authid))

    # --- the one path every attempt takes ---

    def attempt(self, realm: str, authid: str, client: str | None, check: Check, wrong: str,
                started: float | None = None, *, method: str | None = None) -> Any:
        """Admit, check, count and answer one login attempt; a failure raises (or errbacks) ApplicationError.

        ``check`` runs only once the attempt is admitted; ``wrong`` is the
        message for wrong credentials. Every refusal is answered
        ``deny_delay`` after ``started`` (by default: now). ``method`` names it in the audit log.
        """
        started = self._reactor.seconds() if started is None else started
        who = (realm, authid, method, client)
        try:
            self._availability.check(STORE)
            attempts = self.throttle.begin(realm, authid, client)
        except StoreUnavailable:
            self._login(who, "failure", UNAVAILABLE)
            raise
        except Throttled as exc:
            if exc.locked or len(self._held) >= self._config.throttle.max_waiting:
                return self._refuse(who, started, str(exc))
            # Only too many attempts of this client in flight (parallel logins of one account): wait for one.
            # It keeps its start, so its answer comes when it would have without the wait.
            return self._hold().addCallback(
                lambda _: self.attempt(realm, authid, client, check, wrong, started, method=method))
        try:
            result = check()
        except Exception as exc:
            return self._failed(who, attempts, started, exc)
        if isinstance(result, Deferred):
            return result.addCallbacks(lambda value: self._settle(who, attempts, started, value, wrong),
                                       lambda failure: self._failed(who, attempts, started, failure.value))
        return self._settle(who, attempts, started, result, wrong)

    def _settle(self, who: Who, attempts: Any, started: float, accepted: Any, wrong: str) -> Any:
        live = self.throttle.end(attempts, accepted is not None)
        if accepted is not None and live:
            self._login(who, "success", accepted=accepted)
            return accepted
        self._login(who, "failure", wrong)
        if self._audit is not None:  # after the failure that began them
            realm, authid, method, client = who
            self._audit.lockouts(realm, authid, method, client, attempts)
        return self.deny(started, wrong)

    def _failed(self, who: Who, attempts: Any, started: float, exc: BaseException) -> Any:
        """A check that could not say yes or no: counted neither way."""
        self.throttle.cancel(attempts)
        if isinstance(exc, PoolBusy):
            return self._refuse(who, started, BUSY)
        self._login(who, "failure", UNAVAILABLE)
        if isinstance(exc, StoreUnavailable):
            raise exc
        if self._availability.lost(exc):
            raise StoreUnavailable(STORE) from None
        # The type only: an exception's text may quote what the client sent.
        log.error("cfxstore authenticator: credential check failed: {kind}", kind=type(exc).__name__)
        return self.deny(started, UNAVAILABLE)

    def _refuse(self, who: Who, started: float, message: str) -> Deferred:
        """deny(), recorded in the audit log with its message as the reason."""
        self._login(who, "failure", message)
        return self.deny(started, message)

    def _login(self, who: Who, outcome: str, reason: str | None = None, accepted: Any = None) -> None:
        if self._audit is not None:
            realm, authid, method, client = who
            self._audit.login(realm, authid, method, client, outcome, reason, accepted)

    def deny(self, started: float, message: str) -> Deferred:
        """A refusal, answered ``deny_delay`` after ``started`` whatever made it."""
        def refuse() -> None:
            raise ApplicationError(FAILED, message)
        delay = started + self._config.throttle.deny_delay - self._reactor.seconds()
        return deferLater(self._reactor, max(0.0, delay), refuse)

    def _in_time(self, d: Deferred, started: float) -> Deferred:
        """d's result if it comes before the fixed answer time, else PoolBusy then (d's result is dropped)."""
        delay = self._config.throttle.deny_delay
        if delay <= 0:
            return d
        answer: Deferred = Deferred()

        def too_late() -> None:
            if not answer.called:
                answer.errback(PoolBusy("not checked in time"))

        timer = self._reactor.callLater(max(0.0, started + delay - self._reactor.seconds()), too_late)

        def done(result: Any) -> None:
            if answer.called:
                return  # answered "busy" already; a late failure is dropped here too
            if timer.active():
                timer.cancel()
            if isinstance(result, Failure):
                answer.errback(result)
            else:
                answer.callback(result)

        d.addBoth(done)
        return answer

    # --- attempts held back until another one settles ---

    def _hold(self) -> Deferred:
        d: Deferred = Deferred()
        # An attempt that never settles expires after attempt_timeout, so try again then.
        timer = self._reactor.callLater(self._config.throttle.attempt_timeout + 0.01, self._release, d)
        self._held[d] = timer
        return d

    def _release(self, d: Deferred) -> None:
        timer = self._held.pop(d, None)
        if timer is not None:
            if timer.active():
                timer.cancel()
            d.callback(None)

    def _settled(self) -> None:
        if self._held:
            # Later, not inside the throttle's bookkeeping of the attempt that just ended.
            for d in list(self._held):
                self._reactor.callLater(0, self._release, d)

    # --- WAMP-Ticket ---

    def _ticket(self, realm: str, authid: str, client: str | None, ticket: Any, started: float) -> Any:
        if self.pool.full(client) and not self.pool.full() and len(self._held) < self._config.throttle.max_waiting:
            # This client's share of the argon2 pool is taken by its own checks: wait for one to end (any
            # ticket attempt of it, whichever authid, so that waiting tells nothing about the principal).
            return self._hold().addCallback(lambda _: self._ticket(realm, authid, client, ticket, started))
        return self.attempt(realm, authid, client, lambda: self._check_ticket(realm, authid, ticket, client, started),
                            WRONG_TICKET, started, method="ticket")

    def _check_ticket(self, realm: str, authid: str, ticket: Any, client: str | None, started: float) -> Any:
        # While the pool (or this client's share of it) is full, every failed ticket attempt is answered alike.
        busy = self.pool.full(client)
        if not isinstance(ticket, str):
            return self._verify_ticket(None, ticket, client, started, busy)
        found = self._read(self._credentials.ticket_verifier, realm, authid)
        return then(found, self._verify_read, ticket, client, started, busy)

    def _verify_read(self, verifier: Any, ticket: Any, client: str | None, started: float, busy: bool) -> Any:
        """_verify_ticket, with the answer time moved when the credential read ran late.

        A read that took more than half of ``deny_delay`` (a database far away, or failing over) would
        leave the hash no time before the answer: "busy" for a known principal, "wrong ticket" for an
        unknown one. Instead the check gets half of ``deny_delay`` after the read, and every refusal of
        this attempt waits for the moved answer time, so it still tells no principal from another.
        """
        delay = self._config.throttle.deny_delay
        moved = max(started, self._reactor.seconds() - delay / 2)
        if moved == started:
            return self._verify_ticket(verifier, ticket, client, started, busy)

        def refusals_wait(result: Any) -> Any:
            if result is not None and not isinstance(result, Failure):
                return result
            wait = max(0.0, moved + delay - self._reactor.seconds())
            return deferLater(self._reactor, wait, lambda: result)

        return maybeDeferred(self._verify_ticket, verifier, ticket, client, moved, busy).addBoth(refusals_wait)

    def _verify_ticket(self, verifier: Any, ticket: Any, client: str | None, started: float, busy: bool) -> Any:
        if verifier is not None and verifier.slow:
            if self.pool.full(client):
                if not self.pool.full() and len(self._held) < self._config.throttle.max_waiting:
                    # Another attempt of this client took its share while this one's credential was read
                    # (off the reactor): wait for it, as _ticket does before the read.
                    return self._hold().addCallback(
                        lambda _: self._verify_ticket(verifier, ticket, client, started, False))
                raise PoolBusy("the argon2 pool is full")
            return self._in_time(self.pool.run(verifier, ticket, owner=client), started).addCallback(_principal)
        answer = _principal(None if verifier is None else verifier(ticket))
        if answer is None and busy:
            raise PoolBusy("the argon2 pool is full")
        return answer

    def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A Deferred of fn(*args) reading credentials, read in the database's pool (never on the reactor)."""
        return self._calls.call(STORE, fn, *args)

    # --- challenged methods: WAMP-CRA, WAMP-SCRAM ---

    def _challenge(self, method: str, realm: str, authid: str, client: str | None, wrong: str,
                   lookup: Callable[[], dict[str, Any]]) -> Any:
        """What Crossbar needs to challenge authid; the attempt itself is made when the answer arrives."""
        issued = self.throttle.clock()
        try:
            self._availability.check(STORE)
            self.throttle.check(realm, authid, client)
            found = self._read(lookup)
        except Throttled as exc:
            return self._refuse((realm, authid, method, client), self._reactor.seconds(), str(exc))
        except Exception as exc:
            return self._lookup_failed(exc)
        if isinstance(found, Deferred):
            return found.addCallbacks(self._challenged, lambda failure: self._lookup_failed(failure.value),
                                      (realm, authid, client, method, wrong, issued))
        return self._challenged(found, realm, authid, client, method, wrong, issued)

    def _lookup_failed(self, exc: BaseException) -> Any:
        """A challenge's lookup that could not answer: never let the engine's exception reach the client."""
        if isinstance(exc, StoreUnavailable):
            raise exc
        if isinstance(exc, PoolBusy):
            return self.deny(self._reactor.seconds(), BUSY)
        if self._availability.lost(exc):
            raise StoreUnavailable(STORE) from None
        log.error("cfxstore authenticator: credential lookup failed: {kind}", kind=type(exc).__name__)
        return self.deny(self._reactor.seconds(), UNAVAILABLE)

    def _challenged(self, principal: dict[str, Any], realm: str, authid: str, client: str | None, method: str,
                    wrong: str, issued: float) -> dict[str, Any]:
        timeout = self._config.throttle.attempt_timeout

        def answered(ok: bool) -> Any:
            # An answer after attempt_timeout is refused like a wrong one: a challenge does not live forever.
            fresh = self.throttle.clock() - issued <= timeout
            return self.attempt(realm, authid, client, lambda: then(self._current(principal), _accepted)
                                if ok and fresh else None, wrong, method=method)

        principal[OUTCOME_HOOK] = answered
        return principal

    def _current(self, challenged: dict[str, Any]) -> Any:
        """Whether a challenged principal whose secret was proven may log in, as its record stands now
        (a Deferred of it on PostgreSQL)."""
        return then(self._read(self._credentials.get_principal, challenged["realm"], challenged["authid"]),
                    lambda principal: _principal(principal) is not None)

    def _cra_principal(self, realm: str, authid: str) -> dict[str, Any]:
        cra = self._credentials.get_wampcra(realm, authid)
        if cra is None:
            decoy = self._config.wampcra
            cra = self._credentials.wampcra_decoy(realm, authid, role=decoy.decoy_role,
                                                  iterations=decoy.iterations, keylen=decoy.keylen)
        principal = {k: cra[k] for k in _CRA_KEYS}
        if cra.get("extra") is not None:
            principal["extra"] = cra["extra"]
        principal[DERIVED_FLAG] = True
        return principal


def _accepted(current: bool) -> bool | None:
    """A proven secret's check: True to accept, None (wrong credentials) if its principal may not log in now."""
    return True if current else None


def _principal(principal: Principal | None) -> dict[str, Any] | None:
    """The authenticator's answer for the principal whose secret was proven: None if there is none or it is disabled.

    Every method's success comes through here, so a disabled principal is refused like a wrong secret:
    the same message, the same fixed delay, counted as a failure.
    """
    if principal is None or principal.disabled is not None:
        return None
    result: dict[str, Any] = {"realm": principal.realm, "authid": principal.authid, "role": principal.role}
    if principal.extra is not None:
        result["extra"] = principal.extra
    return result


#: Authenticators by database path, and the attempts waiting while one is made (Crossbar may ask again
#: before the first is made: every HELLO of a worker must share one throttle).
_MADE: dict[str, Authenticator] = {}
_MAKING: dict[str, list[Deferred]] = {}


def create_authenticator(config: dict[str, Any] | None, controller: Any = None) -> Any:
    """Factory named in the node config; ``config`` is the authenticator's "config" item.

    Opening the database and attaching its schemas is done in a thread (round
    trips on PostgreSQL): the result is a Deferred, which Crossbar waits for.
    """
    # The reactor Crossbar installed: imported earlier, this would install Twisted's default one.
    from twisted.internet import reactor

    guard_reactor()
    parsed = parse_auth(config)
    # Crossbar workers run in the node directory, so relative paths resolve against it.
    cbdir = os.getcwd()
    path = resolve_path(parsed.database.path, cbdir)
    if path in _MADE:
        return _MADE[path]
    waiter: Deferred = Deferred()
    if path in _MAKING:
        _MAKING[path].append(waiter)
        return waiter
    _MAKING[path] = [waiter]

    def open_services() -> tuple[Any, CredentialService, Any, CryptosignKeyring]:
        node = node_services(path, parsed.database)
        a = parsed.argon2
        credentials = CredentialService(node.db, hasher=owasp_argon2id(a.memory_kib, a.time_cost, a.parallelism),
                                        wampcra_iterations=parsed.wampcra.iterations)
        credentials.load_decoy_key()  # here, in a thread: never written by a login on the reactor
        return node, credentials, node.audit, CryptosignKeyring(node.db)

    def made(opened: tuple[Any, CredentialService, Any, CryptosignKeyring]) -> None:
        node, credentials, audit_log, keyring = opened
        audit = LoginAudit(audit_log, node.writer(delay=None, max_items=MAX_ITEMS, reactor=reactor,
                                                  defer_to_thread=threads.deferToThread))
        log.info("cfxstore authenticator active (database {path})", path=shown(path))
        authenticator = _MADE[path] = Authenticator(credentials, parsed, reactor, cbdir=cbdir, audit=audit,
                                                    keyring=keyring)
        for d in _MAKING.pop(path):
            d.callback(authenticator)

    def failed(failure: Failure) -> None:
        for d in _MAKING.pop(path):
            d.errback(failure)

    threads.deferToThread(open_services).addCallbacks(made, failed)
    return waiter
