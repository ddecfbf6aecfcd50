"""Tables declared on the schema class: key codecs, index rules and tables follow from the declarations."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

import orm
from cfxstore.entity import Entity
from cfxstore.fields import field, time, uint64
from cfxstore.tables import DeclaredSchema, index, key_codec, plain_table, stored, unique


@dataclasses.dataclass(kw_only=True)
class Item(Entity):
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    name: str
    at: int = time(default=0)
    seq: int = uint64(default=0)
    digest: bytes = field(default=b"\0" * 32, size=32)
    group: str | None = None
    weight: float = 0.0


class Shop(DeclaredSchema):
    """A schema for the tests."""

    items = stored(
        1, Item,
        unique("idx_items_by_name", 100, "name"),
        index("idx_items_by_group", 101, "group", "at"),
        unique("idx_items_by_digest", 102, "digest"),
    )
    log = plain_table(2, key="uint64", value="cbor")
    idx_items_by_name: orm.Map
    idx_items_by_group: orm.SetMap


def test_key_codecs_follow_the_field_declarations():
    assert key_codec(Item, ("oid",)) == "uuid"
    assert key_codec(Item, ("name", "at", "seq", "digest")) == ("str", "timestamp", "uint64", "bytes32")


def test_a_field_that_cannot_be_a_key_is_refused_naming_it():
    with pytest.raises(orm.SchemaError, match="Item.weight: a float field cannot be part of a key"):
        key_codec(Item, ("weight",))
    with pytest.raises(orm.SchemaError, match="Item has no field 'colour' to key on"):
        key_codec(Item, ("colour",))


def test_the_declarations_are_readable_without_a_database():
    decl = Shop.items
    assert (decl.slot, decl.record, decl.key_fields, decl.name) == (1, Item, ("oid",), "items")
    assert [i.name for i in decl.indexes] == ["idx_items_by_name", "idx_items_by_group", "idx_items_by_digest"]
    assert list(Shop.declarations()) == ["items", "log"]


def test_an_unbound_schema_holds_its_tables_and_indexes():
    shop = Shop.unbound()
    assert list(shop.tables()) == ["items", "idx_items_by_name", "idx_items_by_group", "idx_items_by_digest", "log"]
    indexes = shop.items.indexes
    assert indexes["idx_items_by_name"].unique and not indexes["idx_items_by_name"].nullable
    # Nullable because one of its fields is optional; no key while that field is None.
    group = indexes["idx_items_by_group"]
    assert not group.unique and group.nullable
    assert group.key_fn(Item(name="a")) is None
    assert group.key_fn(Item(name="a", group="g", at=5)) == ("g", 5)


def test_an_attached_schema_stores_and_finds_by_its_indexes(db):
    shop = Shop.attach(db)
    item = Item(name="apple", group="fruit", at=3)
    with db.begin(write=True) as txn:
        shop.items[txn, item.oid] = item
        shop.log[txn, 1] = {"added": str(item.oid)}
    with db.begin() as txn:
        assert shop.items.get_by_index(txn, "idx_items_by_name", "apple") == item
        assert shop.items.keys_by_index(txn, "idx_items_by_group", ("fruit", 3)) == [item.oid]
    entries = {e["name"]: e for e in db.catalog().values()}
    assert entries["items"]["key"] == "uuid" and entries["idx_items_by_digest"]["key"] == "bytes32"


def test_a_declared_table_read_on_an_unattached_instance_says_so():
    with pytest.raises(AttributeError, match="Shop.items: the schema is not attached"):
        Shop().items
