"""The management API's procedure for the audit log (registered with the others by api.py).

    audit.list(authid=, kind=, since=, until=, limit=100)  -> [event...]   oldest first, the newest limit

``kind`` is one kind or a list of them; times travel as ISO 8601 strings, as in every record's wire form.
"""

from __future__ import annotations

from typing import Any, Callable

from cfxstore.audit.service import AuditLog
from cfxstore.management.errors import InvalidArgument
from cfxstore.management.wire import iso_to_ns, to_wire

__all__ = ["audit_procedures"]


def audit_procedures(log: Callable[[], AuditLog]) -> dict[str, Callable[..., Any]]:
    """``log()``: the audit log of the management database (attached when first called)."""
    def list_(authid: str | None = None, kind: str | list[str] | None = None, since: str | None = None,
              until: str | None = None, limit: int = 100) -> list:
        if authid is not None and (not isinstance(authid, str) or not authid):
            raise InvalidArgument(f"authid: expected a non-empty string, got {authid!r}")
        kinds = [kind] if isinstance(kind, str) else kind
        if kinds is not None and (not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds)):
            raise InvalidArgument(f"kind: expected a kind or a list of kinds, got {kind!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidArgument(f"limit: expected an int in 1..1000, got {limit!r}")
        events = log().list(authid=authid, kinds=kinds, limit=limit,
                            since=None if since is None else iso_to_ns(since, "since"),
                            until=None if until is None else iso_to_ns(until, "until"))
        return [to_wire(e) for e in events]

    return {"audit.list": list_}
