"""Telling the other router nodes of a shared database that cookies were deleted.

On PostgreSQL a deletion sends each deleted cookie's value hash on the
``cookie-deleted`` channel inside the deleting transaction, so nodes hear of
it exactly when it commits (cfxstore/router/cluster.py listens). On engines
without notifications (LMDB, memory: one machine) nothing is sent.
"""

from __future__ import annotations

from typing import Any, Iterable

CHANNEL = "cookie-deleted"


def announce_deleted(txn: Any, value_hashes: Iterable[bytes]) -> None:
    notify = getattr(txn, "notify", None)
    if notify is not None:
        for value_hash in value_hashes:
            notify(CHANNEL, value_hash.hex())
