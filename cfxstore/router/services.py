"""One database and one set of services per database path, per process.

The cookie stores of several transports, the realm stores of several realms
and the authenticator of a router worker usually share one LMDB file; they
share one handle, one instance of each service and one write-behind through
the process's registry (cfxstore/registry.py).
"""

from __future__ import annotations

import threading
from typing import Any

from cfxstore.audit.service import AuditLog
from cfxstore.cookies.service import CookieService
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.node.config import DatabaseConfig
from cfxstore.realmstore.service import SessionHistory
from cfxstore.registry import Slot, registry
from cfxstore.router.shutdown import on_shutdown
from cfxstore.router.writebehind import WriteBehind



class NodeServices:
    """The database at one path and the services built on it (created on first use)."""

    def __init__(self, path: str, config: DatabaseConfig) -> None:
        self.path = path
        self.db = open_database(path, maxsize=config.maxsize, sync=config.sync)
        self._lock = threading.Lock()
        self._writer: WriteBehind | None = None

    def _get(self, name: str, build: Any) -> Any:
        # Through the registry, which builds each one under a lock of its own: attaching a schema (round
        # trips on PostgreSQL, in a thread) never holds up the reactor getting another one or the writer.
        return registry.get(SERVICES, (self, name), lambda: build(self.db))

    def writer(self, *, delay: float | None, max_items: int, reactor: Any, defer_to_thread: Any) -> WriteBehind:
        """The one write-behind of this database in this process (drained at shutdown).

        ``delay`` None: the caller (the login audit) rides with the batches the node's stores time.
        """
        with self._lock:
            if self._writer is None:
                self._writer = WriteBehind(self.db, delay=delay, max_items=max_items, reactor=reactor,
                                           defer_to_thread=defer_to_thread)
                on_shutdown(self._writer.drain, reactor)
            else:
                self._writer.tune(delay=delay, max_items=max_items)
            return self._writer

    @property
    def current_writer(self) -> WriteBehind | None:
        """The write-behind, if a store made one."""
        return self._writer

    @property
    def cookies(self) -> CookieService:
        return self._get("cookies", CookieService)

    @property
    def history(self) -> SessionHistory:
        return self._get("history", SessionHistory)

    @property
    def credentials(self) -> CredentialService:
        return self._get("credentials", CredentialService)

    @property
    def audit(self) -> AuditLog:
        return self._get("audit", AuditLog)


NODES: Slot[NodeServices] = Slot("node services")
SERVICES: Slot[Any] = Slot("node service")


def node_services(path: str, config: DatabaseConfig) -> NodeServices:
    """The shared services for the database at an absolute ``path``."""
    return registry.get(NODES, path, lambda: NodeServices(path, config))
