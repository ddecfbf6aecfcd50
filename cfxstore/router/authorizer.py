"""A dynamic authorizer for Crossbar roles, answering from the roles and permissions in cfxstore.

Run it on the application realm (as a router component, or standalone) and
name its procedure in the roles it should authorize::

    "roles": [{"name": "frontend", "authorizer": "cfxstore.authorize"}, ...],
    "components": [{"type": "class", "classname": "cfxstore.router.authorizer.StoreAuthorizerComponent",
                    "realm": "realm1", "role": "cfxstore",
                    "extra": {"path": "cfxstore-db"}}]

Crossbar calls ``authorize(session, uri, action, options)`` from the realm's
service session; the answer never asks Crossbar to cache it (Crossbar's cache
has no invalidation), the component caches instead and drops its cache when
roles or permissions change - so changes apply to sessions already joined.

A cached answer is given on the reactor; one that needs the database is read
in a thread, and refused at once while the
database is known to be unreachable. Crossbar sends the text of a failed
authorization to the client, so every failure is answered with a fixed,
generic error: a client never sees the database's URL or error text (the
node's log keeps it, redacted).
"""

from __future__ import annotations

from typing import Any

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from twisted.internet import threads
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.logger import Logger

from cfxstore.management.authorizer import StoreAuthorizer
from cfxstore.management.errors import ManagementError
from cfxstore.registry import Slot, registry
from cfxstore.router.availability import StoreUnavailable, availability
from cfxstore.router.components import INTERNAL_ERROR, component_config, shared_database
from cfxstore.router.strictmatch import OPTION as STRICT_OPTION

__all__ = ["StoreAuthorizerComponent", "authorizer_for"]

AUTHORIZERS: Slot[StoreAuthorizer] = Slot("authorizer")
STORE = "authorization store"
#: What a client is told when a decision failed for any reason but an outage (the log says why).
FAILED = "the authorization could not be decided; retry later"
log = Logger()


def authorizer_for(path: str) -> StoreAuthorizer:
    """One authorizer (and cache) per database per process, shared by every realm's component."""
    return registry.get(AUTHORIZERS, path, lambda: StoreAuthorizer(shared_database(path)))


class StoreAuthorizerComponent(ApplicationSession):
    """Registers the authorizer procedure on the realm it joins."""

    @inlineCallbacks
    def onJoin(self, details: Any):
        config = component_config(self)
        if config is None:
            return
        # The stored application realm is the joined one unless "store_realm" maps it.
        # Kept apart from ApplicationSession._realm, the realm the session joined.
        self._stored_realm: str = config.store_realm or details.realm
        # Attaching the schema is a round trip or more on PostgreSQL: in a thread, not on the reactor.
        self._authz = yield threads.deferToThread(authorizer_for, config.path)
        yield self.register(self.authorize, config.procedure)
        self.log.info("cfxstore authorizer {proc} ready on realm {realm}", proc=config.procedure, realm=details.realm)

    def authorize(self, session: Any, uri: Any, action: Any, options: Any = None
                  ) -> dict[str, Any] | Deferred[dict[str, Any]]:
        role = session.get("authrole") if isinstance(session, dict) else None
        if not isinstance(role, str):
            raise ApplicationError("cfxstore.error.invalid_argument", "session: expected session details "
                                                                      "with an authrole")
        # A strict realm (strictmatch.py) asks about a prefix or wildcard subscription or registration
        # with its match policy: granted only where the permissions cover every URI it can match.
        strict = isinstance(options, dict) and options.get(STRICT_OPTION) is True
        match = options.get("match") if strict else None
        question = (self._stored_realm, role, uri, action, match or "exact")
        answer = self._authz.cached(*question)
        if answer is not None:
            return answer
        db = self._authz.db
        gate = availability(db)
        gate.check(STORE)  # fails closed at once while the database is known to be down
        return threads.deferToThread(self._decide, question)  # the database is never waited on on the reactor

    def _decide(self, question: tuple[str, str, Any, Any, Any]) -> dict[str, Any]:
        try:
            return availability(self._authz.db).call(STORE, lambda: self._authz.authorize(*question))
        except (StoreUnavailable, ApplicationError):
            raise
        except ManagementError as exc:  # a malformed question: the message names the argument, nothing stored
            raise ApplicationError(exc.uri, str(exc)) from None
        except Exception as exc:
            log.error("cfxstore authorizer: deciding {action} on {uri} for role {role} failed: {error}",
                      action=question[3], uri=question[2], role=question[1], error=f"{type(exc).__name__}: {exc}")
            raise ApplicationError(INTERNAL_ERROR, FAILED) from None
