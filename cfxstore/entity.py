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
from typing import Any, Self

from cfxstore.errors import InvalidArgument
from cfxstore.fields import check_type, declared_fields, validation_plan


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

    @classmethod
    def _later(cls) -> frozenset[str]:
        """Names of the fields left out of the stored form while None (declared ``later``)."""
        names: frozenset[str] | None = cls.__dict__.get("_later_names")
        if names is None:
            names = frozenset(n for n, d in declared_fields(cls).items() if d.spec.later)
            setattr(cls, "_later_names", names)
        return names

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise InvalidArgument naming the first invalid field.

        Every declared field is checked; subclasses extend this with the rules
        that span fields (call this first).
        """
        owner = type(self).__name__
        for name, optional, classes, steps in validation_plan(type(self)):
            # getattr, not the instance dict: records rebuilt by a fast load path leave unset
            # optional fields to their class defaults.
            value = getattr(self, name)
            if value is None and optional:
                continue
            # The exact class is the common case; check_type handles subclasses (and refuses bools).
            if classes is not None and value.__class__ not in classes:
                check_type(owner, name, value, classes)
            for step in steps:
                step(owner, name, value)

    @classmethod
    def load(cls, data: dict[str, Any]) -> Self:
        """Read a record back from the store (the tables' unmarshal); kinds with a faster path override it."""
        return cls.parse(data)

    def marshal(self) -> dict[str, Any]:
        """The stored form: known fields plus the unknown keys read earlier."""
        data = dict(self._unknown) if self._unknown else {}
        later = self._later()
        for name in self._fields():
            value = getattr(self, name)
            if value is not None or name not in later:
                data[name] = value
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
