"""SetMap: a set of members per key, one engine entry per (key, member).

Storing each member as its own entry makes add/discard/membership O(log n)
and lets sets of any size read back whole; ``count(txn)`` counts
(key, member) pairs and ``len(tab[txn, key])`` the members of one key.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from .engine import prefix_end
from .errors import KeyNotFound, WrongType
from .keys import KeyCodec, key_codec
from .table import Table, is_full_key


class SetMap(Table):
    """A table of key -> set of members (members are keys themselves: uuid, oid, str, ...)."""

    kind = "set"
    __slots__ = ("member_codec", "_menc", "_mdec", "_knest")

    def __init__(self, slot: int, *, key: Any = "uuid", member: Any = "uuid") -> None:
        super().__init__(slot, key)
        self.member_codec: KeyCodec = key_codec(member)
        self._menc = self.member_codec.encode
        self._mdec = self.member_codec.decode
        self._knest = self.key_codec.encode_nested

    @property
    def value_signature(self) -> str:
        return f"set({self.member_codec.name})"

    def _key_prefix(self, key: Any) -> bytes:
        try:
            return self._knest(key)
        except Exception as exc:
            raise self._key_error(exc, key) from None

    def _member(self, member: Any) -> bytes:
        try:
            return self._menc(member)
        except (TypeError, AttributeError):
            raise WrongType(f"{self.describe()}: member {member!r} has the wrong type; "
                            f"expected {self.member_codec.expected}") from None

    def __getitem__(self, tk: tuple[Any, Any]) -> "SetView":
        txn, key = tk
        return SetView(self, txn, key, self._key_prefix(key))

    def __setitem__(self, tk: tuple[Any, Any], members: Iterable[Any]) -> None:
        view = self[tk]
        # Validate all before changing anything.
        entries = [view._prefix + self._member(m) for m in members]
        for entry in entries:
            self._check_key_size(len(entry), "entry (key and member)")
        view.clear()
        for entry in entries:
            tk[0].put(self._h, entry, b"")

    def __delitem__(self, tk: tuple[Any, Any]) -> None:
        if not self[tk].clear():
            raise KeyNotFound(f"{self.describe()}: no key {tk[1]!r}")

    def __contains__(self, tk: tuple[Any, Any]) -> bool:
        return len(self[tk]) > 0

    def _bounds(self, from_key: Any, to_key: Any, prefix: Any) -> tuple[bytes | None, bytes | None]:
        # A complete bound key is followed by members, so it is encoded self-delimiting;
        # a prefix keeps the Map meaning (leading tuple parts, leading text).
        def enc(k: Any) -> bytes | None:
            if k is None:
                return None
            return self._key_prefix(k) if is_full_key(self.key_codec, k) else self._prefix_bytes(k)

        start, stop = enc(from_key), enc(to_key)
        p = None if prefix is None else self._prefix_bytes(prefix)
        if p is not None:
            end = prefix_end(p)
            start = p if start is None or start < p else start
            if end is not None and (stop is None or end < stop):
                stop = end
        return start, stop

    def select(self, txn: Any, from_key: Any = None, to_key: Any = None, prefix: Any = None,
               reverse: bool = False, limit: int | None = None, return_keys: bool = True,
               return_values: bool = True) -> Iterator[Any]:
        """Stream (key, member) pairs in order; keys only or members only as asked."""
        it = self._raw_range(txn, from_key, to_key, prefix, reverse, limit)
        split = self._split
        if return_keys and return_values:
            return (split(k) for k, _ in it)
        if return_keys:
            return (split(k)[0] for k, _ in it)
        return (split(k)[1] for k, _ in it)

    def _split(self, raw: bytes) -> tuple[Any, Any]:
        key, pos = self.key_codec.decode_nested(raw, 0)
        return key, self._mdec(raw[pos:])

    def add_many(self, txn: Any, pairs: Iterable[tuple[Any, Any]]) -> int:
        """Add every (key, member) pair; returns how many were new."""
        n = 0
        for key, member in pairs:
            n += txn.insert(self._h, self._entry(self._key_prefix(key), member), b"")
        return n

    def _entry(self, prefix: bytes, member: Any) -> bytes:
        """The engine key of (key, member), checked against the engine's key limit."""
        entry = prefix + self._member(member)
        self._check_key_size(len(entry), "entry (key and member)")
        return entry


class SetView:
    """The live set of one key: changes write through the transaction."""

    __slots__ = ("_tab", "_txn", "_key", "_prefix")

    def __init__(self, tab: SetMap, txn: Any, key: Any, prefix: bytes) -> None:
        self._tab, self._txn, self._key, self._prefix = tab, txn, key, prefix

    def add(self, member: Any) -> None:
        self._txn.put(self._tab._h, self._tab._entry(self._prefix, member), b"")

    def update(self, members: Iterable[Any]) -> None:
        for m in members:
            self.add(m)

    def discard(self, member: Any) -> bool:
        return self._txn.delete(self._tab._h, self._prefix + self._tab._member(member))

    def remove(self, member: Any) -> None:
        if not self.discard(member):
            raise KeyNotFound(f"{self._tab.describe()}: {member!r} is not in the set of {self._key!r}")

    def clear(self) -> int:
        doomed = [k for k, _ in self._raw()]
        for k in doomed:
            self._txn.delete(self._tab._h, k)
        return len(doomed)

    def _raw(self) -> Iterator[tuple[bytes, bytes]]:
        return self._txn.iterate(self._tab._h, self._prefix, prefix_end(self._prefix))

    def __contains__(self, member: Any) -> bool:
        try:
            mb = self._tab._menc(member)
        except (TypeError, AttributeError, ValueError):
            return False
        return self._txn.get(self._tab._h, self._prefix + mb) is not None

    def __iter__(self) -> Iterator[Any]:
        n, dec = len(self._prefix), self._tab._mdec
        return (dec(k[n:]) for k, _ in self._raw())

    def __len__(self) -> int:
        return sum(1 for _ in self._raw())

    def __bool__(self) -> bool:
        return next(iter(self._raw()), None) is not None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (set, frozenset)):
            return set(self) == other
        if isinstance(other, SetView):
            return set(self) == set(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"SetView({self._key!r}: {set(self)!r})"
