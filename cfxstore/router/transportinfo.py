"""Transport details as stored in session history, without credentials.

Crossbar's transport details carry the raw cookie value (``http_cbtid``) and
every HTTP header, Cookie and Authorization included. Storing them would undo
the hashing of cookies at rest, so those entries are dropped.
"""

from __future__ import annotations

from typing import Any

_SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})


def _headers(headers: Any) -> Any:
    if not isinstance(headers, dict):
        return headers
    return {k: v for k, v in headers.items() if str(k).lower() not in _SECRET_HEADERS}


def stored_transport(transport: Any) -> dict[str, Any] | None:
    """The marshalled transport details minus cookie values and credentials."""
    if transport is None:
        return None
    data = transport.marshal() if hasattr(transport, "marshal") else transport
    if not isinstance(data, dict):
        return None
    data = dict(data)
    data.pop("http_cbtid", None)
    for key in ("http_headers_received", "http_headers_sent"):
        if key in data:
            data[key] = _headers(data[key])
    return data
