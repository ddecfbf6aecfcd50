"""Record fields declared once: validation follows from the annotation and the declaration."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

from cfxstore.entity import Entity
from cfxstore.errors import InvalidArgument
from cfxstore.fields import (
    CASCADE, Reference, check_field, declared_fields, field, name_field, time, uint64,
)


def _even(value: int) -> str | None:
    """an even number"""
    return None if value % 2 == 0 else f"expected an even number, got {value}"


@dataclasses.dataclass(kw_only=True)
class Thing(Entity):
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    title: str = name_field(max_bytes=8)
    note: str | None = field(default=None, empty=True)
    at: int = time(default=0)
    wamp_id: int | None = uint64(default=None)
    count: int = field(default=1, min=1, max=9, rule=_even)
    flag: bool = False
    digest: bytes = field(default=b"\0" * 4, size=4, secret=True)
    color: str = field(default="red", choices=("red", "blue"))
    tags: list[str] = field(default_factory=list)
    counters: dict[str, int | float] = field(default_factory=dict)
    extra: dict[str, Any] | None = None
    owner: uuid.UUID | None = field(default=None, ref=Reference("user", CASCADE))


def make(**changes: Any) -> Thing:
    return Thing(**{"title": "t", "count": 2, **changes})


def test_a_valid_record_passes():
    assert make(note="", wamp_id=2**64 - 1, tags=["a"], counters={"n": 1, "x": 0.5}, extra={"k": [1]}).title == "t"


@pytest.mark.parametrize("changes, message", [
    ({"title": ""}, "Thing.title: must not be empty"),
    ({"title": "a b"}, "Thing.title: must not contain whitespace or control characters"),
    ({"title": "\u00e9" * 5}, "Thing.title: at most 8 UTF-8 bytes, got 10"),
    ({"title": 3}, "Thing.title: expected str, got int"),
    ({"note": 1}, "Thing.note: expected str, got int"),
    ({"at": True}, "Thing.at: expected int, got bool"),
    ({"at": 1.5}, "Thing.at: expected int, got float"),
    ({"wamp_id": -1}, r"Thing.wamp_id: expected an int in 0..2\*\*64-1, got -1"),
    ({"count": 0}, r"Thing.count: expected an int in 1..9, got 0"),
    ({"count": 3}, "Thing.count: expected an even number, got 3"),
    ({"flag": 1}, "Thing.flag: expected bool, got int"),
    ({"digest": b"123"}, "Thing.digest: expected 4 bytes, got 3"),
    ({"color": "green"}, "Thing.color: expected one of 'red', 'blue', got 'green'"),
    ({"tags": ("a",)}, "Thing.tags: expected list, got tuple"),
    ({"tags": ["a", ""]}, "Thing.tags: must not be empty"),
    ({"counters": {"n": "1"}}, r"Thing.counters\['n'\]: expected int or float, got str"),
    ({"counters": {"": 1}}, "Thing.counters key: must not be empty"),
    ({"counters": {"n": True}}, r"Thing.counters\['n'\]: expected int or float, got bool"),
    ({"oid": str(uuid.uuid4())}, "Thing.oid: expected UUID, got str"),
    ({"owner": 5}, "Thing.owner: expected UUID, got int"),
])
def test_a_bad_field_names_the_kind_the_field_and_what_was_wrong(changes, message):
    with pytest.raises(InvalidArgument, match=message):
        make(**changes)


def test_a_missing_required_field_is_refused():
    with pytest.raises(TypeError, match="title"):
        Thing(count=2)  # type: ignore[call-arg]


def test_subclasses_of_the_declared_type_pass():
    class Text(str):
        pass

    assert make(title=Text("t")).title == "t"


def test_one_field_can_be_checked_alone():
    check_field(Thing, "count", 4)
    with pytest.raises(InvalidArgument, match="Thing.count: expected an int in 1..9, got 10"):
        check_field(Thing, "count", 10)


def test_the_declarations_are_readable():
    fields = declared_fields(Thing)
    assert list(fields)[:3] == ["oid", "title", "note"]
    assert fields["note"].optional and not fields["title"].optional
    assert fields["at"].spec.time and fields["digest"].spec.secret
    assert fields["owner"].spec.ref == Reference("user", CASCADE)
    assert Thing._fields() == tuple(fields)


def test_an_unknown_delete_rule_is_refused():
    with pytest.raises(InvalidArgument, match="on_delete must be one of refuse, cascade, got 'ignore'"):
        Reference("user", "ignore")
