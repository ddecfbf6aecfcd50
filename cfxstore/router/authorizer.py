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
"""

from __future__ import annotations

from typing import Any

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from twisted.internet.defer import inlineCallbacks

from cfxstore.management.authorizer import StoreAuthorizer
from cfxstore.management.errors import ManagementError
from cfxstore.registry import Slot, registry
from cfxstore.router.components import component_config, shared_database

__all__ = ["StoreAuthorizerComponent", "authorizer_for"]

AUTHORIZERS: Slot[StoreAuthorizer] = Slot("authorizer")


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
        self._authz = authorizer_for(config.path)
        yield self.register(self.authorize, config.procedure)
        self.log.info("cfxstore authorizer {proc} ready on realm {realm}", proc=config.procedure, realm=details.realm)

    def authorize(self, session: Any, uri: Any, action: Any, options: Any = None) -> dict[str, Any]:
        role = session.get("authrole") if isinstance(session, dict) else None
        if not isinstance(role, str):
            raise ApplicationError("cfxstore.error.invalid_argument", "session: expected session details "
                                                                      "with an authrole")
        try:
            return self._authz.authorize(self._stored_realm, role, uri, action)
        except ManagementError as exc:
            raise ApplicationError(exc.uri, str(exc)) from None
