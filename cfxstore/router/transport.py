"""Give Crossbar's WebSocket factories a cfxstore cookie store.

Crossbar builds its WebSocket factories in three places (plain "websocket"
transports, the "websocket" map of "universal" transports, and "websocket"
paths of Web transports) and only knows the memory, file and database cookie
stores. Each place is wrapped here: Crossbar builds the factory from a copy of
the config whose cfxstore store is swapped for a memory store, then the
factory's cookie store is replaced by a cfxstore one and the factory gets its
original config back.

Opening a cookie database and attaching its schema is a round trip or more
on PostgreSQL: it is done in a thread before Crossbar builds the factories
(``_open_cookie_databases``), as is ``purge_on_startup``, so the reactor
goes on serving the worker's other transports meanwhile; building the store
afterwards reads nothing.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Mapping

from autobahn.twisted.resource import WebSocketResource
from twisted.internet import task, threads
from twisted.internet.defer import inlineCallbacks
from txaio import make_logger  # type: ignore[attr-defined]  # txaio defines it once a framework is chosen

from crossbar.router.protocol import WampWebSocketServerFactory
from crossbar.router.unisocket import UniSocketServerFactory
from crossbar.webservice.websocket import RouterWebServiceWebSocket
from crossbar.worker.transport import RouterTransport, RouterWebTransport

from cfxstore.node.config import is_cfxstore_cookie, parse_cookie, resolve_path
from cfxstore.node.errors import RouterConfigError
from cfxstore.registry import Slot, registry
from cfxstore.router import logfilter
from cfxstore.router.cluster import follow_deletions
from cfxstore.router.cookiebackend import PURGE_ALL, CookieBackend, cookie_backend
from cfxstore.router.cookieprotocol import CookieAwareServerProtocol
from cfxstore.router.cookiestore import CfxCookieStore
from cfxstore.router.reactorguard import guard_reactor
from cfxstore.router.services import node_services
from orm.engine.pgurl import shown

log = make_logger()
#: The cookie backends whose maintenance (purging, following deletions made elsewhere) runs.
MAINTAINED: Slot[CookieBackend] = Slot("maintained cookie backend")
#: How many cookies purge_on_startup deleted, per database path (once per process).
PURGED: Slot[int] = Slot("cookies purged on startup")


def make_cookie_store(cookie: Mapping[str, Any], cbdir: str | None) -> CfxCookieStore:
    """A cfxstore cookie store for a transport's "cookie" item (validated here)."""
    # The reactor Crossbar installed: imported earlier, this would install Twisted's default one.
    from twisted.internet import reactor

    guard_reactor()
    config = parse_cookie(cookie)
    logfilter.add_cookie_name(config.name)
    if config.length_warning:
        log.warn("cfxstore: {warning}", warning=config.length_warning)
    path = resolve_path(config.database.path, cbdir)
    node = node_services(path, config.database)
    writer = node.writer(delay=config.flush_ms / 1000.0, max_items=config.max_pending, reactor=reactor,
                         defer_to_thread=threads.deferToThread)
    backend = cookie_backend(path, node.cookies, config, writer, reactor)

    def maintain() -> CookieBackend:
        _start_maintenance(backend, path if config.purge_on_startup else None, config.purge_interval)
        follow_deletions(backend, node.db, reactor)
        return backend

    registry.get(MAINTAINED, path, maintain)
    log.info("cfxstore cookie store active (database {path})", path=shown(path))
    return CfxCookieStore(backend, config)


def _cookie_configs(config: Any) -> list[Mapping[str, Any]]:
    """Every cfxstore "cookie" item in a transport's config (its websocket maps and Web paths included)."""
    found: list[Mapping[str, Any]] = []
    if isinstance(config, Mapping):
        if is_cfxstore_cookie(config.get("cookie")):
            found.append(config["cookie"])
        for value in config.values():
            found.extend(_cookie_configs(value))
    elif isinstance(config, list):
        for value in config:
            found.extend(_cookie_configs(value))
    return found


def _open_cookie_databases(config: Mapping[str, Any], cbdir: str | None) -> Any:
    """Open the transport's cookie databases and attach their schema in a thread (a Deferred), or None if
    it has none. A config error is left for make_cookie_store to report, as it always has."""
    def open_all() -> None:
        for cookie in cookies:
            parsed = parse_cookie(cookie)
            path = resolve_path(parsed.database.path, cbdir)
            service = node_services(path, parsed.database).cookies
            if parsed.purge_on_startup:
                # Before the path's first store exists, so nothing of it is staged or cached yet.
                registry.get(PURGED, path, partial(service.purge_expired, now=PURGE_ALL))

    cookies = _cookie_configs(config)
    if not cookies:
        return None
    guard_reactor()
    d = threads.deferToThread(open_all)
    d.addErrback(lambda f: None if f.check(RouterConfigError) else f)
    return d


def _start_maintenance(backend: CookieBackend, purge_path: str | None, purge_interval: float) -> None:
    """``purge_path``: the path whose cookies purge_on_startup deleted (in the opening thread), else None."""
    if purge_path is not None:
        log.warn("cfxstore: purge_on_startup is set: deleted {n} stored cookies",
                 n=registry.get(PURGED, purge_path, backend.purge_all))
    if purge_interval > 0:
        def purge() -> Any:
            d = threads.deferToThread(backend.purge_expired)
            d.addErrback(lambda f: log.failure("cfxstore: purging expired cookies failed", failure=f))
            return d

        task.LoopingCall(purge).start(purge_interval, now=True)


def _stand_in(ws_config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The websocket config with a cfxstore cookie store swapped for a memory one."""
    cookie = ws_config.get("cookie")
    if not is_cfxstore_cookie(cookie):
        return ws_config
    return {**ws_config, "cookie": {**cookie, "store": {"type": "memory"}}}


def _install(factory: WampWebSocketServerFactory, ws_config: Mapping[str, Any], cbdir: str | None) -> None:
    if is_cfxstore_cookie(ws_config.get("cookie")):
        factory._cookiestore = make_cookie_store(ws_config["cookie"], cbdir)
        factory._config = ws_config
        factory.protocol = CookieAwareServerProtocol


def _universal_stand_in(config: Mapping[str, Any]) -> Mapping[str, Any]:
    websockets = config.get("websocket")
    if not isinstance(websockets, Mapping):
        return config
    return {**config, "websocket": {path: _stand_in(ws) for path, ws in websockets.items()}}


# The mixin is only ever combined with a RouterTransport: type checkers read it as one.
if TYPE_CHECKING:
    _MixinBase = RouterTransport
else:
    _MixinBase = object


class _CookieAwareFactoryMixin(_MixinBase):
    """Overrides RouterTransport._create_factory (see the module docstring)."""

    _config: Mapping[str, Any]

    @inlineCallbacks
    def _create_factory(self, create_paths: bool = False, ignore: list[str] = []):  # noqa: B006 (Crossbar's signature)
        original = self._config
        yield _open_cookie_databases(original, self._cbdir)
        if original["type"] == "websocket":
            stand_in = _stand_in(original)
        elif original["type"] == "universal":
            stand_in = _universal_stand_in(original)
        else:
            stand_in = original
        self._config = stand_in
        try:
            factory, root = yield super()._create_factory(create_paths, ignore)
        finally:
            self._config = original
        if isinstance(factory, WampWebSocketServerFactory):
            _install(factory, original, self._cbdir)
        elif isinstance(factory, UniSocketServerFactory) and factory._websocket_factory_map:
            for path, ws_factory in factory._websocket_factory_map.items():
                _install(ws_factory, original["websocket"][path], self._cbdir)
        return factory, root


class CfxRouterTransport(_CookieAwareFactoryMixin, RouterTransport):
    """A listening router transport whose WebSocket factories may use cfxstore cookies."""


class CfxRouterWebTransport(_CookieAwareFactoryMixin, RouterWebTransport):
    """A Web/universal router transport whose WebSocket factories may use cfxstore cookies."""


def create_router_transport(worker: Any, transport_id: str, config: Mapping[str, Any]) -> RouterTransport:
    """Personality hook: Crossbar's choice of transport class, with cfxstore cookie support."""
    if config["type"] == "web" or (config["type"] == "universal" and config.get("web", {})):
        return CfxRouterWebTransport(worker, transport_id, config)
    return CfxRouterTransport(worker, transport_id, config)


class CfxWebSocketService(RouterWebServiceWebSocket):
    """The "websocket" Web service, with cfxstore cookie support."""

    @staticmethod
    def create(transport: Any, path: str, config: Mapping[str, Any]) -> "CfxWebSocketService":
        factory = WampWebSocketServerFactory(transport._worker._router_session_factory, transport.cbdir,
                                             _stand_in(config), transport.templates)
        _install(factory, config, transport.cbdir)
        factory.startFactory()
        return CfxWebSocketService(transport, path, config, WebSocketResource(factory))
