"""The records the orm benchmarks store: session-like, what a router keeps per key."""

from __future__ import annotations

import time
import uuid
from typing import Any


def make_records(n: int) -> list[tuple[uuid.UUID, dict[str, Any]]]:
    """n session-like records (8 fields, about 200 bytes of CBOR) under random uuid keys."""
    now = time.time_ns()
    return [(uuid.uuid4(), {"session": 1000 + i, "realm": "realm1", "authid": f"user-{i}",
                            "authrole": "user", "authmethod": "ticket", "email": f"user-{i}@example.com",
                            "joined": now + i, "transport": {"type": "websocket", "peer": "tcp4:127.0.0.1:5000"}})
            for i in range(n)]
