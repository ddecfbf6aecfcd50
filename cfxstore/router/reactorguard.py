"""The reactor guard: a router process that is asked to names each database call on its reactor thread.

Set ``CFXSTORE_REACTOR_GUARD`` in a router's environment (the router tests
do) and every site that calls the database on the reactor thread is logged
once, as ``database call on the reactor thread from <module:qualname>``;
the variable's comma-separated ``module:qualname`` prefixes name the sites
that must never do so (``*``: every site), whose calls then fail (orm
``ReactorBlocked``) instead of stalling every connection of the worker; a
prefix written ``!module:qualname`` exempts every call with a frame it names
on the stack. Every engine counts: a round trip waits for the network, an
LMDB write for another process's write lock, an LMDB read for the disk.
"""

from __future__ import annotations

import os
import threading

from twisted.logger import Logger

from orm.engine.hooks import reactor_guard

ENV = "CFXSTORE_REACTOR_GUARD"
REPORT = "database call on the reactor thread from"
log = Logger()


def guard_reactor() -> None:
    """Install the guard on this thread (the reactor's) if the environment asks for it; once per process."""
    forbidden = os.environ.get(ENV)
    if forbidden is None or reactor_guard.thread is not None:
        return
    sites = [site.strip() for site in forbidden.split(",") if site.strip()]
    reactor_guard.install(threading.get_ident(), "cfxstore", tuple(s for s in sites if not s.startswith("!")),
                          lambda site: log.info("cfxstore: " + REPORT + " {site}", site=site),
                          allowed=tuple(s[1:] for s in sites if s.startswith("!")))
