"""Crossbar "function" authenticator for WAMP-Ticket, WAMP-CRA, WAMP-SCRAM and TLS on cfxstore credentials.

Node config (one transport's "auth" item)::

    "ticket":  {"type": "function", "create": "cfxstore.router.auth.create_authenticator",
                "config": {"path": "cfxstore-db"}},
    "wampcra": {"type": "function", "create": "cfxstore.router.auth.create_authenticator",
                "config": {"path": "cfxstore-db"}}

Crossbar imports ``create_authenticator``, calls it once per worker and
*caches the result by the "create" name*, so all auth methods (and
transports) of a worker share the first config given; use one config.

Every attempt is admitted by the LoginThrottle (per authid and per peer
address) before any work is done. Generated tickets are checked in the
reactor thread (microseconds); argon2id tickets in a bounded pool of their
own. Unknown WAMP-CRA authids get a decoy challenge that looks like a real
one. A failure of either method is answered no sooner than ``deny_delay``
after the attempt began, so timing tells neither which authids exist nor
which kind of ticket they have.
"""

from __future__ import annotations

import os
from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
import txaio

from cfxstore.credentials.hashing import owasp_argon2id
from cfxstore.credentials.service import CredentialService
from cfxstore.node.config import AuthConfig, parse_auth, resolve_path
from cfxstore.router import scram, tls
from cfxstore.router.availability import StoreUnavailable, availability
from cfxstore.router.services import node_services
from cfxstore.router.throttle import LoginThrottle, Throttled
from cfxstore.router.verifypool import PoolBusy, VerifyPool
from cfxstore.router.wampcra import DERIVED_FLAG, OUTCOME_HOOK
from orm.engine.pgurl import shown

txaio.use_twisted()  # this module is Twisted code; importing it outside Crossbar must work too
log = txaio.make_logger()  # type: ignore[attr-defined]  # txaio defines it once a framework is chosen

FAILED = ApplicationError.AUTHENTICATION_FAILED
STORE = "credential store"  # how errors name it (availability.py)
_CRA_KEYS = ("secret", "salt", "iterations", "keylen", "role", "authid", "realm")
METHODS = ("ticket", "wampcra", "scram", "tls")


def peer_host(details: dict[str, Any]) -> str | None:
    """The peer's IP address from Crossbar's transport details ("tcp4:1.2.3.4:5678"); None if not TCP."""
    transport = details.get("transport")
    peer = transport.get("peer") if isinstance(transport, dict) else None
    if not isinstance(peer, str):
        return None
    kind, _, rest = peer.partition(":")
    if kind not in ("tcp4", "tcp6") or ":" not in rest:
        return None
    return rest.rsplit(":", 1)[0]


class Authenticator:
    """``authenticate(realm, authid, details)`` as Crossbar's function authenticators are called."""

    def __init__(self, credentials: CredentialService, config: AuthConfig, reactor: Any,
                 throttle: LoginThrottle | None = None, pool: VerifyPool | None = None, cbdir: str = ".") -> None:
        self._credentials = credentials
        self._config = config
        self._cn_issuers = tls.load_issuers(config.tls.cn_issuers, cbdir)
        self._reactor = reactor
        self.throttle = throttle if throttle is not None else LoginThrottle(config.throttle, reactor.seconds)
        self.pool = pool if pool is not None else VerifyPool(reactor, config.throttle.max_verifying,
                                                             config.throttle.max_waiting)
        self._held: dict[Deferred, Any] = {}
        self._availability = availability(credentials.db)
        self.throttle.on_settle = self._settled

    def __call__(self, realm: str, authid: str, details: dict[str, Any]) -> Any:
        method = details.get("authmethod")
        if not isinstance(realm, str) or not realm:
            raise ApplicationError(ApplicationError.NO_SUCH_REALM, "no realm requested")
        if method not in METHODS:
            raise ApplicationError(FAILED, f"cfxstore authenticator does not handle authmethod {method!r}")
        # A client certificate names its principal; the other methods need the authid.
        if method == "tls" and authid is not None and not isinstance(authid, str):
            raise ApplicationError(FAILED, "an authid must be a string")
        if method != "tls" and (not isinstance(authid, str) or not authid):
            raise ApplicationError(FAILED, "an authid is required")
        try:
            key = tls.throttle_key(authid, details) if method == "tls" else authid
            attempts = self.throttle.begin(realm, key, peer_host(details))
        except Throttled as exc:
            if exc.locked or len(self._held) >= self._config.throttle.max_waiting:
                raise ApplicationError(FAILED, str(exc)) from None
            # Only too many attempts in flight (say, parallel logins of one account): wait for one to settle.
            return self._hold().addCallback(lambda _: self(realm, authid, details))
        started = self._reactor.seconds()
        try:
            self._availability.check(STORE)
            if method == "ticket":
                return self._ticket(attempts, started, realm, authid, details.get("ticket"))
            if method == "tls":
                principal = tls.principal_of(self._credentials, realm, authid, details, self._cn_issuers)
                return self._outcome(attempts, started, principal, "invalid authid or client certificate")
            if method == "scram":
                return self._challenged(attempts, started,
                                        scram.principal_for(self._credentials, self._config.scram, realm, authid))
            return self._wampcra(attempts, started, realm, authid)
        except StoreUnavailable:
            self.throttle.cancel(attempts)
            raise
        except ApplicationError:
            raise
        except Exception as exc:  # a database failure: never let the engine's exception reach the client
            self.throttle.cancel(attempts)
            if self._availability.lost(exc):
                raise StoreUnavailable(STORE) from None
            log.error("cfxstore authenticator: credential lookup failed: {exc}", exc=repr(exc))
            raise ApplicationError(FAILED, "authentication is unavailable; retry later") from None

    # --- attempts held back until another one settles ---

    def _hold(self) -> Deferred:
        d: Deferred = Deferred()
        # An abandoned attempt never settles; it expires after attempt_timeout, so try again then.
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

    def _ticket(self, attempts: Any, started: float, realm: str, authid: str, ticket: Any) -> Any:
        verifier = self._credentials.ticket_verifier(realm, authid) if isinstance(ticket, str) else None
        if verifier is None:
            return self._outcome(attempts, started, None)
        if not verifier.slow:
            return self._outcome(attempts, started, verifier(ticket))
        try:
            d = self.pool.run(verifier, ticket)
        except PoolBusy:
            self.throttle.cancel(attempts)
            raise ApplicationError(FAILED, "the router is busy checking other logins; retry later") from None
        d.addCallbacks(lambda principal: self._outcome(attempts, started, principal),
                       lambda failure: self._lookup_failed(attempts, failure))
        return d

    def _outcome(self, attempts: Any, started: float, principal: Any, denial: str = "invalid authid or ticket") -> Any:
        self.throttle.end(attempts, principal is not None)
        if principal is None:
            return self._deny_later(started, denial)
        result = {"realm": principal.realm, "authid": principal.authid, "role": principal.role}
        if principal.extra is not None:
            result["extra"] = principal.extra
        return result

    def _lookup_failed(self, attempts: Any, failure: Any) -> None:
        self.throttle.cancel(attempts)
        if self._availability.lost(failure.value):
            raise StoreUnavailable(STORE)
        log.error("cfxstore authenticator: ticket check failed: {exc}", exc=repr(failure.value))
        raise ApplicationError(FAILED, "authentication is unavailable; retry later")

    def deny_delay(self, started: float) -> float:
        """Seconds still to wait before a failure of an attempt that began at ``started`` is answered."""
        return max(0.0, started + self._config.throttle.deny_delay - self._reactor.seconds())

    def _deny_later(self, started: float, message: str) -> Deferred:
        def deny() -> None:
            raise ApplicationError(FAILED, message)
        return deferLater(self._reactor, self.deny_delay(started), deny)

    # --- WAMP-CRA ---

    def _wampcra(self, attempts: Any, started: float, realm: str, authid: str) -> dict[str, Any]:
        cra = self._credentials.get_wampcra(realm, authid)
        if cra is None:
            decoy = self._config.wampcra
            cra = self._credentials.wampcra_decoy(realm, authid, role=decoy.decoy_role,
                                                  iterations=decoy.iterations, keylen=decoy.keylen)
        principal = {k: cra[k] for k in _CRA_KEYS}
        if cra.get("extra") is not None:
            principal["extra"] = cra["extra"]
        principal[DERIVED_FLAG] = True
        return self._challenged(attempts, started, principal)

    def _challenged(self, attempts: Any, started: float, principal: dict[str, Any]) -> dict[str, Any]:
        """The principal to challenge, with the hook its pending authentication reports the outcome to."""
        def outcome(ok: bool) -> tuple[bool, float]:
            accepted = self.throttle.end(attempts, ok) and ok
            return accepted, 0.0 if accepted else self.deny_delay(started)

        principal[OUTCOME_HOOK] = outcome
        return principal


def create_authenticator(config: dict[str, Any] | None, controller: Any = None) -> Authenticator:
    """Factory named in the node config; ``config`` is the authenticator's "config" item."""
    # The reactor Crossbar installed: imported earlier, this would install Twisted's default one.
    from twisted.internet import reactor

    parsed = parse_auth(config)
    # Crossbar workers run in the node directory, so relative paths resolve against it.
    path = resolve_path(parsed.database.path, os.getcwd())
    db = node_services(path, parsed.database).db
    a = parsed.argon2
    credentials = CredentialService(db, hasher=owasp_argon2id(a.memory_kib, a.time_cost, a.parallelism),
                                    wampcra_iterations=parsed.wampcra.iterations)
    log.info("cfxstore authenticator active (database {path})", path=shown(path))
    return Authenticator(credentials, parsed, reactor, cbdir=os.getcwd())
