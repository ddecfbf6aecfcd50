"""Probing what the router's authorization allows a joined session, for the authorizer tests."""

from __future__ import annotations

from autobahn.wamp.exception import ApplicationError


def denied(rt, session, uri: str) -> bool:
    """True if the router refuses session registering uri (a granted registration is undone)."""
    try:
        reg = rt.call(session.register, lambda: None, uri)
    except ApplicationError as exc:
        if exc.error != "wamp.error.not_authorized":
            raise
        return True
    rt.call(reg.unregister)
    return False
