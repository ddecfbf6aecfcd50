"""Records in their WAMP/JSON-safe form ("wire form") and back.

The rules, one per declared field type (cfxstore.fields):

* ``uuid.UUID``  -> the canonical 36-character lowercase string;
* times (int-nanosecond fields declared with ``time()``) -> an ISO 8601 UTC
  string with nine fractional digits, ``"2026-12-02T08:38:58.123456789Z"``:
  exact to the nanosecond, and unlike a nanosecond int it survives JSON
  parsers that read numbers as doubles (JavaScript's 2**53 limit);
* ``bytes`` -> standard base64;
* everything else (str, int, bool, float, lists, dicts, None) as is.

A field travels under its declared wire name (its own name unless declared
otherwise). Keys a record does not know (written by a newer version) travel
unchanged and come back into the record, so a read-modify-write through the
API keeps them. On input, times are also accepted as int nanoseconds.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import dataclasses
import datetime
import re
import uuid
from typing import Any, Mapping

from cfxstore.entity import Entity
from cfxstore.fields import declared_fields
from cfxstore.management.errors import InvalidArgument

__all__ = ["is_uuid_field", "parse_uuid", "to_wire", "from_wire", "record_from_wire", "ns_to_iso", "iso_to_ns"]

_NS = 1_000_000_000
_ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")

_UUID, _TIME, _BYTES = "uuid", "time", "bytes"


def ns_to_iso(ns: int) -> str:
    """int ns since the epoch as ``YYYY-MM-DDTHH:MM:SS.fffffffffZ`` (UTC, exact)."""
    seconds, frac = divmod(ns, _NS)
    dt = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=seconds)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{frac:09d}Z"


def iso_to_ns(text: str, field: str = "time") -> int:
    """The inverse of ns_to_iso; also accepts fewer fractional digits and a ±HH:MM offset."""
    m = _ISO.match(text) if isinstance(text, str) else None
    if m is None:
        raise InvalidArgument(f"{field}: expected an ISO 8601 time like 2026-01-31T12:00:00.000000000Z, "
                              f"got {text!r}")
    try:
        base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise InvalidArgument(f"{field}: not a valid date and time: {text!r}") from None
    seconds = calendar.timegm(base.timetuple())
    zone = m.group(3)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds * _NS + int((m.group(2) or "0").ljust(9, "0"))


@dataclasses.dataclass(frozen=True)
class _Form:
    """How one record class travels: conversions by field name, and wire names that differ."""

    conversions: dict[str, str]
    to_wire_name: dict[str, str]
    from_wire_name: dict[str, str]


# By record class (a plain dict: type checkers take a dataclass's class for unhashable).
_FORMS: dict[type[Entity], _Form] = {}


def _form(cls: type[Entity]) -> _Form:
    """cls's wire form, derived once from its field declarations."""
    form = _FORMS.get(cls)
    if form is None:
        conversions: dict[str, str] = {}
        renamed: dict[str, str] = {}
        for name, field in declared_fields(cls).items():
            if field.base is uuid.UUID:
                conversions[name] = _UUID
            elif field.base is bytes:
                conversions[name] = _BYTES
            elif field.spec.time:
                conversions[name] = _TIME
            if field.wire_name != name:
                renamed[name] = field.wire_name
        form = _FORMS[cls] = _Form(conversions, renamed, {w: n for n, w in renamed.items()})
    return form


def is_uuid_field(cls: type[Entity], name: str) -> bool:
    return _form(cls).conversions.get(name) == _UUID


def to_wire(record: Entity) -> dict[str, Any]:
    """The record's stored fields (and unknown keys) in wire form."""
    form = _form(type(record))
    # Every field travels, the ones the stored form leaves out while unset too.
    data = {**dict.fromkeys(record._later()), **record.marshal()}
    for name, conv in form.conversions.items():
        value = data.get(name)
        if value is None:
            continue
        if conv == _UUID:
            data[name] = str(value)
        elif conv == _TIME:
            data[name] = ns_to_iso(value)
        else:
            data[name] = base64.b64encode(value).decode("ascii")
    if form.to_wire_name:
        data = {form.to_wire_name.get(k, k): v for k, v in data.items()}
    return data


def from_wire(cls: type[Entity], data: Mapping[str, Any], *, unknown: str = "refuse") -> dict[str, Any]:
    """Field values of ``cls`` converted from wire form (not yet validated as a record).

    ``unknown``: "refuse" raises InvalidArgument naming keys ``cls`` does not
    have (API input: a typo must not be stored silently); "keep" returns them.
    """
    if not isinstance(data, Mapping):
        raise InvalidArgument(f"{_kind(cls)}: expected an object (dict) of fields, got {type(data).__name__}")
    form = _form(cls)
    if unknown == "refuse":
        names = {form.to_wire_name.get(n, n) for n in cls._fields()}
        extra = sorted(str(k) for k in data if k not in names)
        if extra:
            raise InvalidArgument(f"{_kind(cls)}: unknown field(s) {', '.join(extra)}; "
                                  f"known fields are {', '.join(sorted(names))}")
    out: dict[str, Any] = {}
    for wire_name, value in data.items():
        name = form.from_wire_name.get(wire_name, wire_name)
        conv = form.conversions.get(name)
        if value is None or conv is None:
            out[name] = value
        elif conv == _UUID:
            out[name] = parse_uuid(value, f"{_kind(cls)}.{name}")
        elif conv == _TIME:
            if isinstance(value, int) and not isinstance(value, bool):
                out[name] = value
            else:
                out[name] = iso_to_ns(value, f"{_kind(cls)}.{name}")
        else:
            try:
                out[name] = base64.b64decode(value, validate=True)
            except (binascii.Error, TypeError, ValueError):
                raise InvalidArgument(f"{_kind(cls)}.{name}: expected base64, got {value!r}") from None
    return out


def record_from_wire(cls: type[Entity], data: Mapping[str, Any]) -> Entity:
    """A whole record from its wire form; unknown keys are kept in the record."""
    try:
        return cls.parse(from_wire(cls, data, unknown="keep"))
    except InvalidArgument:
        raise
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None


def parse_uuid(value: Any, field: str) -> uuid.UUID:
    """A UUID from its string form (a UUID object passes through)."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise InvalidArgument(f"{field}: expected a UUID string, got {value!r}")


def _kind(cls: type) -> str:
    return cls.__name__
