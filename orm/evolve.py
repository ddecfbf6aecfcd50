"""Table evolution through the catalog: drop, rename and retype a table.

Each function runs in one write transaction (the caller's ``txn``, or its
own), so a failure leaves the table exactly as it was. They work on what is
stored, not on schema classes: run them before attaching the schemas that
expect the new layout (migrations do; see docs/orm.md, "Table evolution").
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Callable, Iterator

from .errors import Error, SchemaError, ValueCodecError
from .values import compose, value_codec

if TYPE_CHECKING:
    from .catalog import Catalog
    from .database import Database

ProgressCallback = Callable[[int, int], None]


def _catalog(db: "Database") -> "Catalog":
    # The catalog object of an open database (the one place evolve reaches inside it).
    return db._live().catalog  # type: ignore[return-value]


@contextlib.contextmanager
def _write(db: "Database", txn: Any) -> Iterator[Any]:
    if txn is not None:
        yield txn
    else:
        with db.begin(write=True) as own:
            yield own


def table_entries(db: "Database", txn: Any) -> dict[str, dict[str, Any]]:
    """Every table's catalog entry by name, as txn sees it (uncommitted evolutions included)."""
    return {e["name"]: e for e in _catalog(db).entries(txn).values()}


def _entry(db: "Database", txn: Any, name: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    entries = table_entries(db, txn)
    entry = entries.get(name)
    if entry is None:
        raise SchemaError(f"database {db.path} has no table {name!r}; it has: {', '.join(sorted(entries)) or 'none'}")
    owner = next((e["name"] for e in entries.values() for i in e.get("indexes", []) if i["slot"] == entry["slot"]),
                 None)
    if owner is not None:
        raise SchemaError(f"table {name!r} is an index of table {owner!r}; evolve {owner!r} itself (its indexes "
                          "follow it)")
    return entries, entry


def drop_table(db: "Database", name: str, txn: Any = None) -> int:
    """Remove table name, its records, its index tables and their catalog entries; returns records removed.

    The slots become free for other tables.
    """
    with _write(db, txn) as t:
        entries, entry = _entry(db, t, name)
        by_slot = {e["slot"]: e for e in entries.values()}
        removed = 0
        for slot in [entry["slot"], *(i["slot"] for i in entry.get("indexes", []))]:
            e = by_slot.get(slot)
            if e is None:
                continue
            tab = db.stored_table(e, t)
            n = 0 if tab is None else tab.truncate(t)
            removed += n if slot == entry["slot"] else 0
            _catalog(db).delete(t, slot)
        return removed


def rename_table(db: "Database", old: str, new: str, txn: Any = None) -> None:
    """Give table old the name new (its records, slot and indexes stay)."""
    if not isinstance(new, str) or not new.isidentifier():
        raise SchemaError(f"table {old!r}: new name {new!r} must be a Python identifier (an attribute of a schema)")
    with _write(db, txn) as t:
        entries, entry = _entry(db, t, old)
        if new in entries:
            raise SchemaError(f"cannot rename table {old!r} to {new!r}: table {new!r} exists (slot "
                              f"{entries[new]['slot']})")
        _catalog(db).put(t, {**entry, "name": new})


def retype_table(db: "Database", name: str, value: Any, *, convert: Callable[[Any], Any] | None = None,
                 marshal: Callable[[Any], Any] | None = None, build: Callable[..., Any] | None = None,
                 txn: Any = None, on_row: ProgressCallback | None = None) -> int:
    """Re-encode every record of table name with value codec ``value``; returns the records rewritten.

    Each record is read as stored (CBOR as dicts, FlatBuffers as bytes),
    passed through ``convert`` (to the object the new encoding takes, for
    example a FlatBuffers class from a dict), then encoded with ``value``
    and ``marshal``/``build`` (``build(obj, builder) -> offset`` or
    ``build(obj) -> bytes`` for FlatBuffers). The catalog then records the
    new value type, so the table is attached with the new codec from now on.
    """
    codec = value_codec(value)
    hook = marshal or build
    if codec.signature == "flatbuffers" and hook is None:
        raise SchemaError(f"table {name!r}: retyping to FlatBuffers needs build= (or marshal=)")
    encode = compose(codec, hook, None)[0]
    slow = codec.encode_slow if hook is None else None
    with _write(db, txn) as t:
        _, entry = _entry(db, t, name)
        if entry.get("kind") != "map":
            raise SchemaError(f"table {name!r} is a {entry.get('kind')} table; only map tables can be retyped")
        old = db.stored_table(entry, t)
        raw = db.stored_table({**entry, "value": "bytes"}, t)
        pairs: list[tuple[Any, bytes]] = []
        if old is not None and raw is not None:
            # Everything is converted and encoded before the first write, so a
            # record that fails leaves the table untouched even in a caller's
            # transaction that goes on.
            for key, stored in raw.select(t):
                try:
                    obj = convert(old.decode_value(stored)) if convert is not None else old.decode_value(stored)
                    try:
                        data = encode(obj)
                    except Exception:
                        if slow is None:
                            raise
                        data = slow(obj)
                except Error:
                    raise
                except Exception as exc:
                    raise ValueCodecError(f"table {name!r}: cannot retype the record at key {key!r} to "
                                          f"{codec.signature}: {type(exc).__name__}: {exc}; the table is "
                                          "unchanged") from exc
                pairs.append((key, bytes(data)))
            for done, (key, data) in enumerate(pairs, start=1):
                raw[t, key] = data
                if on_row is not None:
                    on_row(done, len(pairs))
        _catalog(db).put(t, {**entry, "value": codec.signature})
        return len(pairs)


__all__ = ["drop_table", "rename_table", "retype_table", "table_entries"]
