"""The health and metrics paths of a router node's Web transport.

Node config (a Web transport's "paths", or a universal transport's "web" paths)::

    "health": {"type": "cfxstore-health", "max_queue": 50000, "max_lag": 5},
    "metrics": {"type": "cfxstore-metrics"}

The health path answers 200 ``{"status": "ok"}`` or 503 with the reasons
(health.py); the metrics path Prometheus's text format (metrics.py). Both
answer from memory on the reactor thread; the database round trip is
measured by the probe thread (probe.py), which either path starts.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from crossbar.webservice.base import RouterWebService
from prometheus_client import CONTENT_TYPE_LATEST
from twisted.web.resource import Resource

from cfxstore.node.config import HealthConfig, parse_monitoring
from cfxstore.router import metrics, probe
from cfxstore.router.health import health


class HealthResource(Resource):
    isLeaf = True

    def __init__(self, config: HealthConfig) -> None:
        super().__init__()
        self._config = config

    def render_GET(self, request: Any) -> bytes:
        status, body = health(self._config)
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(body).encode()


class MetricsResource(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode())
        request.setHeader(b"cache-control", b"no-store")
        return metrics.exposition()


class HealthService(RouterWebService):
    """The "cfxstore-health" path service."""

    @staticmethod
    def create(transport: Any, path: str, config: Mapping[str, Any]) -> "HealthService":
        parsed = parse_monitoring(config, f"paths.{path}")
        assert parsed is not None  # a health service has a HealthConfig
        probe.start()
        return HealthService(transport, path, config, HealthResource(parsed))


class MetricsService(RouterWebService):
    """The "cfxstore-metrics" path service."""

    @staticmethod
    def create(transport: Any, path: str, config: Mapping[str, Any]) -> "MetricsService":
        parse_monitoring(config, f"paths.{path}")
        probe.start()
        return MetricsService(transport, path, config, MetricsResource())
