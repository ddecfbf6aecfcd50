"""Secondary indexes, maintained by their Map inside the writing transaction.

A unique index is a Map from the index key to the primary key (raw primary
key bytes as its value). A non-unique index is a SetMap whose entries are
``nested(index key) + primary key``, so all primary keys of one index key
are one contiguous range.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from .engine import prefix_end
from .errors import KeyTooLong, NullIndexKey, SchemaError, UniqueViolation, WrongType
from .keys import KeyCodec
from .setmap import SetMap
from .table import Table


class Indexed(Protocol):
    """What an index reads of the table it indexes (an orm.Map, whose module builds on this one)."""

    key_codec: KeyCodec
    _h: Any

    def describe(self) -> str: ...
    def decode_value(self, data: bytes) -> Any: ...


# Value codecs whose bytes equal a key codec's final encoding.
_VALUE_AS_KEY = {"uuid": "uuid", "oid": "uint64", "str": "str", "bytes": "bytes"}


def _stores_keys_of(index_table: Table, unique: bool) -> str:
    if unique:
        sig = index_table.value_signature
        return sig[4:] if sig.startswith("key:") else _VALUE_AS_KEY.get(sig, "?" + sig)
    return index_table.member_codec.name


class Index:
    """One index of a Map: name, index table, key function and its rules."""

    def __init__(self, name: str, owner: Indexed, table: Table, key_fn: Callable[[Any], Any],
                 unique: bool, nullable: bool) -> None:
        if not isinstance(name, str) or not name:
            raise SchemaError("an index needs a non-empty name")
        if not callable(key_fn):
            raise SchemaError(f"index {name!r}: key_fn must be callable")
        if unique == isinstance(table, SetMap):
            need = "a Map (index key -> primary key)" if unique else "a SetMap (index key -> primary keys)"
            raise SchemaError(f"index {name!r}: a {'unique' if unique else 'non-unique'} index needs {need}")
        stored = _stores_keys_of(table, unique)
        if stored != owner.key_codec.name:
            raise SchemaError(f"index {name!r}: its table stores {stored.lstrip('?')} but the primary key of "
                              f"{owner.describe()} is {owner.key_codec.name}")
        self.name, self.owner, self.table = name, owner, table
        self.key_fn, self.unique, self.nullable = key_fn, unique, nullable
        codec = table.key_codec
        self._ienc = codec.encode if unique else codec.encode_nested
        self._pkdec = owner.key_codec.decode

    def definition(self) -> dict[str, Any]:
        """What the catalog stores about this index."""
        return {"name": self.name, "slot": self.table.slot, "unique": self.unique, "nullable": self.nullable}

    def describe(self) -> str:
        return f"index {self.name} of {self.owner.describe()}"

    # -- entries -------------------------------------------------------------

    def entry_key(self, record: Any, check: bool = False) -> bytes | None:
        """Encoded index key of record; None for a null key (refused if not nullable and check)."""
        ik = self.key_fn(record)
        if ik is None:
            if check and not self.nullable:
                raise NullIndexKey(f"{self.describe()}: key function returned None and the index is not nullable")
            return None
        try:
            return self._ienc(ik)
        except Exception:
            return self.encode_key(ik)  # raises the error that names this index

    def check_size(self, ikb: bytes, kb: bytes) -> None:
        """Refuse, before anything is written, an index entry the engine cannot store."""
        size = len(ikb) if self.unique else len(ikb) + len(kb)
        limit = self.table._maxkey
        if not 0 < size <= limit:
            raise KeyTooLong(f"{self.describe()}: index key of {size} bytes is empty or exceeds the engine limit "
                             f"of {limit} bytes")

    def owner_key(self, kb: bytes) -> Any:
        """A primary key as stored in this index, decoded for messages."""
        try:
            return self._pkdec(kb)
        except Exception:
            return kb

    def claim(self, txn: Any, ikb: bytes, kb: bytes) -> None:
        """Point a unique index key at kb, refusing one that belongs to another primary key."""
        h = self.table._h
        if not txn.insert(h, ikb, kb):
            owner = txn.get(h, ikb)
            if owner != kb:
                raise UniqueViolation(f"{self.describe()}: key {self.table.key_codec.decode(ikb)!r} already "
                                      f"belongs to {self.owner_key(owner)!r}")

    def insert(self, txn: Any, ikb: bytes, kb: bytes) -> None:
        if self.unique:
            txn.put(self.table._h, ikb, kb)
        else:
            txn.put(self.table._h, ikb + kb, b"")

    def remove(self, txn: Any, ikb: bytes | None, kb: bytes) -> None:
        if ikb is None:
            return
        if self.unique:
            if txn.get(self.table._h, ikb) == kb:
                txn.delete(self.table._h, ikb)
        else:
            txn.delete(self.table._h, ikb + kb)

    # -- queries -------------------------------------------------------------

    def encode_key(self, index_key: Any) -> bytes:
        try:
            return self._ienc(index_key)
        except (TypeError, AttributeError):
            raise WrongType(f"{self.describe()}: index key {index_key!r} has the wrong type; "
                            f"expected {self.table.key_codec.expected}") from None

    def primary_keys(self, txn: Any, index_key: Any, limit: int | None = None, raw: bool = False) -> list[Any]:
        """Primary keys for index_key (encoded bytes if raw)."""
        ikb = self.encode_key(index_key)
        if self.unique:
            pk = txn.get(self.table._h, ikb)
            if pk is None:
                return []
            return [pk if raw else self._pkdec(pk)]
        out = []
        n = len(ikb)
        for k, _ in txn.iterate(self.table._h, ikb, prefix_end(ikb)):
            out.append(k[n:] if raw else self._pkdec(k[n:]))
            if limit is not None and len(out) >= limit:
                break
        return out

    # -- maintenance ---------------------------------------------------------

    def _expected(self, txn: Any) -> set[tuple[bytes, bytes]]:
        """(index entry key, entry value) pairs the table implies."""
        out: set[tuple[bytes, bytes]] = set()
        dec = self.owner.decode_value
        for kb, vb in txn.iterate(self.owner._h, None, None):
            ikb = self.entry_key(dec(vb))
            if ikb is not None:
                out.add((ikb, kb) if self.unique else (ikb + kb, b""))
        return out

    def rebuild(self, txn: Any) -> int:
        txn.drop(self.table._h)
        n = 0
        dec = self.owner.decode_value
        for kb, vb in txn.iterate(self.owner._h, None, None):
            ikb = self.entry_key(dec(vb), check=True)
            if ikb is None:
                continue
            if self.unique:
                self.claim(txn, ikb, kb)
            else:
                self.insert(txn, ikb, kb)
            n += 1
        return n

    def check(self, txn: Any) -> list[str]:
        expected = self._expected(txn)
        actual = set(txn.iterate(self.table._h, None, None))
        problems = []
        missing, extra = expected - actual, actual - expected
        if missing:
            problems.append(f"{self.describe()}: {len(missing)} entries missing")
        if extra:
            problems.append(f"{self.describe()}: {len(extra)} stale entries")
        return problems
