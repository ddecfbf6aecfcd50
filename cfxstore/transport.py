"""Transport details without credentials: what may be stored of a client connection.

Crossbar's transport details carry the raw cookie value (``http_cbtid``) and
every HTTP header, Cookie and Authorization included. Storing them would undo
the hashing of cookies at rest, so everything that stores or exports them
goes through scrub_transport(): the services (CookieService contexts,
SessionHistory sessions, whoever calls them), the router, the cfxdb import,
migration 0002, and db dump and load.
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
