"""Base class of the stored domain records.

Records are keyword-only dataclasses whose fields are declared once (see
cfxstore.fields) and validated from those declarations on construction. ``marshal()``
produces the CBOR-ready dict and ``parse()`` reads one back; keys that this
version of the code does not know are kept aside and written back unchanged,
so a newer writer's fields survive an older reader's read-modify-write.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
import uuid
from typing import Any, Iterable, Self

from cfxstore.errors import InvalidArgument
from cfxstore.fields import declared_fields


@dataclasses.dataclass(kw_only=True)
class Entity:
    """A validated record with unknown-key round-tripping."""

    _unknown: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def _fields(cls) -> tuple[str, ...]:
        """Names of the stored fields, in declaration order."""
        names: tuple[str, ...] | None = cls.__dict__.get("_names")
        if names is None:
            names = tuple(declared_fields(cls))
            setattr(cls, "_names", names)
        return names

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise InvalidArgument naming the first invalid field.

        Every declared field is checked; subclasses extend this with the rules
        that span fields (call this first).
        """
        owner = type(self).__name__
        for name, field in declared_fields(type(self)).items():
            field.check(owner, getattr(self, name))

    @classmethod
    def load(cls, data: dict[str, Any]) -> Self:
        """Read a record back from the store (the tables' unmarshal); kinds with a faster path override it."""
        return cls.parse(data)

    def marshal(self) -> dict[str, Any]:
        """The stored form: known fields plus the unknown keys read earlier."""
        data = dict(self._unknown) if self._unknown else {}
        for name in self._fields():
            data[name] = getattr(self, name)
        return data

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Self:
        """Build a record from its stored form; unknown keys are preserved."""
        if not isinstance(data, dict):
            raise InvalidArgument(f"{cls.__name__}: expected a dict, got {type(data).__name__}")
        names = cls._fields()
        known = {k: v for k, v in data.items() if k in names}
        unknown = {k: v for k, v in data.items() if k not in names}
        try:
            return cls(**known, _unknown=unknown)
        except TypeError as exc:  # a missing required field
            raise InvalidArgument(f"{cls.__name__}: {exc}") from None


# A class-level stand-in for records rebuilt without __init__ (fast load paths):
# read-only, so no record can change another's unknown keys through it.
Entity._unknown = MappingProxyType({})  # type: ignore[assignment]


# --- validation helpers: each raises InvalidArgument naming the record and field ---

def require_type(owner: str, name: str, value: Any, types: type | tuple[type, ...], optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise InvalidArgument(f"{owner}.{name}: expected {_names(types)}, got bool")
    if not isinstance(value, types):
        raise InvalidArgument(f"{owner}.{name}: expected {_names(types)}, got {type(value).__name__}")


def require_str(owner: str, name: str, value: Any, optional: bool = False, nonempty: bool = True) -> None:
    require_type(owner, name, value, str, optional)
    if value is not None and nonempty and not value:
        raise InvalidArgument(f"{owner}.{name}: must not be empty")


def require_uint64(owner: str, name: str, value: Any, optional: bool = False) -> None:
    """WAMP ids (sessions, publications, subscriptions) are unsigned 64-bit."""
    require_type(owner, name, value, int, optional)
    if value is not None and not 0 <= value < 2**64:
        raise InvalidArgument(f"{owner}.{name}: expected an int in 0..2**64-1, got {value}")


def require_uuid(owner: str, name: str, value: Any, optional: bool = False) -> None:
    require_type(owner, name, value, uuid.UUID, optional)


def require_ns(owner: str, name: str, value: Any, optional: bool = False) -> None:
    """A timestamp in int nanoseconds (the project's one time convention)."""
    require_type(owner, name, value, int, optional)


def require_choice(owner: str, name: str, value: Any, choices: Iterable[Any], optional: bool = False) -> None:
    if value is None and optional:
        return
    choices = tuple(choices)
    if value not in choices:
        raise InvalidArgument(f"{owner}.{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")


def _names(types: type | tuple[type, ...]) -> str:
    if isinstance(types, tuple):
        return " or ".join(t.__name__ for t in types)
    return types.__name__
