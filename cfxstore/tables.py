"""Tables declared on the schema class, readable without a database.

A schema lists its tables as class attributes; each names its slot, the
record kind it stores, the record fields that make its primary key, and
its indexes (each with its own slot and the fields its key is made of)::

    class CookieStore(DeclaredSchema):
        cookies = stored(1, Cookie,
                         unique("idx_cookies_by_value", 100, "value_hash"),
                         index("idx_cookies_by_authid", 101, "authid"))

Key codecs are derived from the fields' declarations (a UUID is "uuid", a
time "timestamp", a WAMP id "uint64", 32 bytes "bytes32", ...), an index is
nullable when a field of its key is optional, and the index tables are named
after their index. ``attach(db)`` builds the orm tables and binds them;
``unbound()`` builds them without a database (for checks, dumps and docs).
"""

from __future__ import annotations

import dataclasses
import operator
import uuid
from typing import Any, Callable, Iterator, Self, overload

import orm

from cfxstore.entity import Entity
from cfxstore.fields import Declared, declared_fields

__all__ = ["Index", "unique", "index", "Stored", "stored", "plain_table", "DeclaredSchema", "key_codec"]


@dataclasses.dataclass(frozen=True)
class Index:
    """An index of a record table: its name (also its table's), slot and the fields its key is made of."""

    name: str
    slot: int
    on: tuple[str, ...]
    unique: bool = True
    #: Computes the key when it is not simply the ``on`` fields (returns None: the record is not indexed).
    key: Callable[[Any], Any] | None = None
    #: Whether a record may have no key here; derived from the ``on`` fields when None.
    nullable: bool | None = None

    @property
    def label(self) -> str:
        """The fields of the key as users read them: ``name`` or ``(realm, authid)``."""
        return self.on[0] if len(self.on) == 1 else f"({', '.join(self.on)})"


def unique(name: str, slot: int, *on: str, key: Callable[[Any], Any] | None = None,
           nullable: bool | None = None) -> Index:
    """A unique index: no two records share a key."""
    return Index(name, slot, on, True, key, nullable)


def index(name: str, slot: int, *on: str, key: Callable[[Any], Any] | None = None,
          nullable: bool | None = None) -> Index:
    """A non-unique index: a key finds every record that has it."""
    return Index(name, slot, on, False, key, nullable)


def key_codec(record: type[Entity], names: tuple[str, ...]) -> str | tuple[str, ...]:
    """The orm key codec of a key made of record's fields ``names`` (one field: a scalar codec)."""
    fields = declared_fields(record)
    parts = tuple(_part_codec(record, fields[n]) if n in fields else _unknown(record, n) for n in names)
    return parts[0] if len(parts) == 1 else parts


def _part_codec(record: type[Entity], field: Declared) -> str:
    spec = field.spec
    if field.base is uuid.UUID:
        return "uuid"
    if field.base is str:
        return "str"
    if field.base is int and spec.time:
        return "timestamp"
    if field.base is int and spec.uint64:
        return "uint64"
    if field.base is bytes and spec.size is not None:
        return f"bytes{spec.size}"
    kind = getattr(field.type, "__name__", str(field.type))
    raise orm.SchemaError(f"{record.__name__}.{field.name}: a {kind} field cannot be part of a key "
                          "(keys are made of UUIDs, strings, times, WAMP ids and fixed-size bytes)")


def _unknown(record: type[Entity], name: str) -> str:
    raise orm.SchemaError(f"{record.__name__} has no field {name!r} to key on; it has: "
                          f"{', '.join(declared_fields(record))}")


def _key_fn(record: type[Entity], on: tuple[str, ...]) -> Callable[[Any], Any]:
    """The key of a record from its ``on`` fields; None while an optional one is None."""
    get = operator.attrgetter(*on)
    fields = declared_fields(record)
    optional = [n for n in on if fields[n].optional]
    if not optional or len(on) == 1:
        return get
    return lambda r: None if any(getattr(r, n) is None for n in optional) else get(r)


# A unique index stores the primary key as its value: the value codec whose bytes are that key's.
_KEY_AS_VALUE = {"uuid": "uuid", "str": "str", "uint64": "oid"}


class Stored:
    """One table of a DeclaredSchema (a class attribute): read on the class, it is the declaration;
    on an attached schema, the orm table."""

    def __init__(self, slot: int, record: type[Entity] | None, indexes: tuple[Index, ...],
                 key: tuple[str, ...] | str, value: str, dumped: bool = True) -> None:
        self.slot, self.record, self.indexes, self.value = slot, record, indexes, value
        #: Whether a dump carries this table (False: it only describes this database, e.g. its recent changes).
        self.dumped = dumped
        if record is None:
            self.key_fields: tuple[str, ...] = ()
            self.key_codec: Any = key
        else:
            self.key_fields = (key,) if isinstance(key, str) else key
            self.key_codec = key_codec(record, self.key_fields)
        self.name = ""
        self.schema: type | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.schema, self.name = owner, name

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...

    @overload
    def __get__(self, obj: object, owner: type) -> orm.Map: ...

    def __get__(self, obj: object | None, owner: type) -> Any:
        if obj is None:
            return self
        # Reached only before attach() put the table on the instance.
        raise AttributeError(f"{owner.__name__}.{self.name}: the schema is not attached")

    def index_key(self, idx: Index) -> Callable[[Any], Any]:
        """The function computing a record's key in index idx."""
        assert self.record is not None  # indexes are declared only with a record kind
        return idx.key or _key_fn(self.record, idx.on)

    def nullable(self, idx: Index) -> bool:
        if idx.nullable is not None:
            return idx.nullable
        assert self.record is not None  # indexes are declared only with a record kind
        fields = declared_fields(self.record)
        return any(fields[n].optional for n in idx.on)

    def build(self) -> Iterator[tuple[str, orm.Table]]:
        """The orm table and its index tables, as (name, table), the table first."""
        if self.record is None:
            yield self.name, orm.Map(self.slot, key=self.key_codec, value=self.value)
            return
        record = self.record
        main = orm.Map(self.slot, key=self.key_codec, value=self.value, marshal=record.marshal,
                       unmarshal=record.load)
        yield self.name, main
        for idx in self.indexes:
            codec = key_codec(record, idx.on)
            itable: orm.Table
            if idx.unique:
                value = _KEY_AS_VALUE.get(self.key_codec) if isinstance(self.key_codec, str) else None
                if value is None:
                    raise orm.SchemaError(f"{self.name}: a unique index needs a uuid, str or uint64 primary key")
                itable = orm.Map(idx.slot, key=codec, value=value)
            else:
                itable = orm.SetMap(idx.slot, key=codec, member=self.key_codec)
            main.attach_index(idx.name, itable, self.index_key(idx), unique=idx.unique,
                              nullable=self.nullable(idx))
            yield idx.name, itable


def stored(slot: int, record: type[Entity], *indexes: Index, key: tuple[str, ...] | str = "oid") -> Stored:
    """A table of ``record`` values (CBOR) keyed by its fields ``key``, with its indexes."""
    return Stored(slot, record, indexes, key, "cbor")


def plain_table(slot: int, *, key: Any, value: str, dumped: bool = True) -> Stored:
    """A table of plain values (no record kind): its key and value codecs given outright."""
    return Stored(slot, None, (), key, value, dumped)


class DeclaredSchema(orm.Schema):
    """A schema whose tables are its Stored class attributes."""

    @classmethod
    def declarations(cls) -> dict[str, Stored]:
        """The declared tables by name, in declaration order."""
        return {name: v for name, v in vars(cls).items() if isinstance(v, Stored)}

    @classmethod
    def unbound(cls) -> Self:
        """An instance holding its tables, built but bound to no database."""
        schema = cls()
        schema._build()
        return schema

    def _build(self) -> None:
        for decl in self.declarations().values():
            for name, tab in decl.build():
                setattr(self, name, tab)

    def attach(self, db: orm.Database) -> None:
        self._build()
