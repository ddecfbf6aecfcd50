"""The ``@table`` decorator: persistent classes with a stable table UUID.

A decorated class carries its table UUID and its (de)serialisation hooks, so
``MapUuidCbor(User)`` needs nothing else. A class with annotations but no
``__init__`` of its own becomes a dataclass, so ``User(oid=..., name=...)``
works as written. Instances stored in a table that was declared without a
class keep their type: CBOR writes them as a typed object and reads
them back through the registry below, under a private tag (CBOR's tag 27
is decoded by cbor2 itself and cannot be used).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Callable, TypeVar

import cbor2

from .errors import SchemaError

T = TypeVar("T", bound=type)

# Stable namespace for table identifiers that are not UUIDs themselves.
_NAMESPACE = uuid.UUID("6f1c8a52-3f0e-4d3b-9a37-2d1f0b8c5e41")
_TYPED_OBJECT_TAG = 0x4F524D  # "ORM", first-come-first-served tag range
_PREFIX = "orm:"
# How the tag's head looks in encoded bytes: a cheap "might hold a typed object" test.
TYPED_OBJECT_MARK = cbor2.dumps(cbor2.CBORTag(_TYPED_OBJECT_TAG, None))[:-1]

_registry: dict[uuid.UUID, type] = {}


@dataclasses.dataclass(frozen=True)
class TableInfo:
    oid: uuid.UUID
    marshal: Callable[[Any], Any] | None
    unmarshal: Callable[[Any], Any] | None


def table_oid(ident: str | uuid.UUID) -> uuid.UUID:
    """A UUID for a table identifier; non-UUID strings map to a stable UUIDv5."""
    if isinstance(ident, uuid.UUID):
        return ident
    if not isinstance(ident, str) or not ident:
        raise SchemaError(f"table identifier must be a UUID or a non-empty string, got {ident!r}")
    try:
        return uuid.UUID(ident)
    except ValueError:
        return uuid.uuid5(_NAMESPACE, ident)


def table(oid: str | uuid.UUID, marshal: Callable[[Any], Any] | None = None,
          unmarshal: Callable[[Any], Any] | None = None, *,
          build: Callable[[Any], Any] | None = None, cast: Callable[[Any], Any] | None = None) -> Callable[[T], T]:
    """Mark a class as persistent under table UUID ``oid``.

    ``marshal``/``unmarshal`` (or ``build``/``cast`` for FlatBuffers) convert
    between an instance and its stored form; without them a dataclass is
    stored as a dict of its fields.
    """
    ident = table_oid(oid)

    def decorate(cls: T) -> T:
        if (cls.__dict__.get("__annotations__") and "__init__" not in cls.__dict__
                and not dataclasses.is_dataclass(cls)):
            cls = dataclasses.dataclass(cls)  # type: ignore[assignment]
        elif (not dataclasses.is_dataclass(cls) and "__init__" not in cls.__dict__
              and cls.__init__ is object.__init__):  # type: ignore[misc]  # cls is a class, not an instance
            cls = dataclasses.dataclass(cls)  # type: ignore[assignment]
        cls.__orm_table__ = TableInfo(ident, marshal or build, unmarshal or cast)  # type: ignore[attr-defined]
        _registry[ident] = cls
        return cls

    return decorate


def table_info(cls: Any) -> TableInfo | None:
    return getattr(cls, "__orm_table__", None)


def default_hooks(cls: type) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """marshal/unmarshal for a class: decorator hooks, else its own marshal/parse, else dataclass fields."""
    info = table_info(cls)
    marshal = info.marshal if info else None
    unmarshal = info.unmarshal if info else None
    if marshal is None and callable(getattr(cls, "marshal", None)):
        marshal = cls.marshal  # type: ignore[attr-defined]
    if unmarshal is None:
        for name in ("parse", "unmarshal"):
            fn = getattr(cls, name, None)
            if callable(fn):
                unmarshal = fn
                break
    if (marshal is None or unmarshal is None) and dataclasses.is_dataclass(cls):
        names = frozenset(f.name for f in dataclasses.fields(cls))
        marshal = marshal or _fields_of
        unmarshal = unmarshal or (lambda data: cls(**{k: v for k, v in data.items() if k in names}))
    if marshal is None or unmarshal is None:
        raise SchemaError(f"class {cls.__name__} needs marshal/unmarshal hooks (or be a dataclass)")
    return marshal, unmarshal


def _fields_of(obj: Any) -> dict[str, Any]:
    try:
        return obj.__dict__
    except AttributeError:  # slots dataclass
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def cbor_default(encoder: Any, obj: Any) -> None:
    """CBOR fallback: @table instances as typed objects, other dataclasses as dicts."""
    info = table_info(type(obj))
    if info is not None:
        # The same choice of marshal as the decoder's choice of unmarshal (default_hooks).
        marshal = default_hooks(type(obj))[0]
        # The fields travel as an embedded CBOR byte string: a tag's content is
        # decoded immutably (tuples, frozendicts), the embedded bytes are not.
        inner = cbor2.dumps(marshal(obj), default=cbor_default)
        encoder.encode(cbor2.CBORTag(_TYPED_OBJECT_TAG, [_PREFIX + str(info.oid), inner]))
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        encoder.encode(_fields_of(obj))
    else:
        raise cbor2.CBOREncodeTypeError(f"cannot serialize type {type(obj).__name__}")


def cbor_tag_hook(*args: Any) -> Any:
    # cbor2 calls tag_hook(decoder, tag) before 6.0 and tag_hook(tag, immutable) since.
    tag = args[0] if isinstance(args[0], cbor2.CBORTag) else args[1]
    if tag.tag == _TYPED_OBJECT_TAG and isinstance(tag.value, (list, tuple)) and len(tag.value) == 2:
        name, inner = tag.value
        if isinstance(name, str) and name.startswith(_PREFIX) and isinstance(inner, bytes):
            data = cbor2.loads(inner, tag_hook=cbor_tag_hook)
            cls = _registry.get(uuid.UUID(name[len(_PREFIX):]))
            if cls is not None:
                info = table_info(cls)
                if info is not None and info.unmarshal is not None:
                    return info.unmarshal(data)
                return default_hooks(cls)[1](data)
    return tag
