"""Map: one value per key, with optional automatically maintained indexes."""

from __future__ import annotations

from itertools import islice
from typing import Any, Callable, Iterable, Iterator

from .core import ACCELERATED
from .entity import default_hooks, table_info
from .errors import InvalidArgument, KeyNotFound, KeyTooLong, SchemaError, UniqueViolation
from .index import Index
from .table import UNBOUND, Table
from .values import FLATBUFFERS, ValueCodec, compose, fail_encode, value_codec


# Records per engine call in put_many: big enough to amortise the call, small
# enough to stream an iterator of any length.
PUT_MANY_BATCH = 4096
_ABSENT = object()


class Map(Table):
    """A table of key -> value.

    ``Map(slot, key='uuid', value='cbor', marshal=..., unmarshal=...)``; a
    ``@table`` class may be given instead of the slot (the catalog then picks
    the slot) or as ``cls=``; ``build``/``cast`` are the FlatBuffers names for
    marshal/unmarshal.
    """

    kind = "map"
    __slots__ = ("codec", "cls", "_enc", "_dec", "_dec_slow", "_marker", "_enc_slow", "_idx", "indexes")

    def __init__(self, slot: Any = None, cls: type | None = None, *, key: Any = "uuid", value: Any = "cbor",
                 marshal: Callable[[Any], Any] | None = None, unmarshal: Callable[[Any], Any] | None = None,
                 build: Callable[[Any], Any] | None = None, cast: Callable[[Any], Any] | None = None) -> None:
        if isinstance(slot, type):
            slot, cls = None, slot
        super().__init__(slot, key)
        self.codec: ValueCodec = value_codec(value)
        marshal = marshal or build
        unmarshal = unmarshal or cast
        if cls is not None:
            info = table_info(cls)
            if info is not None:
                self.table_oid = info.oid
            if marshal is None or unmarshal is None:
                m, u = default_hooks(cls)
                marshal, unmarshal = marshal or m, unmarshal or u
        elif self.slot is None:
            raise SchemaError("a table needs a slot number or a @table class")
        if self.codec is FLATBUFFERS and (marshal is None or unmarshal is None):
            raise SchemaError("a FlatBuffers table needs build= and cast= (or a @table class with both)")
        self.cls = cls
        self._enc, self._dec = compose(self.codec, marshal, unmarshal)
        hooked = marshal is not None or unmarshal is not None
        # Typed-object fallbacks only matter for hook-less tables (hooks use the slow codec already).
        self._marker = None if hooked else self.codec.marker
        self._dec_slow = self.codec.decode_slow or self._dec  # called only where the marker is found
        self._enc_slow = None if hooked else self.codec.encode_slow
        self.indexes: dict[str, Index] = {}
        self._idx: tuple[Index, ...] = ()
        self._replan()

    def _replan(self) -> None:
        self.set_plan(self._kenc, self._enc, self._dec, self._dec_slow, self._marker, self._h, self._maxkey,
                      bool(self._idx), self._getitem_py, self._setitem_py, self._delitem_py,
                      self._put_indexed)

    @property
    def value_signature(self) -> str:
        return self.codec.signature

    # -- single keys ---------------------------------------------------------

    # ``tab[txn, key]``, ``tab[txn, key] = value`` and ``del tab[txn, key]`` run
    # in C when orm._core is built; these are the Python versions, which the C
    # code also calls for anything unusual.

    def _getitem_py(self, tk: tuple[Any, Any]) -> Any:
        txn, key = tk
        try:
            kb = self._kenc(key)
            data = txn.get(self._h, kb)
        except Exception as exc:
            raise self._key_error(exc, key) from None
        if data is None:
            self._check_miss(kb)
            return None
        marker = self._marker
        if marker and marker in data:
            return self._dec_slow(data)
        return self._dec(data)

    def _encode_slow(self, value: Any, exc: Exception) -> bytes:
        if self._enc_slow is not None:
            try:
                return self._enc_slow(value)
            except Exception as exc2:
                exc = exc2
        raise fail_encode(self.describe(), self.codec.signature, value, exc) from None

    def decode_value(self, data: bytes) -> Any:
        """A stored value's bytes as the object the table returns."""
        if self._marker is not None and self._marker in data:
            return self._dec_slow(data)
        return self._dec(data)

    def get(self, txn: Any, key: Any, default: Any = None) -> Any:
        value = self[txn, key]
        return default if value is None else value

    def __contains__(self, tk: tuple[Any, Any]) -> bool:
        txn, key = tk
        try:
            kb = self._kenc(key)
            found = txn.get(self._h, kb) is not None
        except Exception as exc:
            raise self._key_error(exc, key) from None
        if not found:
            self._check_miss(kb)
        return found

    def _setitem_py(self, tk: tuple[Any, Any], value: Any) -> None:
        txn, key = tk
        try:
            kb = self._kenc(key)
        except Exception as exc:
            raise self._key_error(exc, key) from None
        try:
            vb = self._enc(value)
        except Exception as exc:
            vb = self._encode_slow(value, exc)
        if self._idx:
            self._put_indexed(txn, kb, value, vb)
            return
        try:
            txn.put(self._h, kb, vb)
        except Exception as exc:
            raise self._key_error(exc, key) from None

    def _encode_item(self, key: Any, value: Any) -> tuple[bytes, bytes]:
        """(key bytes, value bytes), or the error naming this table, the key and what was wrong."""
        try:
            kb = self._kenc(key)
        except Exception as exc:
            raise self._key_error(exc, key) from None
        try:
            vb = self._enc(value)
        except Exception as exc:
            vb = self._encode_slow(value, exc)
        self._check_key_size(len(kb))
        return kb, vb

    def check_put(self, key: Any, value: Any, encode: bool = True) -> None:
        """Raise the error ``self[txn, key] = value`` would raise for its key, value or
        index keys (too long, unencodable, null), without a transaction: lets a caller
        that writes later refuse a record when it is made. Unique clashes are not checked;
        with encode=False neither is the value's encoding (for callers that know it encodes)."""
        if encode:
            kb, _ = self._encode_item(key, value)
        else:
            kb = self._encode_key(key)
        for idx in self._idx:
            ikb = idx.entry_key(value, check=True)
            if ikb is not None:
                self._check_key_size(len(ikb) + (0 if idx.unique else len(kb)), f"{idx.describe()} key")

    def put_many(self, txn: Any, items: Iterable[tuple[Any, Any]]) -> int:
        """Put every (key, value) pair; returns how many were written. All or nothing:
        a bad record raises and leaves the transaction as it was.

        Without indexes every record is encoded and checked before the first
        write, then written in batches of PUT_MANY_BATCH, one engine call each.
        With indexes records are put one by one (each put checks itself whole);
        if one is refused, the ones before it are put back as they were.
        """
        if self._idx:
            return self._put_many_indexed(txn, items)
        kenc, enc, h, maxkey = self._kenc, self._enc, self._h, self._maxkey
        it = iter(items)
        batches = []
        while batch := list(islice(it, PUT_MANY_BATCH)):
            try:
                pairs = [(kenc(k), enc(v)) for k, v in batch]
                sizes = [len(kb) for kb, _ in pairs]
                if min(sizes) == 0 or max(sizes) > maxkey:
                    raise KeyTooLong()
            except Exception:
                # The careful path: slow codecs, and the error that names the table and key.
                pairs = [self._encode_item(k, v) for k, v in batch]
            batches.append(pairs)
        if self._h is UNBOUND:
            raise self._key_error(TypeError(), None)
        for pairs in batches:
            txn.put_many(h, pairs)
        return sum(map(len, batches))

    def _put_many_indexed(self, txn: Any, items: Iterable[tuple[Any, Any]]) -> int:
        undo: list[tuple[Any, Any]] = []
        try:
            for key, value in items:
                old = self[txn, key] if (txn, key) in self else _ABSENT  # a stored None is a value
                self[txn, key] = value  # a refused put writes nothing itself
                undo.append((key, old))
        except BaseException:
            for key, old in reversed(undo):
                if old is _ABSENT:
                    self.delete(txn, key)
                else:
                    self[txn, key] = old
            raise
        return len(undo)

    def write_known(self, txn: Any, changes: Iterable[tuple[Any, Any, Any]], *,
                    guard: Callable[[Any], tuple[Map, Any, Any] | None] | None = None,
                    existing: bool = False) -> None:
        """Store records whose stored version the caller knows, without reading anything.

        ``changes`` are (key, old, new): old is the stored record (None: the key
        is new), new None deletes it, and only the index entries that differ
        between the two are written. Unique index keys are not checked for clashes: for keys that
        cannot clash (random ones, or ones the caller owns). Each change is
        written whole or not at all: not if ``guard(new)`` gives (table, key,
        bound) and that table holds at key a value whose bytes sort at or after
        bound's (for a codec that sorts as its values do: uint64), nor, with
        ``existing``, if the record is not stored (deleted meanwhile). On an
        engine that defers writes (PostgreSQL) the checks run where the rows
        are written, so a batch of changes costs no round trip of its own.
        """
        group = getattr(txn, "put_group", None)
        h = self._h
        for key, old, new in changes:
            if new is None:
                kb = self._encode_key(key)
                rows: list[tuple[Any, bytes, bytes | None]] = [(h, kb, None)]
            else:
                kb, vb = self._encode_item(key, new)
                rows = [(h, kb, vb)]
            for idx in self._idx:
                entry = None if new is None else idx.entry_key(new, check=True)
                before = None if old is None else idx.entry_key(old)
                if entry == before:
                    continue
                if entry is not None:
                    idx.check_size(entry, kb)
                if before is not None:
                    rows.append((idx.table._h, before if idx.unique else before + kb, None))
                if entry is not None:
                    rows.append((idx.table._h, entry, kb) if idx.unique else (idx.table._h, entry + kb, b""))
            check = guard(new) if guard is not None and new is not None else None
            where = None
            if check is not None:
                table, gkey, bound = check
                where = (table._h, table._encode_key(gkey), table._encode_item(gkey, bound)[1])
            if group is not None:
                group(rows, guard=where, exists=(h, kb) if existing else None)
                continue
            if where is not None:
                held = txn.get(where[0], where[1])
                if held is not None and held >= where[2]:
                    continue
            if existing and txn.get(h, kb) is None:
                continue
            for th, rk, rv in rows:
                if rv is None:
                    txn.delete(th, rk)
                else:
                    txn.put(th, rk, rv)

    def delete(self, txn: Any, key: Any) -> bool:
        """Remove key (and its index entries); False if it was not there."""
        kb = self._encode_key(key)
        try:
            if self._idx:
                old = txn.get(self._h, kb)
                if old is None:
                    return False
                record = self.decode_value(old)
                olds = [idx.entry_key(record) for idx in self._idx]  # computed before the first write
                for idx, oik in zip(self._idx, olds):
                    idx.remove(txn, oik, kb)
            return txn.delete(self._h, kb)
        except Exception as exc:
            raise self._key_error(exc, key) from None

    def _delitem_py(self, tk: tuple[Any, Any]) -> None:
        txn, key = tk
        if not self.delete(txn, key):
            raise KeyNotFound(f"{self.describe()}: no key {key!r}")

    if not ACCELERATED:
        __getitem__ = _getitem_py
        __setitem__ = _setitem_py
        __delitem__ = _delitem_py

    # -- ranges --------------------------------------------------------------

    def select(self, txn: Any, from_key: Any = None, to_key: Any = None, prefix: Any = None,
               reverse: bool = False, limit: int | None = None, return_keys: bool = True,
               return_values: bool = True) -> Iterator[Any]:
        """Stream entries with from_key <= key < to_key (and key starting with prefix), in key order.

        Yields (key, value) pairs, or only keys / only values as asked.
        Partial tuples are accepted for from_key, to_key and prefix.
        """
        it = self._raw_range(txn, from_key, to_key, prefix, reverse, limit)
        kdec = self._kdec
        vdec = self._dec if self._marker is None else self.decode_value
        if return_keys and return_values:
            return ((kdec(k), vdec(v)) for k, v in it)
        if return_keys:
            return (kdec(k) for k, _ in it)
        if return_values:
            return (vdec(v) for _, v in it)
        raise InvalidArgument(f"{self.describe()}: select needs return_keys or return_values")

    def truncate(self, txn: Any) -> int:
        for idx in self._idx:
            idx.table.truncate(txn)
        return super().truncate(txn)

    # -- indexes -------------------------------------------------------------

    def attach_index(self, name: str, index_table: Table, key_fn: Callable[[Any], Any],
                     unique: bool = True, nullable: bool = False) -> Index:
        """Maintain index_table from key_fn(record) on every put and delete of this table.

        unique: index_table is a Map from index key to primary key; a second
        record with the same index key raises UniqueViolation. Otherwise
        index_table is a SetMap from index key to the set of primary keys.
        """
        if name in self.indexes:
            raise SchemaError(f"{self.describe()}: index {name!r} attached twice")
        idx = Index(name, self, index_table, key_fn, unique, nullable)
        self.indexes[name] = idx
        self._idx = tuple(self.indexes.values())
        self._replan()
        return idx

    def index(self, name: str) -> Index:
        try:
            return self.indexes[name]
        except KeyError:
            raise SchemaError(f"{self.describe()} has no index {name!r}; it has: "
                              f"{', '.join(self.indexes) or 'none'}") from None

    def keys_by_index(self, txn: Any, name: str, index_key: Any) -> list[Any]:
        """Every primary key whose record has index_key in index name."""
        return self.index(name).primary_keys(txn, index_key)

    def get_by_index(self, txn: Any, name: str, index_key: Any) -> Any:
        """The first record with index_key in index name, or None."""
        idx = self.indexes.get(name) or self.index(name)
        through = getattr(txn, "get_through", None)  # one round trip on a client-server engine
        if idx.unique:  # the lookup hot path: two gets (or one get_through), no key decoding, few frames
            try:
                ikb = idx._ienc(index_key)
            except Exception:
                ikb = idx.encode_key(index_key)  # raises the error naming the index
            if through is not None:
                data = through(idx.table._h, ikb, self._h)
            else:
                kb = txn.get(idx.table._h, ikb)
                data = None if kb is None else txn.get(self._h, kb)
        else:
            kb = next(iter(idx.primary_keys(txn, index_key, limit=1, raw=True)), None)
            data = None if kb is None else txn.get(self._h, kb)
        if data is None:
            return None
        marker = self._marker
        return self._dec_slow(data) if marker and marker in data else self._dec(data)

    def get_many(self, txn: Any, keys: Iterable[Any]) -> dict[Any, Any]:
        """The stored records of these keys, by key (those found): one round trip on a client-server engine,
        however many keys."""
        wanted = {self._encode_key(key): key for key in keys}
        many = getattr(txn, "get_many", None)
        if many is not None:
            found = many(self._h, list(wanted)) if wanted else []
        else:
            found = [(kb, data) for kb, data in ((kb, txn.get(self._h, kb)) for kb in wanted) if data is not None]
        return {wanted[kb]: self.decode_value(data) for kb, data in found}

    def get_many_by_index(self, txn: Any, name: str, index_keys: Iterable[Any]) -> list[Any]:
        """The records with these keys in the unique index name (those found, in no particular order):
        one round trip on a client-server engine, however many keys."""
        idx = self.index(name)
        if not idx.unique:
            raise SchemaError(f"{idx.describe()}: get_many_by_index needs a unique index")
        keys = list(dict.fromkeys(idx.encode_key(k) for k in index_keys))  # each record once
        through = getattr(txn, "get_many_through", None)
        if through is not None:
            found = through(idx.table._h, keys, self._h) if keys else []
        else:
            owners = (txn.get(idx.table._h, ik) for ik in keys)
            found = [txn.get(self._h, kb) for kb in owners if kb is not None]
        return [self.decode_value(data) for data in found if data is not None]

    def rebuild_index(self, txn: Any, name: str) -> int:
        """Recompute index name from the table; returns the number of entries written."""
        return self.index(name).rebuild(txn)

    def check_indexes(self, txn: Any, repair: bool = False) -> list[str]:
        """Problems found between this table and its indexes (repaired if asked)."""
        problems: list[str] = []
        for idx in self._idx:
            found = idx.check(txn)
            problems.extend(found)
            if found and repair:
                idx.rebuild(txn)
        return problems

    def _put_indexed(self, txn: Any, kb: bytes, value: Any, vb: bytes) -> None:
        # Everything that can refuse the put is checked before the first write,
        # so a refused put leaves the transaction exactly as it was: key sizes,
        # null and unencodable index keys, unique claims, the old record's keys.
        # (Inlined: this is the indexed put's hot path.)
        n, maxkey = len(kb), self._maxkey
        if not 0 < n <= maxkey:
            self._check_key_size(n)
        idxs, h = self._idx, self._h
        new: list[bytes | None] = []
        for idx in idxs:
            ik = idx.key_fn(value)
            if ik is None:
                idx.entry_key(value, check=True)  # raises NullIndexKey unless nullable
                new.append(None)
                continue
            try:
                ikb = idx._ienc(ik)
            except Exception:
                ikb = idx.encode_key(ik)  # raises the error naming the index
            if idx.unique:
                if not 0 < len(ikb) <= maxkey:
                    idx.check_size(ikb, kb)
                owner = txn.get(idx.table._h, ikb)
                if owner is not None and owner != kb:
                    raise UniqueViolation(f"{idx.describe()}: key {idx.table.key_codec.decode(ikb)!r} already "
                                          f"belongs to {idx.owner_key(owner)!r}")
            elif not 0 < len(ikb) + n <= maxkey:
                idx.check_size(ikb, kb)
            new.append(ikb)
        # Inserts are the common case: an insert-only put needs no read of an old record.
        if txn.insert(h, kb, vb):
            for idx, entry in zip(idxs, new):
                if entry is not None:
                    if idx.unique:
                        txn.put(idx.table._h, entry, kb)
                    else:
                        txn.put(idx.table._h, entry + kb, b"")
            return
        old_record = self.decode_value(txn.get(h, kb))
        olds = [idx.entry_key(old_record) for idx in idxs]
        txn.put(h, kb, vb)
        for idx, entry, oik in zip(idxs, new, olds):
            if oik == entry:
                continue
            if oik is not None:
                idx.remove(txn, oik, kb)
            if entry is not None:
                idx.insert(txn, entry, kb)
