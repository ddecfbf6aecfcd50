"""StoreAuthorizer: answers Crossbar's authorization questions from stored roles and permissions.

A role is in effect on an application realm when an association links the
two; its permissions then decide (rules.py). Roles not associated with the
realm, and unknown realms or roles, are denied everything.

Decisions and compiled rules are cached until the authorization generation
moves (generation.py): at once for changes committed in this process, and
within ``recheck`` seconds for changes committed by other processes.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import orm
from cfxstore.management import generation
from cfxstore.management.errors import InvalidArgument
from cfxstore.management.rules import ACTIONS, MATCHES, Rules, authorization
from cfxstore.mrealm.schema import MrealmSchema
from cfxstore.service import attached

__all__ = ["StoreAuthorizer", "DEFAULT_RECHECK", "MAX_CACHED"]

DEFAULT_RECHECK = 0.25
#: Distinct URIs are unbounded; past this many cached decisions the cache starts over.
MAX_CACHED = 100_000


class StoreAuthorizer:
    """Authorization decisions for (realm, authrole, uri, action) from the database."""

    def __init__(self, db: orm.Database, *, cache: bool = True, recheck: float = DEFAULT_RECHECK) -> None:
        self.db = db
        self.cache = cache
        self.recheck = recheck
        self._schema = attached(MrealmSchema, db)
        self._decisions: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
        self._rules: dict[tuple[str, str], Rules | None] = {}
        self._local = generation.local()
        self._stored = generation.stored(db)
        self._checked = time.monotonic()
        # Decisions may be made in threads (the router reads PostgreSQL off its reactor): one at a time,
        # so a decision read before a change is never cached after the change dropped the cache.
        self._lock = threading.RLock()

    def cached(self, realm: str, authrole: str, uri: str, action: str, match: str = "exact"
               ) -> dict[str, Any] | None:
        """The cached answer, if there is one known to be current, without reading the database."""
        if generation.local() != self._local or time.monotonic() - self._checked >= self.recheck:
            return None
        return self._decisions.get((realm, authrole, uri, action, match))

    def authorize(self, realm: str, authrole: str, uri: str, action: str, match: str = "exact") -> dict[str, Any]:
        """{"allow": bool, "cache": False[, "disclose": bool]} (treat the dict as read-only).

        match is that of a subscription or registration; a prefix or wildcard one is allowed
        only where every URI it can reach is allowed (Rules.covers: the strict question).
        "exact" decides by the URI's text, as Crossbar does whatever the match.
        """
        with self._lock:
            return self._authorize(realm, authrole, uri, action, match)

    def _authorize(self, realm: str, authrole: str, uri: str, action: str, match: str) -> dict[str, Any]:
        key = (realm, authrole, uri, action, match)
        self._refresh()
        answer = self._decisions.get(key)
        if answer is not None:
            return answer
        for name, value in (("realm", realm), ("authrole", authrole), ("uri", uri)):
            if not isinstance(value, str):
                raise InvalidArgument(f"{name}: expected a string, got {type(value).__name__}")
        if action not in ACTIONS:
            raise InvalidArgument(f"action: expected one of {', '.join(ACTIONS)}, got {action!r}")
        if match not in MATCHES:
            raise InvalidArgument(f"match: expected one of {', '.join(MATCHES)}, got {match!r}")
        rules = self._rules_for(realm, authrole)
        permission = rules.lookup(uri) if rules is not None else None
        answer = authorization(permission, action)
        cacheable = permission is None or permission.cache
        if match != "exact":
            answer["allow"] = answer["allow"] and rules is not None and rules.covers(uri, match, action)
            cacheable = rules is None or all(p.cache for p in rules.permissions())
        if self.cache and cacheable:
            if len(self._decisions) >= MAX_CACHED:
                self._decisions.clear()
            self._decisions[key] = answer
        return answer

    def invalidate(self) -> None:
        """Forget every cached decision and rule set."""
        with self._lock:
            self._decisions.clear()
            self._rules.clear()

    def _refresh(self) -> None:
        local = generation.local()
        if local != self._local:
            self._local = local
            self.invalidate()
        now = time.monotonic()
        if now - self._checked >= self.recheck:
            self._checked = now
            stored = generation.stored(self.db)
            if stored != self._stored:
                self._stored = stored
                self.invalidate()

    def _rules_for(self, realm: str, authrole: str) -> Rules | None:
        key = (realm, authrole)
        if key in self._rules:
            return self._rules[key]
        s = self._schema
        with self.db.begin() as txn:
            try:
                arealm = s.arealms.get_by_index(txn, "idx_arealms_by_name", realm)
                role = s.roles.get_by_index(txn, "idx_roles_by_name", authrole)
            except (orm.Error, ValueError):  # a name no index can hold is no stored name
                return None
            if arealm is None or role is None or s.arealm_role_associations[txn, (arealm.oid, role.oid)] is None:
                rules = None
            else:
                # In URI order: of patterns with the same start the last counts, as in Crossbar.
                oids = s.idx_permissions_by_uri.select(txn, prefix=(role.oid,), return_keys=False)
                rules = Rules(s.permissions[txn, oid] for oid in oids)
        if self.cache and (rules is None or all(p.cache for p in rules.permissions())):
            self._rules[key] = rules
        return rules
