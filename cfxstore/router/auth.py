"""Crossbar "function" authenticator for WAMP-Ticket and WAMP-CRA on cfxstore credentials.

Node config (one transport's "auth" item)::

    "ticket":  {"type": "function", "create": "cfxstore.router.auth.create_authenticator",
                "config": {"path": "cfxstore-db"}},
    "wampcra": {"type": "function", "create": "cfxstore.router.auth.create_authenticator",
                "config": {"path": "cfxstore-db"}}

Crossbar imports ``create_authenticator``, calls it once per worker and
*caches the result by the "create" name*, so all auth methods (and
transports) of a worker share the first config given; use one config.

Tickets are argon2id hashes: verifying one takes tens of milliseconds of CPU,
so it runs in the reactor's thread pool. Failed attempts are throttled per
(realm, authid), for both methods: WAMP-CRA returns the stored derived key and
a hook through which cfxstore's WAMP-CRA handler (wampcra.py) reports whether
the client's signature matched.
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable

from autobahn.wamp.exception import ApplicationError
from twisted.internet import threads
from twisted.internet.defer import Deferred, inlineCallbacks
from txaio import make_logger

from cfxstore.credentials.service import CredentialService
from cfxstore.router.config import parse_auth, resolve_path
from cfxstore.router.services import node_services
from cfxstore.router.throttle import FailureThrottle
from cfxstore.router.wampcra import DERIVED_FLAG, OUTCOME_HOOK

log = make_logger()

FAILED = ApplicationError.AUTHENTICATION_FAILED


class Authenticator:
    """``authenticate(realm, authid, details)`` as Crossbar's function authenticators are called."""

    def __init__(self, credentials: CredentialService, throttle: FailureThrottle,
                 defer_to_thread: Callable[..., Deferred] = threads.deferToThread) -> None:
        self._credentials = credentials
        self._throttle = throttle
        self._defer_to_thread = defer_to_thread

    def __call__(self, realm: str, authid: str, details: dict[str, Any]) -> Deferred:
        method = details.get("authmethod")
        if not isinstance(realm, str) or not realm:
            raise ApplicationError(ApplicationError.NO_SUCH_REALM, "no realm requested")
        if not isinstance(authid, str) or not authid:
            raise ApplicationError(FAILED, "an authid is required")
        if method == "ticket":
            return self._ticket(realm, authid, details.get("ticket"))
        if method == "wampcra":
            return self._wampcra(realm, authid)
        raise ApplicationError(FAILED, f"cfxstore authenticator does not handle authmethod {method!r}")

    @inlineCallbacks
    def _ticket(self, realm: str, authid: str, ticket: Any):
        if not isinstance(ticket, str):
            raise ApplicationError(FAILED, "no ticket given")
        key = (realm, authid)
        self._begin(key)
        principal = None
        try:
            principal = yield self._defer_to_thread(self._credentials.verify_ticket, realm, authid, ticket)
        finally:
            self._throttle.end(key, principal is not None)
        if principal is None:
            raise ApplicationError(FAILED, "invalid authid or ticket")
        result = {"realm": principal.realm, "authid": principal.authid, "role": principal.role}
        if principal.extra is not None:
            result["extra"] = principal.extra
        return result

    def _begin(self, key: tuple[str, str]) -> None:
        wait = self._throttle.begin(key)
        if wait:
            raise ApplicationError(FAILED, f"too many failed attempts; retry in {math.ceil(wait)} s")

    @inlineCallbacks
    def _wampcra(self, realm: str, authid: str):
        key = (realm, authid)
        self._begin(key)
        cra = None
        try:
            cra = yield self._defer_to_thread(self._credentials.get_wampcra, realm, authid)
        finally:
            if cra is None:
                self._throttle.end(key, False)
        if cra is None:
            raise ApplicationError(FAILED, "invalid authid")
        principal = {k: cra[k] for k in ("secret", "salt", "iterations", "keylen", "role", "authid", "realm")}
        if cra.get("extra") is not None:
            principal["extra"] = cra["extra"]
        principal[DERIVED_FLAG] = True
        principal[OUTCOME_HOOK] = lambda ok: self._throttle.end(key, ok)
        return principal


def create_authenticator(config: dict[str, Any] | None, controller: Any = None) -> Authenticator:
    """Factory named in the node config; ``config`` is the authenticator's "config" item."""
    parsed = parse_auth(config)
    # Crossbar workers run in the node directory, so relative paths resolve against it.
    path = resolve_path(parsed.database.path, os.getcwd())
    node = node_services(path, parsed.database)
    log.info("cfxstore authenticator active (database {path})", path=path)
    return Authenticator(node.credentials, FailureThrottle(parsed.throttle))
