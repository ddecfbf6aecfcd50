"""Whether this router worker can serve logins now: the verdict of the health path (monitorweb.py).

Healthy while every database the process uses answers (availability.py: not
marked down; probe.py: no probe waiting longer than ``max_wait`` seconds for
its answer) and every write-behind keeps up: at most ``max_queue`` writes
waiting and none more than ``max_lag`` seconds past its planned flush. The verdict is read from
state the process keeps in memory; nothing here waits for a database.
"""

from __future__ import annotations

from typing import Any

from cfxstore.node.config import HealthConfig
from cfxstore.registry import registry
from cfxstore.router.availability import availability
from cfxstore.router.probe import unanswered
from cfxstore.router.services import NODES
from orm.engine.pgurl import is_url


def databases() -> list[tuple[str, Any, Any]]:
    """(name, database, its write-behind or None) of every database this process has opened.

    The name is its kind and position ("postgresql0", "lmdb1"), never its path or URL (a URL may
    carry a password).
    """
    return [(f"{'postgresql' if is_url(node.path) else 'lmdb'}{i}", node.db, node.current_writer)
            for i, node in enumerate(registry.all(NODES))]


def health(config: HealthConfig) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body): 200 and ``{"status": "ok"}``, or 503 with the reasons."""
    reasons = []
    found = databases()
    if not found:
        reasons.append("no cfxstore database opened yet")
    for name, db, writer in found:
        waited = unanswered(db)
        if not availability(db).up:
            reasons.append(f"{name}: database unreachable")
        elif waited > config.max_wait:
            reasons.append(f"{name}: database not answering for {waited:.1f} s")
        if writer is None:
            continue
        if len(writer) > config.max_queue:
            reasons.append(f"{name}: {len(writer)} writes waiting, more than max_queue {config.max_queue}")
        lag = writer.lag()
        if lag > config.max_lag:
            reasons.append(f"{name}: writes {lag:.1f} s behind, more than max_lag {config.max_lag:g} s")
    if reasons:
        return 503, {"status": "unavailable", "reasons": reasons}
    return 200, {"status": "ok"}
