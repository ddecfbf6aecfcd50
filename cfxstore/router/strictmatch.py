"""Strict matching: a realm option under which a prefix or wildcard subscription or registration
is allowed only where the role's permissions allow every URI it can match.

Crossbar authorizes a subscription by its URI text alone, whatever its match
policy: an exact permission on ``com.app.x`` lets a prefix subscription on
``com.app.x`` receive ``com.app.x_admin``, and a role allowed everything but
``cfxstore.`` may subscribe to the prefix ``""`` and receive ``cfxstore.``
events. With ``"options": {"strict_match": true}`` on a realm, the router
worker (a RouterController whose factory makes these roles) asks more:

* a role with static permissions answers from ``Rules.covers`` over the same
  permissions (cfxstore/management/rules.py);
* a role with a dynamic authorizer is asked about a prefix or wildcard match
  with ``"strict_match": true`` added to the options, and must answer
  ``"allow": true`` only where its permissions cover every URI the match
  can reach. cfxstore's store-backed authorizer does (Crossbar refuses
  answer keys it does not know, so the answer cannot say more); another
  authorizer must apply the option itself.

Subscribe and register answers are never cached by Crossbar then: its cache
is keyed by URI and action, not by match policy, so an exact subscription's
grant would answer a later prefix one.
"""

from __future__ import annotations

import uuid
from typing import Any, Iterable, Mapping

from crossbar.router.role import RouterPermissions, RouterRole, RouterRoleDynamicAuth, RouterRoleStaticAuth
from crossbar.router.router import RouterFactory
from crossbar.worker.router import RouterController
from twisted.internet.defer import maybeDeferred

from cfxstore.management.rules import Rules
from cfxstore.mrealm.entities import Permission

__all__ = ["OPTION", "StrictRouterController", "StrictRouterFactory", "strict_realm"]

#: The realm option ("options" of a realm in the node config).
OPTION = "strict_match"
_ACTIONS = ("subscribe", "register")


def strict_realm(realm: Mapping[str, Any]) -> bool:
    """Whether a realm's config turns strict matching on."""
    options = realm.get("options")
    return isinstance(options, Mapping) and options.get(OPTION) is True


def _pattern_match(action: str, options: Any) -> str | None:
    """The match policy of a prefix or wildcard subscription or registration, else None."""
    match = options.get("match") if isinstance(options, Mapping) else None
    return match if action in _ACTIONS and match in ("prefix", "wildcard") else None


def _rules(permissions: Iterable[Mapping[str, Any]]) -> Rules:
    """The static permissions of a role as Rules, read as Crossbar reads them (starred URIs included)."""
    role = uuid.UUID(int=0)  # the rules never look at it
    entities = []
    for item in permissions:
        p = RouterPermissions.from_dict(dict(item))
        entities.append(Permission(role_oid=role, uri=p.uri, match=p.match, allow_call=p.call,
                                   allow_register=p.register, allow_publish=p.publish,
                                   allow_subscribe=p.subscribe, disclose_caller=p.disclose_caller,
                                   disclose_publisher=p.disclose_publisher, cache=p.cache))
    return Rules(entities)


class StrictStaticRole(RouterRoleStaticAuth):
    """Crossbar's static role, refusing prefix and wildcard matches its permissions do not cover."""

    def __init__(self, router: Any, uri: str, permissions: list[Mapping[str, Any]] | None = None) -> None:
        super().__init__(router, uri, permissions)
        self._rules = _rules(permissions or [])

    def authorize(self, session: Any, uri: str, action: str, options: Any) -> dict[str, Any]:
        answer = super().authorize(session, uri, action, options)
        if action not in _ACTIONS:
            return answer
        match = _pattern_match(action, options)
        allow = bool(answer.get("allow")) and (match is None or self._rules.covers(uri, match, action))
        return {**answer, "allow": allow, "cache": False}


class StrictDynamicRole(RouterRoleDynamicAuth):
    """Crossbar's dynamic role, asking its authorizer the strict question about prefix and wildcard matches."""

    def authorize(self, session: Any, uri: str, action: str, options: Any) -> Any:
        if _pattern_match(action, options) is None:
            return super().authorize(session, uri, action, options)
        answer = super().authorize(session, uri, action, {**options, OPTION: True})

        def uncached(given: Any) -> Any:
            return {**given, "cache": False} if isinstance(given, dict) else given

        return maybeDeferred(lambda: answer).addCallback(uncached)


class StrictRouterFactory(RouterFactory):
    """Crossbar's router factory, making strict roles on realms whose config turns strict matching on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._strict: set[str] = set()

    def start_realm(self, realm: Any) -> Any:
        router = super().start_realm(realm)
        if strict_realm(realm.config):
            self._strict.add(realm.config["name"])
        return router

    def add_role(self, realm: str, config: dict[str, Any]) -> RouterRole:
        if realm not in self._strict or not ("permissions" in config or "authorizer" in config):
            return super().add_role(realm, config)
        if realm not in self._routers:
            raise RuntimeError(f'no router started for realm "{realm}"')
        router = self._routers[realm]
        role: RouterRole
        if "permissions" in config:
            role = StrictStaticRole(router, config["name"], config["permissions"])
        else:
            role = StrictDynamicRole(router, config["name"], config["authorizer"])
        router.add_role(role)
        return role


class StrictRouterController(RouterController):
    """Crossbar's router worker with the strict router factory (strict only where a realm asks)."""

    router_factory_class = StrictRouterFactory
