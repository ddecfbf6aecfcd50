"""The Crossbar node personality that plugs cfxstore in.

Crossbar has no entry points for third-party cookie or realm stores; its
Personality class is the policy object every node and worker process consults
(the controller passes the class's dotted name to the workers it spawns). This
subclass:

* registers the realm store type "cfxstore";
* lets a WebSocket "cookie" item use ``"store": {"type": "cfxstore", ...}``;
* validates every cfxstore item (cookie store, realm store, authenticator
  config, revocation component) when the node config is checked, so bad config stops the node at
  startup with a message naming the key;
* signs WAMP-CRA challenges with the derived keys cfxstore stores;
* runs router workers that honour a realm's ``strict_match`` option (strictmatch.py) and count
  every login (loginmetrics.py);
* serves the "cfxstore-health" and "cfxstore-metrics" paths of Web transports (monitorweb.py);
* keeps cookie values, tickets and Authorization headers out of the logs
  (logfilter.py).
"""

from __future__ import annotations

from typing import Any, Mapping

import crossbar

# Pre-import the WAMP serializers the way Crossbar's own CLI does, which keeps
# a harmless NumPy ABI notice of an optional serializer off the console.
getattr(crossbar, "_import_serializers_quietly", lambda: None)()

from crossbar import personality as crossbar_personality  # noqa: E402
from crossbar.common import checkconfig  # noqa: E402
from crossbar.common.checkconfig import InvalidConfigException  # noqa: E402

from cfxstore.node.config import (  # noqa: E402
    HEALTH_SERVICE,
    METRICS_SERVICE,
    STORE_TYPE,
    is_cfxstore_cookie,
    parse_auth,
    parse_cookie,
    parse_monitoring,
    parse_realm_store,
)
from cfxstore.node.errors import RouterConfigError  # noqa: E402
from cfxstore.node.nodeconfig import AUTHENTICATOR, REVOCATION_COMPONENT  # noqa: E402
from cfxstore.router import cryptosign, logfilter, scram, strictmatch, tls, wampcra  # noqa: E402
from cfxstore.router.loginmetrics import CountingRouterController  # noqa: E402
from cfxstore.router.monitorweb import HealthService, MetricsService  # noqa: E402
from cfxstore.router.realmstore import CfxRealmStore  # noqa: E402
from cfxstore.router.revoke import allowed_roles  # noqa: E402
from cfxstore.router.transport import (  # noqa: E402
    CfxRouterTransport,
    CfxRouterWebTransport,
    CfxWebSocketService,
    create_router_transport,
)

wampcra.install()
scram.install()
tls.install()
cryptosign.install()
logfilter.install()  # the controller and every worker import this module


def _invalid(error: RouterConfigError) -> InvalidConfigException:
    return InvalidConfigException(str(error))


def check_transport_cookie(personality: Any, cookie: Any, ignore: list[str] = []) -> None:  # noqa: B006
    """Crossbar's cookie check, with the "cfxstore" store type."""
    if isinstance(cookie, Mapping) and isinstance(cookie.get("name"), str):
        logfilter.add_cookie_name(cookie["name"])
    if is_cfxstore_cookie(cookie):
        try:
            parse_cookie(cookie)
        except RouterConfigError as e:
            raise _invalid(e) from None
    else:
        checkconfig.check_transport_cookie(personality, cookie, ignore)


def check_transport_auth(personality: Any, auth: Any, ignore: list[str] = [], checks: Any = None) -> None:  # noqa: B006
    """Crossbar's auth check, plus the config of cfxstore's function authenticator."""
    checkconfig.check_transport_auth(personality, auth, ignore, checks)
    for method, item in auth.items():
        if isinstance(item, Mapping) and item.get("type") == "function" and item.get("create") == AUTHENTICATOR:
            try:
                parse_auth(item.get("config"), key=f"auth.{method}.config")
            except RouterConfigError as e:
                raise _invalid(e) from None


def check_router_realm(personality: Any, realm: Any, ignore: list[str] = []) -> None:  # noqa: B006
    """Crossbar's realm check, plus a "cfxstore" realm store and the strict_match option."""
    checkconfig.check_router_realm(personality, realm, [*ignore, strictmatch.OPTION])
    options = realm.get("options") if isinstance(realm, Mapping) else None
    if isinstance(options, Mapping) and not isinstance(options.get(strictmatch.OPTION, False), bool):
        raise InvalidConfigException(f"realms[{realm.get('name')}].options.{strictmatch.OPTION}: expected true "
                                     f"or false, got {options[strictmatch.OPTION]!r}")
    store = realm.get("store") if isinstance(realm, Mapping) else None
    if isinstance(store, Mapping) and store.get("type") == STORE_TYPE:
        try:
            parse_realm_store(store, key=f"realms[{realm.get('name')}].store")
        except RouterConfigError as e:
            raise _invalid(e) from None


def check_router_component(personality: Any, component: Any, ignore: list[str] = []) -> None:  # noqa: B006
    """Crossbar's component check, plus the "extra" of cfxstore's revocation component."""
    checkconfig.check_router_component(personality, component, ignore)
    if isinstance(component, Mapping) and component.get("classname") == REVOCATION_COMPONENT:
        try:
            allowed_roles(component.get("extra"))
        except RouterConfigError as e:
            raise _invalid(e) from None


def check_web_path_service(personality: Any, path: str, config: Any, nested: bool,
                           ignore: list[str] = []) -> None:  # noqa: B006
    """Crossbar's Web path service check, plus cfxstore's health and metrics paths (named by their path)."""
    if isinstance(config, Mapping) and config.get("type") in (HEALTH_SERVICE, METRICS_SERVICE):
        try:
            parse_monitoring(config, f"paths.{path}")
        except RouterConfigError as e:
            raise _invalid(e) from None
        return
    checkconfig.check_web_path_service(personality, path, config, nested, ignore)


class Personality(crossbar_personality.Personality):
    """Crossbar's standalone personality with cfxstore persistence."""

    NAME = "cfxstore"

    REALM_STORES = {**crossbar_personality.Personality.REALM_STORES, STORE_TYPE: CfxRealmStore}

    WEB_SERVICE_FACTORIES = {**crossbar_personality.Personality.WEB_SERVICE_FACTORIES,
                             "websocket": CfxWebSocketService,
                             HEALTH_SERVICE: HealthService, METRICS_SERVICE: MetricsService}

    # Router workers whose realms may ask for strict matching (strictmatch.py) and that count logins.
    native_workers = {**crossbar_personality.Personality.native_workers,
                      "router": {**crossbar_personality.Personality.native_workers["router"],
                                 "worker_class": CountingRouterController}}

    create_router_transport = create_router_transport
    RouterTransport = CfxRouterTransport
    RouterWebTransport = CfxRouterWebTransport

    check_transport_cookie = check_transport_cookie
    check_transport_auth = check_transport_auth
    check_router_realm = check_router_realm
    check_router_component = check_router_component
    check_web_path_service = check_web_path_service
