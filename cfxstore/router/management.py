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
Opening the database, every procedure and every read of the feed run in the
process's management pool (cfxstore.nonblocking), never on the reactor: a
database that stalls holds up only the calls that wait for it.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, cast

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import RegisterOptions
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import LoopingCall
from twisted.internet.threads import blockingCallFromThread
from twisted.python.failure import Failure

from cfxstore.errors import Error
from cfxstore.management import feed
from cfxstore.management.api import CHANGE_TOPIC, procedures
from cfxstore.management.errors import InvalidArgument, ManagementError, NotAuthorized
from cfxstore.management.service import Management
from cfxstore.nonblocking import ServicePool, deferred
from cfxstore.router.components import INTERNAL_ERROR, component_config, shared_database
from cfxstore.router.cookiebackend import all_backends
from cfxstore.router.revoke import revoke_authid

__all__ = ["ManagementComponent", "FOLLOW_INTERVAL", "PG_FOLLOW_INTERVAL", "THREADS", "WAITING"]

FOLLOW_INTERVAL = 0.25
PG_FOLLOW_INTERVAL = 5.0
#: Threads of the process's management pool, and calls that may wait for one; a call beyond them is
#: refused at once with cfxstore.error.busy.
THREADS = 4
WAITING = 1000

_pool: ServicePool | None = None


def management_pool() -> ServicePool:
    """The pool in which every management component of this process waits for its database."""
    global _pool
    if _pool is None:
        _pool = ServicePool(THREADS, WAITING, name="cfxstore-management")
        # After the shutdown steps (shutdown.py) ran: calls still waiting then fail, running ones end.
        cast(Any, reactor).addSystemEventTrigger("during", "shutdown", _pool.close)
    return _pool


class ManagementComponent(ApplicationSession):
    """Registers every management procedure and publishes changes; its database work runs in a pool."""

    @inlineCallbacks
    def onJoin(self, details: Any):
        config = component_config(self)
        if config is None:
            return
        self._prefix = config.prefix
        self._admin_roles = config.admin_roles
        self._pool = management_pool()
        self._mgmt = yield deferred.run(self._pool, lambda: Management(shared_database(config.path)))
        yield self._follow_feed()
        revoke = _worker_revocation()
        for name, fn in procedures(self._mgmt, revoke=revoke).items():
            yield self.register(self._wrap(name, fn), config.prefix + name,
                                options=RegisterOptions(details_arg="_details"))
        self.log.info("cfxstore management API ready under {prefix} on realm {realm}",
                      prefix=config.prefix, realm=details.realm)

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(fn)
        uri = self._prefix + name

        def call(*args: Any, _details: Any = None, **kwargs: Any) -> Deferred:
            self._check_caller(uri, _details)
            try:
                signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise ApplicationError(InvalidArgument.uri, f"{uri}: {exc}; expected {name}{signature}") from None
            d = deferred.run(self._pool, self._run, uri, fn, args, kwargs)
            d.addErrback(_refused, uri)
            return d

        return call

    def _run(self, uri: str, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        # In a thread of the pool.
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

    @inlineCallbacks
    def _follow_feed(self):
        """Publish every change committed after now; the stored sequence says what is new.

        The feed is read in the pool, one read at a time; a wake-up during a read asks for one more.
        """
        self._feed = deferred.wrap((yield deferred.run(self._pool, feed.ChangeFeed, self._mgmt.db)), self._pool)
        self._position = yield self._feed.last()
        self._reading = self._again = False
        if not self.is_attached():  # left while the feed was read: nothing to follow
            return

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
        # On the reactor thread only; with one read at a time each entry is published once.
        if self._reading:
            self._again = True
            return
        if not self.is_attached():
            return
        self._reading, self._again = True, False
        d = self._feed.follow(self._position)
        d.addCallback(self._publish)
        # A database that is briefly unreachable: the next wake-up reads again.
        d.addErrback(lambda failure: self.log.failure("cfxstore management: reading the change feed failed",
                                                      failure=failure))
        d.addBoth(self._read_done)

    def _read_done(self, _: Any) -> None:
        self._reading = False
        if self._again:
            self._publish_new()

    def _publish(self, entries: list[tuple[int, dict[str, Any]]]) -> None:
        if not self.is_attached():  # left while reading: what was read is not published
            return
        for seq, entry in entries:
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


def _refused(failure: Failure, uri: str) -> Failure:
    """A call the pool refused (full, or closed at shutdown) as the WAMP error of its cfxstore error."""
    exc = failure.value
    if isinstance(exc, Error) and not isinstance(exc, ApplicationError):
        raise ApplicationError(exc.uri, f"{uri}: {exc}")
    return failure


def _worker_revocation() -> Callable[[str], Any]:
    """Revocation that, inside a router worker with cfxstore cookie stores, also closes connections.

    Decided per call: components start before the transports that create the cookie stores. Called in
    the pool; the revocation closes connections, so it runs on the reactor while the pool's thread waits.
    """
    def revoke(authid: str) -> Any:
        return blockingCallFromThread(reactor, lambda: revoke_authid(authid) if all_backends() else None)

    return revoke
