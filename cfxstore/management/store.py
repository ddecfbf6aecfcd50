"""Collection: create, get, list, update and delete the records of one Kind.

Every method takes ``txn=``: given a write transaction it works inside it
(the caller commits or aborts); without one it runs in its own. Checks run
before any write, so a refused operation writes nothing either way.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import dataclasses
import itertools
from typing import Any, Iterator

import cbor2

import orm
from cfxstore.entity import Entity
from cfxstore.management import relations
from cfxstore.management.errors import AlreadyExists, InUse, InvalidArgument, NotFound
from cfxstore.management.kinds import REFUSE, Kind
from cfxstore.management.owner import Owner
from cfxstore.management.wire import is_uuid_field, parse_uuid
from cfxstore.timeutil import now_ns


__all__ = ["Collection", "Page", "DEFAULT_LIMIT", "MAX_LIMIT"]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_TOUCHED = ("changed", "modified")  # set to now on every update


@dataclasses.dataclass
class Page:
    """One page of a listing; pass ``next`` as ``after`` for the following page (None: last page)."""

    items: list[Any]
    next: str | None


class Collection:
    """The records of one kind in a Management's database."""

    def __init__(self, management: Owner, kind: Kind) -> None:
        self.kind = kind
        self._m = management

    @property
    def schema(self) -> Any:
        """The attached schema of the kind's table (attached on first use: see Management.schema_of)."""
        return self._m.schema_of(self.kind)

    @property
    def table(self) -> orm.Map:
        return getattr(self.schema, self.kind.table)

    # -- reading -------------------------------------------------------------

    def find(self, key: Any, txn: Any = None) -> Entity | None:
        """The record with primary key ``key``, or None."""
        key = self._key(key)
        with self._m.transaction(txn) as t:
            return self.table[t, key]

    def get(self, key: Any, txn: Any = None) -> Entity:
        """The record with primary key ``key``; NotFound if there is none."""
        record = self.find(key, txn)
        if record is None:
            raise NotFound(f"no {self.kind.name} {_show(key)}")
        return record

    def get_by(self, index_key: Any, txn: Any = None) -> Entity:
        """The record whose first unique index (its name, for named kinds) has ``index_key``."""
        if not self.kind.unique:
            raise InvalidArgument(f"{self.kind.name} records have no unique name to look up")
        unique = self.kind.unique[0]
        with self._m.transaction(txn) as t:
            try:
                record = self.table.get_by_index(t, unique.index, index_key)
            except (orm.Error, ValueError, TypeError) as exc:
                raise InvalidArgument(f"{self.kind.name} {unique.label}: {exc}") from None
        if record is None:
            raise NotFound(f"no {self.kind.name} with {unique.label} {_show(index_key)}")
        return record

    def list(self, txn: Any = None, *, limit: int = DEFAULT_LIMIT, after: str | None = None,
             **filters: Any) -> Page:
        """Up to ``limit`` records in a stable order, starting after cursor ``after``.

        ``filters`` are field=value pairs for the fields the kind has an index
        on (``kind.filters``); the first drives the scan, the others are checked.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise InvalidArgument(f"limit: expected an int in 1..{MAX_LIMIT}, got {limit!r}")
        for name in filters:
            if name not in self.kind.filters:
                allowed = ", ".join(self.kind.filters) or "none"
                raise InvalidArgument(f"{self.kind.name}: cannot filter by {name!r}; filters: {allowed}")
        filters = {name: self._filter_value(name, value) for name, value in filters.items()}
        start = _decode_cursor(after)
        with self._m.transaction(txn) as t:
            items: list[Any] = []
            last = None
            for sortkey, record in self._scan(t, filters, start):
                if all(getattr(record, f) == v for f, v in filters.items()):
                    if len(items) == limit:
                        return Page(items, _encode_cursor(last))
                    items.append(record)
                    last = sortkey
            return Page(items, None)

    def referring(self, txn: Any, field: str, value: Any) -> Iterator[Entity]:
        """Records whose ``field`` equals ``value`` (through an index when there is one)."""
        if field in self.kind.filters:
            return (r for _, r in self._scan(txn, {field: value}, None))
        return (r for r in self.table.select(txn, return_keys=False) if getattr(r, field) == value)

    # -- writing -------------------------------------------------------------

    def create(self, txn: Any = None, **fields: Any) -> Entity:
        """Validate, check references and unique names, and store a new record."""
        self._writable()
        record = self._build(fields)

        def run(t: Any) -> Entity:
            key = self.kind.key_of(record)
            if self.table[t, key] is not None:
                raise AlreadyExists(f"{self.kind.name} {_show(key)} already exists")
            self._check(t, record, key, "created", None)
            self._put(t, key, record)
            self._m.changed(t, self.kind, "created", record)
            return record

        return self._m.write(txn, run)

    def update(self, key: Any, txn: Any = None, **changes: Any) -> Entity:
        """Change fields of an existing record (keys and creation times are fixed)."""
        self._writable()
        fixed = sorted(set(changes) & self.kind.immutable)
        if fixed:
            raise InvalidArgument(f"{self.kind.name}: {', '.join(fixed)} cannot be changed")
        self._known(changes)
        key = self._key(key)

        def run(t: Any) -> Entity:
            old = self.table[t, key]
            if old is None:
                raise NotFound(f"no {self.kind.name} {_show(key)}")
            touched = {name: now_ns() for name in _TOUCHED if hasattr(old, name) and name not in changes}
            try:
                record = dataclasses.replace(old, **changes, **touched)
            except (TypeError, ValueError) as exc:
                raise InvalidArgument(str(exc)) from None
            self._check(t, record, key, "updated", old)
            self._put(t, key, record)
            self._m.changed(t, self.kind, "updated", record, old)
            return record

        return self._m.write(txn, run)

    def delete(self, key: Any, txn: Any = None) -> Entity:
        """Delete the record, applying each relation's rule (refuse or cascade); returns it."""
        self._writable()
        key = self._key(key)

        def run(t: Any) -> Entity:
            record = self.table[t, key]
            if record is None:
                raise NotFound(f"no {self.kind.name} {_show(key)}")
            plan: list[tuple[Collection, Entity]] = []
            self._plan_delete(t, record, plan, set())
            for coll, rec in plan:  # every refusal was raised before this first delete
                del coll.table[t, coll.kind.key_of(rec)]
                self._m.changed(t, coll.kind, "deleted", rec)
            return record

        return self._m.write(txn, run)

    # -- internals -----------------------------------------------------------

    def _writable(self) -> None:
        if self.kind.internal:
            raise InvalidArgument(f"{self.kind.name} records are managed through their owner's operations")

    def _known(self, fields: dict[str, Any]) -> None:
        names = self.kind.entity._fields()
        unknown = sorted(set(fields) - set(names))
        if unknown:
            raise InvalidArgument(f"{self.kind.name}: unknown field(s) {', '.join(unknown)}; "
                                  f"known fields are {', '.join(names)}")

    def _build(self, fields: dict[str, Any]) -> Entity:
        self._known(fields)
        try:
            return self.kind.entity(**fields)
        except TypeError as exc:  # a required field is missing
            missing = str(exc).partition(": ")[2] or str(exc)
            raise InvalidArgument(f"{self.kind.name}: missing required field(s) {missing}") from None
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None

    def _key(self, key: Any) -> Any:
        n = len(self.kind.key_fields)
        if n == 1:
            name = self.kind.key_fields[0]
            if is_uuid_field(self.kind.entity, name):
                return parse_uuid(key, f"{self.kind.name}.{name}")
            if not isinstance(key, str) or not key:  # a key that is a name (cryptosign keys: the public key)
                raise InvalidArgument(f"{self.kind.name}.{name}: expected a non-empty string, got {key!r}")
            return key
        if not isinstance(key, (tuple, list)) or len(key) != n:
            raise InvalidArgument(f"{self.kind.name}: expected a key of {n} parts "
                                  f"({', '.join(self.kind.key_fields)}), got {key!r}")
        return tuple(parse_uuid(v, f"{self.kind.name}.{f}") for v, f in zip(key, self.kind.key_fields))

    def _check(self, txn: Any, record: Entity, key: Any, op: str, old: Entity | None) -> None:
        """References resolve, unique names are free and the kind's relations allow it (before anything is written)."""
        for ref in self.kind.refs:
            value = getattr(record, ref.field)
            if value is not None and self._m.collection(ref.target).table[txn, value] is None:
                raise NotFound(f"{self.kind.name}.{ref.field}: no {ref.target} {value}")
        for unique in self.kind.unique:
            ikey = unique.key(record)
            if ikey is None or (isinstance(ikey, tuple) and None in ikey):
                continue
            try:
                holder = getattr(self.schema, unique.index)[txn, ikey]
            except (orm.Error, ValueError) as exc:
                raise InvalidArgument(f"{self.kind.name}.{unique.label}: {exc}") from None
            if holder is not None and holder != key:
                raise AlreadyExists(f"{self.kind.name} with {unique.label} {_show(ikey)} already exists")
        relations.run(self._m, txn, self.kind.name, op, relations.CHECK, old, record)

    def _put(self, txn: Any, key: Any, record: Entity) -> None:
        try:
            self.table[txn, key] = record
        except orm.UniqueViolation as exc:
            raise AlreadyExists(f"{self.kind.name}: {exc}") from None
        except (orm.KeyTooLong, orm.NullIndexKey, orm.ValueCodecError) as exc:
            raise InvalidArgument(f"{self.kind.name}: {exc}") from None

    def _plan_delete(self, txn: Any, record: Entity, plan: builtins.list[tuple[Collection, Entity]], seen: set) -> None:
        mark = (self.kind.name, self.kind.key_of(record))
        if mark in seen:
            return
        seen.add(mark)
        key = self.kind.key_of(record)
        for child, ref in self._m.referrers(self.kind.name):
            for rec in child.referring(txn, ref.field, key):
                if ref.on_delete == REFUSE:
                    raise InUse(f"{self.kind.name} {_label(record)} is referred to by {child.kind.name} "
                                f"{_label(rec)} ({ref.field}); delete or change that first")
                child._plan_delete(txn, rec, plan, seen)
        plan.append((self, record))

    def _scan(self, txn: Any, filters: dict[str, Any], start: Any) -> Iterator[tuple[Any, Entity]]:
        """(sort key, record) pairs in order, from the first index that serves a filter."""
        pairs = self._sorted_keys(txn, filters, start)
        if start is not None:
            pairs = itertools.dropwhile(lambda p: p[0] <= start, pairs)
        table = self.table
        for sortkey, pk in pairs:
            record = table[txn, pk]
            if record is not None:
                yield sortkey, record

    def _sorted_keys(self, txn: Any, filters: dict[str, Any], start: Any) -> Iterator[tuple[Any, Any]]:
        kind = self.kind
        if filters:
            field, value = next(iter(filters.items()))
            how = kind.filters[field]
            if how.how == "pk":
                return ((k, k) for k in self.table.select(txn, prefix=(value,), from_key=start,
                                                          return_values=False))
            index = how.index
            assert index is not None  # every filter but "pk" names its index (kinds.py)
            if how.how == "set":
                return ((k, k) for k in self.table.keys_by_index(txn, index, value))
            return iter(getattr(self.schema, index).select(txn, prefix=(value,), from_key=start))
        if kind.order:
            return iter(getattr(self.schema, kind.order).select(txn, from_key=start))
        return ((k, k) for k in self.table.select(txn, from_key=start, return_values=False))

    def _filter_value(self, field: str, value: Any) -> Any:
        if is_uuid_field(self.kind.entity, field):
            return parse_uuid(value, f"{self.kind.name}.{field}")
        if not isinstance(value, str) or not value:
            raise InvalidArgument(f"{self.kind.name}.{field}: expected a non-empty string, got {value!r}")
        return value


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return repr(value) if isinstance(value, str) else str(value)


def _label(record: Entity) -> str:
    for name in ("name", "authid", "email", "uri", "pubkey"):
        value = getattr(record, name, None)
        if value:
            return repr(value)
    return _show(getattr(record, "oid", None) or getattr(record, "key", None))


def _encode_cursor(sortkey: Any) -> str:
    return base64.urlsafe_b64encode(cbor2.dumps(sortkey)).decode("ascii")


def _decode_cursor(cursor: Any) -> Any:
    if cursor is None:
        return None
    try:
        value = cbor2.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (AttributeError, binascii.Error, ValueError, cbor2.CBORDecodeError, UnicodeError):
        raise InvalidArgument(f"after: not a cursor returned by a previous list call: {cursor!r}") from None
    return tuple(value) if isinstance(value, list) else value
