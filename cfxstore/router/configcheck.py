"""Every problem of a node config, each with its key path.

Crossbar's own check stops at the first problem and says where only in
words. Here the same checks (Crossbar's, with cfxstore's keys added by the
Personality) run item by item — the top level, each worker, and each realm,
transport and component of a router worker — so one run reports every item
that is wrong, prefixed with its path (``workers[0].transports[1]: ...``);
the "extra" of cfxstore's management and authorizer components is checked
key by key (``workers[0].components[0].extra.prefix: ...``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Callable

from cfxstore.router.managementconfig import component_problems

_ROUTER_ITEMS = (("realms", "check_router_realm"), ("transports", "check_router_transport"),
                 ("components", "check_router_component"))


def config_problems(personality: Any, config: Any) -> list[str]:
    """Problems of the node config as "path: message" lines; empty if it is valid."""
    # Crossbar is optional (the router extra).
    from crossbar.common.checkconfig import InvalidConfigException

    problems: list[str] = []

    def run(path: str, check: Callable[..., None], item: Any) -> None:
        try:
            check(personality, item)
        except InvalidConfigException as exc:
            problems.append(f"{path}: {' '.join(str(exc).split())}")

    workers = config.get("workers") if isinstance(config, Mapping) else None
    if not isinstance(workers, Sequence) or isinstance(workers, (str, bytes)):
        run("(top level)", personality.check_config, config)
        return problems
    run("(top level)", personality.check_config, {k: v for k, v in config.items() if k != "workers"})
    for i, worker in enumerate(workers):
        path = f"workers[{i}]"
        if not (isinstance(worker, Mapping) and worker.get("type") == "router"
                and all(_is_list(worker.get(key, [])) for key, _ in _ROUTER_ITEMS)):
            run(path, personality.check_worker, worker)
            continue
        # The worker's own keys first, then each of its items on its own.
        run(path, personality.check_worker, {k: v for k, v in worker.items() if k not in dict(_ROUTER_ITEMS)})
        for key, check in _ROUTER_ITEMS:
            for j, item in enumerate(worker.get(key, [])):
                run(f"{path}.{key}[{j}]", getattr(personality, check), item)
                if key == "components":  # cfxstore's components check their "extra" only when they join
                    problems.extend(component_problems(item, f"{path}.{key}[{j}]"))
    return problems


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))

