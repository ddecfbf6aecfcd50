"""The authorization generation: a counter bumped by every change that can alter an authorization.

It lives in the database (so routers in other processes see changes made by
the CLI or a standalone API process) and in this process (so an authorizer
next to the writer sees the change at once, without reading the database).
"""

from __future__ import annotations

import itertools
from typing import Any

import orm

__all__ = ["META_KEY", "bump", "stored", "local"]

META_KEY = "cfxstore.authz.generation"

_local = itertools.count(1)
_current = 0


def bump(db: orm.Database, txn: Any) -> None:
    """Count one authorization change in txn; the process-local counter moves on commit."""
    db.set_meta(txn, META_KEY, (db.get_meta(txn, META_KEY, 0) or 0) + 1)
    txn.on_commit(_advance)


def _advance() -> None:
    global _current
    _current = next(_local)


def stored(db: orm.Database) -> int:
    """The generation in the database."""
    with db.begin() as txn:
        return db.get_meta(txn, META_KEY, 0) or 0


def local() -> int:
    """A number that changes whenever a change committed in this process."""
    return _current
