"""Transport details as stored in session history, without credentials (see cfxstore.transport)."""

from __future__ import annotations

from typing import Any

from cfxstore.transport import scrub_transport


def stored_transport(transport: Any) -> dict[str, Any] | None:
    """The marshalled transport details minus cookie values and credentials."""
    if transport is None:
        return None
    data = transport.marshal() if hasattr(transport, "marshal") else transport
    if not isinstance(data, dict):
        return None
    return scrub_transport(data)
