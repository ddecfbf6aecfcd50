"""Tables: a key codec plus a value codec bound to one slot of a database.

``Map`` stores one value per key; ``SetMap`` (setmap.py) a set of members per
key. Both share what this module defines: slot validation, binding to a
database through the catalog, range bounds, selects and counts.

Convention: reading a missing key with ``tab[txn, key]`` returns None (not
KeyError), so ``if tab[txn, k] is None`` is the way to test for absence.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Iterator

from .core import TableCore
from .engine import prefix_end
from .errors import Error, InvalidArgument, KeyTooLong, SchemaError, WrongType
from .keys import KeyCodec, Tuple, key_codec

MAX_SLOT = 65535


class _Unbound:
    """Stands in for an engine handle until the table is attached."""

    def __repr__(self) -> str:
        return "<unbound>"


UNBOUND = _Unbound()


class Table(TableCore):
    """Base of Map and SetMap. Subclasses set ``kind`` and the value side.

    ``_kenc`` encodes keys, ``_h`` is the engine's handle of the table and
    ``_maxkey`` the engine's key limit (0 until bound).
    """

    kind = "table"
    # Slots keep attribute access on the hot paths cheap.
    __slots__ = ("slot", "key_codec", "_kenc", "_kdec", "_h", "_maxkey", "name", "table_oid", "db", "__weakref__")

    def __init__(self, slot: int | None, key: Any) -> None:
        if slot is not None and (isinstance(slot, bool) or not isinstance(slot, int) or not 1 <= slot <= MAX_SLOT):
            raise SchemaError(f"slot must be an int in 1..{MAX_SLOT}, got {slot!r}")
        self.slot = slot
        self.key_codec: KeyCodec = key_codec(key)
        self._kenc = getattr(self.key_codec, "encode_fast", self.key_codec.encode)
        self._kdec = self.key_codec.decode
        self.name: str | None = None
        self.table_oid: Any = None
        self.db: Any = None  # the orm.Database bound to (not named: database.py builds on this module)
        self._h: Any = UNBOUND
        self._maxkey = 0

    # -- identity ------------------------------------------------------------

    @property
    def value_signature(self) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        return f"table {self.name or '?'} (slot {self.slot})"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()} key={self.key_codec.name} value={self.value_signature}>"

    def _bind(self, db: Any, name: str, slot: int, handle: Any) -> None:
        self.db, self.name, self.slot, self._h = db, name, slot, handle
        self._maxkey = db.max_key_size
        self._replan()

    def _replan(self) -> None:
        """Hand the hot-path attributes to TableCore again (Map does; other tables need nothing)."""

    # -- errors --------------------------------------------------------------

    def _key_error(self, exc: Exception, key: Any) -> Exception:
        """Turn a failure around a key into an error naming this table."""
        if self._h is UNBOUND:
            return SchemaError(f"{self.describe()} is not attached to a database; attach its schema first")
        if isinstance(exc, Error) and not isinstance(exc, (InvalidArgument, WrongType)):
            return named(exc, self.describe())
        if isinstance(exc, (TypeError, AttributeError)):
            return WrongType(f"{self.describe()}: key {key!r} has the wrong type; expected {self.key_codec.expected}")
        if isinstance(exc, ValueError):
            return InvalidArgument(f"{self.describe()}: invalid key {key!r}: {exc}")
        return exc

    def _check_miss(self, kb: bytes) -> None:
        """A lookup found nothing: say so loudly if the key could never have been stored."""
        if self._h is UNBOUND:
            raise self._key_error(TypeError(), None)
        if len(kb) > self._maxkey:
            raise KeyTooLong(f"{self.describe()}: key of {len(kb)} bytes exceeds the engine limit "
                             f"of {self._maxkey} bytes")

    def _check_key_size(self, size: int, what: str = "key") -> None:
        """Refuse, before anything is written, a key the engine cannot store."""
        if not 0 < size <= self._maxkey:
            raise KeyTooLong(f"{self.describe()}: {what} of {size} bytes is empty or exceeds the engine limit "
                             f"of {self._maxkey} bytes")

    def _encode_key(self, key: Any) -> bytes:
        try:
            kb = self._kenc(key)
        except Exception as exc:
            raise self._key_error(exc, key) from None
        self._check_miss(kb)
        return kb

    # -- bounds --------------------------------------------------------------

    def _prefix_bytes(self, prefix: Any) -> bytes:
        try:
            return self.key_codec.encode_prefix(prefix)
        except Exception as exc:
            raise self._key_error(exc, prefix) from None

    def _bounds(self, from_key: Any, to_key: Any, prefix: Any) -> tuple[bytes | None, bytes | None]:
        start = None if from_key is None else self._prefix_bytes(from_key)
        stop = None if to_key is None else self._prefix_bytes(to_key)
        if prefix is not None:
            p = self._prefix_bytes(prefix)
            end = prefix_end(p)
            start = p if start is None or start < p else start
            if end is not None and (stop is None or end < stop):
                stop = end
        return start, stop

    def _raw_range(self, txn: Any, from_key: Any, to_key: Any, prefix: Any, reverse: bool,
                   limit: int | None) -> Iterator[tuple[bytes, bytes]]:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise InvalidArgument(f"{self.describe()}: limit must be an int >= 0, got {limit!r}")
        start, stop = self._bounds(from_key, to_key, prefix)
        if self._h is UNBOUND:
            raise self._key_error(TypeError(), None)
        if start is not None and stop is not None and start >= stop:
            return iter(())
        it = txn.iterate(self._h, start, stop, reverse)
        return it if limit is None else islice(it, limit)

    # -- counting and emptying -----------------------------------------------

    def count(self, txn: Any, prefix: Any = None) -> int:
        """Number of entries: O(1) for the whole table, a range scan with prefix."""
        if prefix is None:
            if self._h is UNBOUND:
                raise self._key_error(TypeError(), None)
            return txn.count(self._h)
        return sum(1 for _ in self._raw_range(txn, None, None, prefix, False, None))

    def count_range(self, txn: Any, from_key: Any = None, to_key: Any = None) -> int:
        """Number of entries with from_key <= key < to_key."""
        return sum(1 for _ in self._raw_range(txn, from_key, to_key, None, False, None))

    def truncate(self, txn: Any) -> int:
        """Remove every entry of this table (and of indexes it maintains); returns the count removed."""
        if self._h is UNBOUND:
            raise self._key_error(TypeError(), None)
        return txn.drop(self._h)


def named(exc: Error, where: str) -> Error:
    """exc with its message prefixed by where (unless it names it already); type and retryable kept."""
    if where in str(exc):
        return exc
    new = type(exc)(f"{where}: {exc}")
    new.retryable = exc.retryable
    return new


def is_full_key(codec: KeyCodec, key: Any) -> bool:
    """True if key is a complete key of codec (not a partial tuple prefix)."""
    if isinstance(codec, Tuple):
        return isinstance(key, (tuple, list)) and len(key) == len(codec.parts)
    return True
