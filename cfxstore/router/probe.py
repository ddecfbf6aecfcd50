"""A thread that begins and ends a read transaction on each database of this process every few seconds.

It measures the database round trip for the metrics and, on a quiet node,
notices an outage that no login or write has met yet: a probe that fails
because the database cannot be reached marks it down (availability.py), as
any other failed transaction would. A probe still waiting for its answer
tells the health check (health.py) that the database is not answering, as
when packets are dropped and no connection error comes for a long time. It never runs on the reactor thread, and
skips a database already marked down (availability's own probe watches for
its return).
"""

from __future__ import annotations

import threading
import time
from time import monotonic
from typing import Any

from cfxstore.registry import Slot, registry
from cfxstore.router.availability import availability
from cfxstore.router.services import NODES

#: Seconds between two probes of a database.
PROBE_SECONDS = 2.0



class Prober:
    """The probe thread of this process and the round trips it measured."""

    def __init__(self) -> None:
        self.round_trips: dict[int, float] = {}  # id(db) -> seconds of its last probe
        self.waiting: dict[int, float] = {}  # id(db) -> monotonic start of its probe in flight
        threading.Thread(target=self._run, name="cfxstore database probe", daemon=True).start()

    def probe(self, db: Any) -> None:
        """Probe db once, on the calling thread (never the reactor's)."""
        state = availability(db)
        if db.closed or not state.up:
            return
        began = self.waiting[id(db)] = monotonic()
        try:
            with db.begin():
                pass
        except Exception as exc:
            state.lost(exc)
            return
        finally:
            del self.waiting[id(db)]
        self.round_trips[id(db)] = monotonic() - began

    def _run(self) -> None:
        while True:
            for node in registry.all(NODES):
                self.probe(node.db)
            time.sleep(PROBE_SECONDS)


PROBER: Slot[Prober] = Slot("database prober")


def start() -> Prober:
    """Probe every database of this process from now on (one daemon thread per process)."""
    return registry.get(PROBER, PROBER, Prober)


def last_round_trip(db: Any) -> float | None:
    """Seconds the last probe of db took (None before its first, or without a probe)."""
    probers = registry.all(PROBER)
    return probers[0].round_trips.get(id(db)) if probers else None


def unanswered(db: Any) -> float:
    """Seconds the probe of db in flight has waited for its answer (0 if none is in flight)."""
    probers = registry.all(PROBER)
    began = probers[0].waiting.get(id(db)) if probers else None
    return 0.0 if began is None else monotonic() - began
