"""Telling every process of a database that cookies were deleted, so their connections close.

A deletion is announced inside the deleting transaction and delivered when it
commits (never if it aborts):

* to the listeners of this process (``on_deleted``: the router's cookie
  backends), on every engine;
* on PostgreSQL to the other processes and nodes, by a notification on the
  ``cookie-deleted`` channel carrying the value hash (cfxstore/router/cluster.py
  listens); ``announce_logins_ended`` names an authid there instead, for the
  logins of it that nodes have staged and not committed;
* on LMDB to the other processes of the machine, through the database's
  deletion file (deletionlog.py), which router processes poll.

``refuse_now`` delivers the same without a transaction: for a logout whose
deletion could not commit, so its cookie is refused everywhere at once.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable

import orm
from cfxstore.registry import Slot, registry

from . import deletionlog

CHANNEL = "cookie-deleted"
Listener = Callable[[list[bytes]], None]
#: The in-process listeners of each database path.
LISTENERS: Slot[list[Listener]] = Slot("cookie deletion listeners")
ENDED_LISTENERS: Slot[list[Callable[[str], None]]] = Slot("ended login listeners")
#: A notification on CHANNEL naming an authid whose logins ended, not a value hash (which is hex).
ENDED_PREFIX = "authid:"
log = logging.getLogger(__name__)


def on_deleted(db: orm.Database, listener: Listener) -> Callable[[], None]:
    """Call listener(value_hashes) after each deletion of cookies of db in this process (on the
    committing thread); returns the remover."""
    listeners = _listeners(db)
    listeners.append(listener)
    return lambda: listeners.remove(listener) if listener in listeners else None


def _listeners(db: orm.Database) -> list[Listener]:
    return registry.get(LISTENERS, db.path, list)


def announce_deleted(db: orm.Database, txn: orm.Transaction, value_hashes: Iterable[bytes]) -> None:
    """Tell every process, when txn commits, that the cookies with these value hashes are gone."""
    hashes = list(value_hashes)
    if not hashes:
        return
    for value_hash in hashes:
        txn.notify(CHANNEL, value_hash.hex())
    txn.on_commit(lambda: _deliver(db, hashes))


def on_logins_ended(db: orm.Database, listener: Callable[[str], None]) -> Callable[[], None]:
    """Call listener(authid) after each ``announce_logins_ended`` of db in this process; returns the remover."""
    listeners = _ended_listeners(db)
    listeners.append(listener)
    return lambda: listeners.remove(listener) if listener in listeners else None


def announce_logins_ended(db: orm.Database, txn: orm.Transaction, authid: str) -> None:
    """Tell every process, when txn commits, that authid's logins ended: a login of it that a node has
    staged and not committed yet is dropped there (its cookie is never written: CookieService.put)."""
    txn.notify(CHANNEL, ENDED_PREFIX + authid)

    def deliver() -> None:
        for listener in list(_ended_listeners(db)):
            listener(authid)

    txn.on_commit(deliver)


def _ended_listeners(db: orm.Database) -> list[Callable[[str], None]]:
    return registry.get(ENDED_LISTENERS, db.path, list)


def refuse_now(db: orm.Database, value_hashes: list[bytes]) -> None:
    """Tell every process at once to refuse these cookies, whatever becomes of their deletion.

    On PostgreSQL the notification needs a transaction of its own: when the
    server is unreachable the other nodes cannot be told (this process still is).
    """
    _deliver(db, value_hashes)
    if db.notifies_other_processes:
        def send(txn: orm.Transaction) -> None:
            for value_hash in value_hashes:
                txn.notify(CHANNEL, value_hash.hex())
        try:
            db.transact(send, conflicts_only=True)
        except Exception as exc:
            log.error("cfxstore: could not tell the other nodes to refuse a logged-out cookie: %s",
                      f"{type(exc).__name__}: {exc}"[:300])


def _deliver(db: orm.Database, hashes: list[bytes]) -> None:
    for listener in list(_listeners(db)):
        listener(hashes)
    path = deletionlog.log_path(db)
    if path is not None:
        try:
            deletionlog.append(path, hashes)
        except OSError as exc:  # a full disk: the other processes see the deletion within their cache time
            log.error("cfxstore: could not tell the other processes of a cookie deletion: %s", exc)
