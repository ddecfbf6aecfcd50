"""Prometheus metrics of a router worker process.

Counters are moved where things happen (one call each: the login outcome of
every WAMP session, refusals of the cookie store while the database is down,
cookie cache hits and misses); the state of each database this process uses
(its availability, its write-behind's queue and lag, the round trip of the
last probe, probe.py) is read when the metrics are scraped. Everything lives
in the process's default prometheus-client registry, so the process
collector's CPU and memory figures come along. Each router worker is a
process of its own and counts its own logins: every worker that handles
logins serves its metrics on a Web transport of its own (docs/router.md,
"Monitoring").
"""

from __future__ import annotations

from typing import Iterator

from prometheus_client import REGISTRY, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from cfxstore.router.availability import availability
from cfxstore.router.health import databases
from cfxstore.router.probe import last_round_trip

__all__ = ["LOGINS", "THROTTLED", "COOKIE_CACHE", "OUTAGE_REFUSALS", "outage_refusal", "METHODS", "OUTCOMES", "login", "cookie_cache", "exposition"]

#: Label values of "method": what a client may name is bounded to these (anything else is "other").
METHODS = ("anonymous", "cookie", "ticket", "wampcra", "scram", "cryptosign", "tls", "trusted", "other")
#: Label values of "outcome".
OUTCOMES = ("success", "failure", "throttled", "busy", "unavailable", "error")

LOGINS = Counter("cfxstore_logins", "WAMP session logins by authentication method and outcome",
                 ["method", "outcome"])
THROTTLED = Counter("cfxstore_throttle_refusals", "Login attempts refused by the login throttle", ["method"])
COOKIE_CACHE = Counter("cfxstore_cookie_cache_lookups", "Cookie lookups answered from memory (hit) or read "
                       "from the database (miss)", ["result"])

OUTAGE_REFUSALS = Counter("cfxstore_outage_refusals", "Logins not remembered on their cookie because the "
                          "database is unreachable and the write-behind holds its most writes")


def login(method: str | None, outcome: str) -> None:
    """Count one login attempt's final answer."""
    method = method if method in METHODS else "other"
    LOGINS.labels(method, outcome).inc()
    if outcome == "throttled":
        THROTTLED.labels(method).inc()


def outage_refusal() -> None:
    OUTAGE_REFUSALS.inc()


def cookie_cache(hit: bool) -> None:
    COOKIE_CACHE.labels("hit" if hit else "miss").inc()


class _StateCollector(Collector):
    """The state of this process's databases, read at each scrape (memory only, no database I/O)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("cfxstore_database_up", "1 while the database answers, 0 while it is "
                               "marked unreachable", labels=["database"])
        queue = GaugeMetricFamily("cfxstore_writer_queue", "Writes staged by the write-behind and not yet "
                                  "committed", labels=["database"])
        lag = GaugeMetricFamily("cfxstore_writer_lag_seconds", "Seconds the oldest uncommitted write is past "
                                "its planned flush", labels=["database"])
        rtt = GaugeMetricFamily("cfxstore_database_round_trip_seconds", "Duration of the last probe "
                                "transaction (begin and end: one or two round trips)", labels=["database"])
        for name, db, writer in databases():
            up.add_metric([name], 1.0 if availability(db).up else 0.0)
            queue.add_metric([name], float(len(writer)) if writer is not None else 0.0)
            lag.add_metric([name], writer.lag() if writer is not None else 0.0)
            seconds = last_round_trip(db)
            if seconds is not None:
                rtt.add_metric([name], seconds)
        yield from (up, queue, lag, rtt)


REGISTRY.register(_StateCollector())


def exposition() -> bytes:
    """The metrics in Prometheus's text format."""
    return generate_latest(REGISTRY)
