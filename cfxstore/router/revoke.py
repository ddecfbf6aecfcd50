"""Revoking every cookie of an authid, from inside a router worker.

``revoke_authid`` deletes the cookies from every cfxstore cookie database of
this worker and closes the WebSocket connections that presented or received
them. ``CookieRevocation`` is a router component that offers it as the WAMP
procedure ``cfxstore.cookie.revoke_by_authid``::

    "components": [{"type": "class", "classname": "cfxstore.router.revoke.CookieRevocation",
                    "realm": "realm1", "role": "cfxstore",
                    "extra": {"allowed_roles": ["admin"]}}]

Only callers whose authrole is in ``allowed_roles`` may call it; the caller's
role must be disclosed to the callee ("disclose": {"caller": true} on the
calling role's permission), otherwise the call is refused.
"""

from __future__ import annotations

from typing import Any

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import RegisterOptions
from twisted.internet.defer import Deferred, FirstError, gatherResults, inlineCallbacks

from cfxstore.node.errors import RouterConfigError
from cfxstore.router.committed import committed
from cfxstore.router.cookiebackend import STORE, CookieBackend, all_backends
from cfxstore.router.dbcalls import database_calls

PROCEDURE = "cfxstore.cookie.revoke_by_authid"


def revoke_authid(authid: str) -> Deferred:
    """Delete the cookies of authid in this process's databases and close their connections (a Deferred
    of the counts). The writes staged before it commit first and the deletions are made in threads, off
    the reactor (committed.py, dbcalls.py); StoreUnavailable at once while a database is unreachable."""
    # The reactor Crossbar installed: imported earlier, this would install Twisted's default one.
    from twisted.internet import reactor

    backends = all_backends()
    for backend in backends:
        backend.writer.availability.check(STORE)

    def revoke(backend: CookieBackend) -> Deferred:
        calls = database_calls(backend.service.db, reactor)
        d = committed(backend.writer, reactor)
        d.addCallback(lambda _: calls.deferred(STORE, backend.delete_authid, authid))
        d.addCallback(lambda hashes: (backend, hashes))
        return d

    def close(revoked: list[tuple[CookieBackend, list[bytes]]]) -> dict[str, Any]:
        cookies = closed = 0
        for backend, hashes in revoked:
            backend.revoked(hashes)
            for value_hash in hashes:
                cookies += 1
                closed += backend.close_connections(value_hash)
        return {"authid": authid, "cookies_deleted": cookies, "connections_closed": closed}

    d = gatherResults([revoke(backend) for backend in backends], consumeErrors=True)
    d.addErrback(lambda failure: failure.value.subFailure if failure.check(FirstError) else failure)
    return d.addCallback(close)


def allowed_roles(extra: Any) -> frozenset[str]:
    """The roles the component's "extra" allows to revoke (validated)."""
    extra = extra or {}
    if not isinstance(extra, dict):
        raise RouterConfigError("components[].extra", "expected a dict")
    roles = extra.get("allowed_roles", ["admin"])
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) and r for r in roles):
        raise RouterConfigError("components[].extra.allowed_roles", f"expected a non-empty list of role names, "
                                                                    f"got {roles!r}")
    procedure = extra.get("procedure", PROCEDURE)
    if not isinstance(procedure, str) or not procedure:
        raise RouterConfigError("components[].extra.procedure", f"expected a URI, got {procedure!r}")
    return frozenset(roles)


class CookieRevocation(ApplicationSession):
    """Router component registering the revocation procedure."""

    @inlineCallbacks
    def onJoin(self, details: Any):
        extra = self.config.extra
        self._allowed = allowed_roles(extra)
        procedure = (extra or {}).get("procedure", PROCEDURE)
        yield self.register(self.revoke_by_authid, procedure, options=RegisterOptions(details_arg="details"))

    def revoke_by_authid(self, authid: str, details: Any = None) -> Deferred:
        role = getattr(details, "caller_authrole", None)
        if role is None:
            raise ApplicationError(ApplicationError.NOT_AUTHORIZED,
                                   "caller not disclosed: enable \"disclose\": {\"caller\": true} for this procedure")
        if role not in self._allowed:
            raise ApplicationError(ApplicationError.NOT_AUTHORIZED, f"role {role!r} may not revoke cookies")
        if not isinstance(authid, str) or not authid:
            raise ApplicationError(ApplicationError.INVALID_ARGUMENT, "authid must be a non-empty string")
        return revoke_authid(authid)  # StoreUnavailable reaches the caller as a WAMP error
