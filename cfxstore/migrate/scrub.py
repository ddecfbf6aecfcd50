"""Transport details without credentials: what may be stored of a client connection.

The same rule as the router's (cfxstore/router/transportinfo.py), kept
here because migrations and the cfxdb import sit below the router layer.
"""

from __future__ import annotations

from typing import Any

SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})
SECRET_KEYS = frozenset({"http_cbtid"})
HEADER_KEYS = ("http_headers_received", "http_headers_sent")


def scrub_transport(transport: Any) -> Any:
    """transport minus the raw cookie value and credential headers; other values unchanged."""
    if not isinstance(transport, dict):
        return transport
    cleaned = {k: v for k, v in transport.items() if k not in SECRET_KEYS}
    for key in HEADER_KEYS:
        headers = cleaned.get(key)
        if isinstance(headers, dict):
            cleaned[key] = {k: v for k, v in headers.items() if str(k).lower() not in SECRET_HEADERS}
    return cleaned
