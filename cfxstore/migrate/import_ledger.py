"""ImportLedger: which source records an import from stock Crossbar has already written.

Slots: table 90.

A record is entered in the same transaction that writes it, so the ledger
and the imported data never disagree, even after a kill. A later run skips
every record already in the ledger: it picks up only what is new in the
source and never brings back what cfxstore changed or deleted since (a
cookie revoked, logged out, expired or purged; history removed by retention).
"""

from __future__ import annotations

import struct
import uuid
from typing import Any

import orm

from cfxstore.service import attached
from cfxstore.tables import DeclaredSchema, plain_table

_EVENT = struct.Struct(">QQQQ")
_PUBLICATION = struct.Struct(">Q")


class ImportLedger(DeclaredSchema):
    """Source record keys (kind byte + the record's key in the source) already imported."""

    imported = plain_table(90, key="bytes", value="bytes")


def cookie_key(oid: uuid.UUID) -> bytes:
    return b"c" + oid.bytes


def session_key(oid: uuid.UUID) -> bytes:
    return b"s" + oid.bytes


def publication_key(publication_id: int) -> bytes:
    return b"p" + _PUBLICATION.pack(publication_id)


def event_key(subscription: int, timestamp: int, receiver: int, publication: int) -> bytes:
    return b"e" + _EVENT.pack(subscription, timestamp, receiver, publication)


def record_key(kind: str, source_key: Any) -> bytes:
    """A ledger key for a record of another kind (FX imports): kind name + the source key's text."""
    return b"x" + f"{kind}\x00{source_key}".encode()


class Ledger:
    """The ledger of one database, used inside the import's write transactions."""

    def __init__(self, db: orm.Database) -> None:
        self._table = attached(ImportLedger, db).imported

    def seen(self, txn: Any, key: bytes) -> bool:
        return self._table[txn, key] is not None

    def enter(self, txn: Any, key: bytes) -> None:
        self._table[txn, key] = b""
