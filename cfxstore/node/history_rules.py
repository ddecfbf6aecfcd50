"""The "event-history" rules a node config gives a realm store, for re-keying imported history.

Stock Crossbar keys event history by subscription ids that change on every
start; cfxstore keys it by a stable id per rule (cfxstore.realmstore.rules
.history_id). Imported history is re-keyed with these rules so the router
returns it for a subscription matching the topic.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

from cfxstore.migrate.errors import ImportSourceError
from cfxstore.node.config import parse_realm_store, resolve_path
from cfxstore.node.nodeconfig import realms
from cfxstore.realmstore.rules import UriRule


def rules_of(store: Mapping[str, Any]) -> tuple[UriRule, ...]:
    """The event-history rules of a realm store config item (stock or cfxstore)."""
    history = {"type": "cfxstore", "event-history": store.get("event-history", [])}
    return parse_realm_store(history).event_history


def rules_for_store(config: Mapping[str, Any], cbdir: str, store_path: str) -> tuple[UriRule, ...]:
    """The event-history rules of the realm(s) in a node config whose store is at store_path.

    If no realm's store is at that path, the rules of every realm (a copied
    database is still one realm's history).
    """
    target = os.path.realpath(store_path)
    stores: list[Mapping[str, Any]] = [r["store"] for r in realms(config) if isinstance(r.get("store"), Mapping)]
    own = [s for s in stores if isinstance(s.get("path"), str)
           and os.path.realpath(resolve_path(s["path"], cbdir)) == target]
    rules: list[UriRule] = []
    for store in own or stores:
        rules.extend(r for r in rules_of(store) if r not in rules)
    return tuple(rules)


def load_rules(config_file: str, store_path: str) -> tuple[UriRule, ...]:
    """rules_for_store of a config.json file (the node directory is the file's directory)."""
    try:
        with open(config_file, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as exc:
        raise ImportSourceError(f"node config {config_file} is not readable JSON: {exc}") from None
    return rules_for_store(config, os.path.dirname(os.path.abspath(config_file)), store_path)
