"""The management API as a WAMP component: procedures under a prefix, change events on topics.

As a router component on the management realm::

    "components": [{"type": "class", "classname": "cfxstore.router.management.ManagementComponent",
                    "realm": "mgmt", "role": "cfxstore",
                    "extra": {"path": "cfxstore-db", "prefix": "cfxstore.mgmt.", "admin_roles": ["admin"]}}]

or standalone against any Crossbar (standalone.py). Only callers whose
authrole is in ``admin_roles`` may call; their role must be disclosed
("disclose": {"caller": true} on their permission). Refusals are WAMP errors
with the URIs of cfxstore.management.errors. Every change committed through
the service layer - by this API, another one, the CLI or any other process -
is published once by each component on ``<prefix><kind>.on_created|on_updated|on_deleted``:
the component follows the database's change feed (cfxstore/management/feed.py),
woken by commits in its own process, by PostgreSQL notifications where the
database has them, and by a check of the stored sequence every FOLLOW_INTERVAL
seconds (PG_FOLLOW_INTERVAL on PostgreSQL, where it only covers lost notifications).
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import RegisterOptions
from twisted.internet import reactor, threads
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import LoopingCall

from cfxstore.management import feed
from cfxstore.management.api import CHANGE_TOPIC, SLOW, procedures
from cfxstore.management.errors import InvalidArgument, ManagementError, NotAuthorized
from cfxstore.management.service import Management
from cfxstore.router.components import INTERNAL_ERROR, component_config, shared_database
from cfxstore.router.cookiebackend import all_backends
from cfxstore.router.revoke import revoke_authid

__all__ = ["ManagementComponent", "FOLLOW_INTERVAL", "PG_FOLLOW_INTERVAL"]

FOLLOW_INTERVAL = 0.25
PG_FOLLOW_INTERVAL = 5.0


class ManagementComponent(ApplicationSession):
    """Registers every management procedure and publishes changes."""

    @inlineCallbacks
    def onJoin(self, details: Any):
        config = component_config(self)
        if config is None:
            return
        self._prefix = config.prefix
        self._admin_roles = config.admin_roles
        self._mgmt = Management(shared_database(config.path))
        self._follow_feed()
        revoke = _worker_revocation()
        for name, fn in procedures(self._mgmt, revoke=revoke).items():
            yield self.register(self._wrap(name, fn), config.prefix + name,
                                options=RegisterOptions(details_arg="_details"))
        self.log.info("cfxstore management API ready under {prefix} on realm {realm}",
                      prefix=config.prefix, realm=details.realm)

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(fn)
        uri = self._prefix + name
        slow = name in SLOW

        def call(*args: Any, _details: Any = None, **kwargs: Any) -> Any:
            self._check_caller(uri, _details)
            try:
                signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise ApplicationError(InvalidArgument.uri, f"{uri}: {exc}; expected {name}{signature}") from None
            if slow:
                d = threads.deferToThread(self._run, uri, fn, args, kwargs)
                return d
            return self._run(uri, fn, args, kwargs)

        return call

    def _run(self, uri: str, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        try:
            return fn(*args, **kwargs)
        except ManagementError as exc:
            raise ApplicationError(exc.uri, str(exc)) from None
        except Exception:
            self.log.failure("cfxstore management procedure {uri} failed", uri=uri)
            raise ApplicationError(INTERNAL_ERROR, f"{uri}: internal error (see the router log)") from None

    def _check_caller(self, uri: str, details: Any) -> None:
        role = getattr(details, "caller_authrole", None)
        if role is None:
            raise ApplicationError(NotAuthorized.uri, f"{uri}: caller not disclosed; enable \"disclose\": "
                                                      "{\"caller\": true} on the caller's permission")
        if role not in self._admin_roles:
            raise ApplicationError(NotAuthorized.uri, f"{uri}: role {role!r} may not use the management API")

    # -- publishing the change feed --------------------------------------------

    def _follow_feed(self) -> None:
        """Publish every change committed after now; the stored sequence says what is new."""
        self._feed = feed.ChangeFeed(self._mgmt.db)
        self._position = self._feed.last()

        def wake(*_: Any) -> None:  # from any thread: commits and notifications arrive on others
            reactor.callFromThread(self._publish_new)

        self._stops = [feed.on_local_commit(self._mgmt.db, wake)]
        shared = self._mgmt.db.notifies_other_processes
        if shared:
            self._stops.append(self._mgmt.db.listen(feed.CHANNEL, wake).stop)
        loop = LoopingCall(self._publish_new)
        loop.start(PG_FOLLOW_INTERVAL if shared else FOLLOW_INTERVAL, now=False)
        self._stops.append(loop.stop)

    def _publish_new(self) -> None:
        # Runs on the reactor thread only, so each entry is published once.
        try:
            if self.is_attached() and self._feed.last() > self._position:
                self._publish_after()
        except Exception:  # a database that is briefly unreachable: the next wake-up reads again
            self.log.failure("cfxstore management: reading the change feed failed")

    def _publish_after(self) -> None:
        for seq, entry in self._feed.follow(self._position):
            if seq > self._position + 1:
                self.log.warn("cfxstore management: changes {first}..{last} were trimmed from the feed before "
                              "they could be published", first=self._position + 1, last=seq - 1)
            self._position = seq
            topic = self._prefix + CHANGE_TOPIC.format(kind=entry["kind"], op=entry["op"])
            self.publish(topic, entry["record"])

    def onLeave(self, details: Any) -> None:
        for stop in getattr(self, "_stops", []):
            stop()
        self._stops = []
        super().onLeave(details)


def _worker_revocation() -> Callable[[str], Any]:
    """Revocation that, inside a router worker with cfxstore cookie stores, also closes connections.

    Decided per call: components start before the transports that create the cookie stores.
    """
    def revoke(authid: str) -> Any:
        return revoke_authid(authid) if all_backends() else None

    return revoke
