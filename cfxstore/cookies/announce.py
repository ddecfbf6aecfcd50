"""Telling the other router nodes of a shared database that cookies were deleted.

On PostgreSQL a deletion sends each deleted cookie's value hash on the
``cookie-deleted`` channel inside the deleting transaction, so nodes hear of
it exactly when it commits (cfxstore/router/cluster.py listens). Engines
without notifications (LMDB, memory: one machine) deliver it to no one.
"""

from __future__ import annotations

from typing import Iterable

import orm

CHANNEL = "cookie-deleted"


def announce_deleted(txn: orm.Transaction, value_hashes: Iterable[bytes]) -> None:
    for value_hash in value_hashes:
        txn.notify(CHANNEL, value_hash.hex())
