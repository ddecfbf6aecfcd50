"""Reading a stock Crossbar (cfxdb/zlmdb) database without changing it.

zlmdb keeps every table in LMDB's main database: its slot catalog under
keys 0x0000 + slot (2 bytes, big endian) with CBOR values naming the
table's UUID, and each table's records under keys prefixed by its slot.
The file is opened read-only with zlmdb's own LMDB binding, which reads
both LMDB data formats Crossbar may have written.
"""

from __future__ import annotations

import os
import struct
import uuid
from typing import Any, Iterator

import cbor2

from .errors import ImportSourceError

# Table UUIDs of the cfxdb record tables (the ``@table`` ids in cfxdb).
COOKIES = uuid.UUID("62f8c8c9-c50b-4686-bafe-38b221c64a0c")
SESSIONS = uuid.UUID("403ecc06-f564-4ea9-92f2-c4c13bd2ba5a")
PUBLICATIONS = uuid.UUID("dd04931a-753b-4fde-8140-d66b93519c73")
EVENTS = uuid.UUID("40a9df31-6065-496f-809f-027a1879654c")

_SLOT = struct.Struct(">H")
_CATALOG_PREFIX = b"\x00\x00"


def _lmdb() -> Any:
    try:
        import zlmdb.lmdb as binding  # optional, with cfxdb: the binding Crossbar writes with
    except ImportError:
        raise ImportSourceError("importing a Crossbar database needs the cfxdb package (installed with "
                                "Crossbar): pip install cfxdb") from None
    return binding


class CfxdbSource:
    """One zlmdb database, open read-only; use as a context manager."""

    def __init__(self, path: str, what: str) -> None:
        self.path = path
        self.what = what
        if not os.path.exists(path):
            raise ImportSourceError(f"{what} {path} does not exist")
        if not os.path.isdir(path) or not os.path.isfile(os.path.join(path, "data.mdb")):
            raise ImportSourceError(f"{what} {path} is not a cfxdb database (expected a directory with data.mdb)")
        binding = _lmdb()
        try:
            self._env = binding.open(path, readonly=True, create=False, subdir=True, lock=True, max_dbs=0)
        except Exception as exc:
            raise ImportSourceError(f"{what} {path} is not a readable LMDB database: {exc}") from None
        try:
            self.slots = self._read_slots()
        except BaseException:
            self._env.close()
            raise

    def __enter__(self) -> "CfxdbSource":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._env.close()

    def _read_slots(self) -> dict[uuid.UUID, int]:
        slots: dict[uuid.UUID, int] = {}
        unreadable = False
        with self._env.begin() as txn:
            cur = txn.cursor()
            found = cur.set_range(_CATALOG_PREFIX)
            while found and cur.key().startswith(_CATALOG_PREFIX):
                try:
                    meta = cbor2.loads(cur.value())
                    slots[uuid.UUID(meta["oid"])] = int(meta["slot"])
                except Exception:
                    unreadable = True
                found = cur.next()
            # cfxstore keeps its catalog in a named LMDB database, visible as a key here.
            is_cfxstore = txn.get(b"__catalog__") is not None
        if slots:
            return slots
        if is_cfxstore:
            raise ImportSourceError(f"{self.what} {self.path} is a cfxstore database, not a Crossbar one")
        reason = "its slot catalog is unreadable" if unreadable else "it has no zlmdb table catalog"
        raise ImportSourceError(f"{self.what} {self.path} is not a cfxdb database ({reason})")

    def last_write(self) -> int:
        """When the database file was last written (int ns)."""
        return os.stat(os.path.join(self.path, "data.mdb")).st_mtime_ns

    def has(self, table: uuid.UUID) -> bool:
        return table in self.slots

    def require(self, *tables: uuid.UUID, kind: str) -> None:
        if not any(t in self.slots for t in tables):
            raise ImportSourceError(f"{self.what} {self.path} is a cfxdb database but holds no {kind} "
                                    f"(it has {len(self.slots)} other tables)")

    def count(self, table: uuid.UUID) -> int:
        return sum(1 for _ in self.values(table))

    def values(self, table: uuid.UUID) -> Iterator[bytes]:
        """The stored value bytes of every record of table, in key order (one read snapshot)."""
        for _, value in self.items(table):
            yield value

    def items(self, table: uuid.UUID) -> Iterator[tuple[bytes, bytes]]:
        """(key without the slot prefix, value) of every record of table, in key order."""
        slot = self.slots.get(table)
        if slot is None:
            return
        prefix = _SLOT.pack(slot)
        with self._env.begin(buffers=False) as txn:
            cur = txn.cursor()
            if not cur.set_range(prefix):
                return
            for key, value in cur:
                if not key.startswith(prefix):
                    return
                yield bytes(key[len(prefix):]), bytes(value)
