"""Map operations: single keys, ranges, counts, truncate, bulk puts, key errors."""

from __future__ import annotations

import uuid

import pytest

import orm


class S(orm.Schema):
    def attach(self, db):
        self.before = orm.MapStringCbor(1)
        self.items = orm.MapStringCbor(2)
        self.after = orm.MapStringCbor(3)
        self.events = orm.Map(4, key=("str", "timestamp", "uint64"), value="json")
        self.by_uuid = orm.MapUuidCbor(5)


@pytest.fixture
def s(db):
    return S.attach(db)


def fill(db, tab, keys):
    with db.begin(write=True) as txn:
        for k in keys:
            tab[txn, k] = {"k": k}


def test_missing_key_reads_none(db, s):
    with db.begin() as txn:
        assert s.items[txn, "nope"] is None
        assert s.items.get(txn, "nope", 5) == 5
        assert (txn, "nope") not in s.items


def test_get_many_reads_the_records_found_by_their_keys(db, s):
    fill(db, s.items, ["a", "b", "c"])
    fill(db, s.before, ["b"])  # another table's key is not this one's
    with db.begin() as txn:
        assert s.items.get_many(txn, ["c", "nope", "a", "a"]) == {"c": {"k": "c"}, "a": {"k": "a"}}
        assert s.before.get_many(txn, ["a", "b"]) == {"b": {"k": "b"}}
        assert s.items.get_many(txn, []) == {}


def test_put_get_contains_delete(db, s):
    with db.begin(write=True) as txn:
        s.items[txn, "a"] = [1, 2]
        assert (txn, "a") in s.items
        assert s.items[txn, "a"] == [1, 2]
        del s.items[txn, "a"]
        assert s.items[txn, "a"] is None
        with pytest.raises(KeyError, match="no key 'a'"):
            del s.items[txn, "a"]
        assert s.items.delete(txn, "a") is False


def test_select_is_half_open_and_ordered(db, s):
    fill(db, s.items, ["d", "a", "c", "b", "e"])
    with db.begin() as txn:
        assert list(s.items.select(txn, from_key="b", to_key="d", return_values=False)) == ["b", "c"]
        assert list(s.items.select(txn, return_values=False)) == ["a", "b", "c", "d", "e"]
        assert list(s.items.select(txn, reverse=True, limit=2, return_values=False)) == ["e", "d"]
        assert list(s.items.select(txn, from_key="b", to_key="d", reverse=True, return_values=False)) == ["c", "b"]
        assert [v for v in s.items.select(txn, from_key="e", return_keys=False)] == [{"k": "e"}]
        assert list(s.items.select(txn, from_key="d", to_key="b")) == []


def test_select_streams_instead_of_materialising(db, s):
    fill(db, s.items, [f"k{i:05d}" for i in range(5000)])
    with db.begin() as txn:
        it = s.items.select(txn)
        first = next(it)
        assert first[0] == "k00000"
        assert next(it)[0] == "k00001"


def test_prefix_on_strings_and_partial_tuples(db, s):
    fill(db, s.items, ["ab", "abc", "abd", "b", "a"])
    rows = [("x", 5, 1), ("x", 5, 2), ("x", 7, 1), ("xy", 1, 1), ("y", 1, 1)]
    with db.begin(write=True) as txn:
        for r in rows:
            s.events[txn, r] = list(r)
    with db.begin() as txn:
        assert list(s.items.select(txn, prefix="ab", return_values=False)) == ["ab", "abc", "abd"]
        assert list(s.events.select(txn, prefix=("x",), return_values=False)) == rows[:3]
        assert list(s.events.select(txn, prefix=("x", 5), return_values=False)) == rows[:2]
        assert list(s.events.select(txn, prefix="x", return_values=False)) == rows[:3]
        assert s.events.count(txn, prefix=("x",)) == 3
        assert list(s.events.select(txn, prefix=("x",), from_key=("x", 6), return_values=False)) == [rows[2]]


def test_counts(db, s):
    fill(db, s.items, ["a", "b", "c", "d"])
    with db.begin() as txn:
        assert s.items.count(txn) == 4
        assert s.items.count(txn, prefix="b") == 1
        assert s.items.count_range(txn, "b", "d") == 2
        assert s.items.count_range(txn) == 4


def test_count_tracks_overwrites_and_deletes(db, s):
    with db.begin(write=True) as txn:
        s.items[txn, "a"] = 1
        s.items[txn, "a"] = 2
        s.items[txn, "b"] = 1
        s.items.delete(txn, "b")
        assert s.items.count(txn) == 1


def test_truncate_touches_only_its_own_table(db, s):
    fill(db, s.before, ["a", "z"])
    fill(db, s.items, ["a", "m", "z"])
    fill(db, s.after, ["a", "z"])
    with db.begin(write=True) as txn:
        assert s.items.truncate(txn) == 3
    with db.begin() as txn:
        assert s.items.count(txn) == 0
        assert list(s.before.select(txn, return_values=False)) == ["a", "z"]
        assert list(s.after.select(txn, return_values=False)) == ["a", "z"]


def test_put_many(db, s):
    with db.begin(write=True) as txn:
        assert s.items.put_many(txn, ((f"k{i}", i) for i in range(100))) == 100
    with db.begin() as txn:
        assert s.items.count(txn) == 100 and s.items[txn, "k42"] == 42


def test_wrong_key_type_names_table_and_type(db, s):
    with db.begin(write=True) as txn:
        with pytest.raises(TypeError, match=r"table by_uuid \(slot 5\).*expected uuid.UUID"):
            s.by_uuid[txn, "not-a-uuid"] = 1
        with pytest.raises(TypeError, match="table items"):
            s.items[txn, 42]
        with pytest.raises(TypeError, match="table by_uuid"):
            (txn, 3) in s.by_uuid
        with pytest.raises((TypeError, ValueError), match="table events"):
            s.events[txn, ("x", 1)] = 1


def test_too_long_key_is_a_clear_error_and_writes_nothing(db, s):
    with db.begin(write=True) as txn:
        with pytest.raises(orm.KeyTooLong, match="items"):
            s.items[txn, "x" * 600] = 1
        with pytest.raises(orm.KeyTooLong):
            s.items[txn, "x" * 600]
        assert s.items.count(txn) == 0


def test_unencodable_value_is_a_clear_error(db, s):
    with db.begin(write=True) as txn:
        with pytest.raises(orm.ValueCodecError, match="table items"):
            s.items[txn, "a"] = object()
        assert s.items.count(txn) == 0


def test_uuid_keys_sort_by_bytes(db, s):
    keys = [uuid.uuid4() for _ in range(50)]
    with db.begin(write=True) as txn:
        for k in keys:
            s.by_uuid[txn, k] = 1
    with db.begin() as txn:
        assert list(s.by_uuid.select(txn, return_values=False)) == sorted(keys)


def test_bad_select_arguments(db, s):
    with db.begin() as txn:
        with pytest.raises(ValueError, match="limit"):
            s.items.select(txn, limit=-1)
        with pytest.raises(ValueError, match="return_keys or return_values"):
            s.items.select(txn, return_keys=False, return_values=False)


def test_unattached_table_is_a_clear_error(db):
    tab = orm.MapStringCbor(9)
    with db.begin() as txn:
        with pytest.raises(orm.SchemaError, match="not attached"):
            tab[txn, "a"]


def test_bad_slot_is_refused():
    for slot in (0, -1, 70000, "1", True):
        with pytest.raises(orm.SchemaError, match="slot"):
            orm.MapStringCbor(slot)


def test_timestamps_accept_several_types_and_read_back_as_ns(db, s):
    import datetime
    import numpy as np
    aware = datetime.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc)
    ns = orm.to_ns(aware)
    with db.begin(write=True) as txn:
        s.events[txn, ("a", aware, 1)] = 1
        s.events[txn, ("a", np.datetime64(ns, "ns"), 2)] = 2
        s.events[txn, ("a", -5, 3)] = 3
    with db.begin() as txn:
        keys = list(s.events.select(txn, return_values=False))
    assert keys == [("a", -5, 3), ("a", ns, 1), ("a", ns, 2)]


def test_put_many_reports_bad_keys_and_values(db, s):
    with db.begin(write=True) as txn:
        with pytest.raises(TypeError, match="table items"):
            s.items.put_many(txn, [("a", 1), (2, 2)])
        with pytest.raises(orm.ValueCodecError, match="table items"):
            s.items.put_many(txn, [("b", object())])
        # A refused batch writes none of its records.
        assert s.items[txn, "a"] is None and s.items[txn, "b"] is None


def test_typed_objects_in_a_plain_cbor_table(db, s):
    # A hook-less CBOR table stores @table objects with a marker; reads spot it.
    @orm.table("0b8f6a52-2f0e-4a8e-9a55-2b1d6c1e7f01")
    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y

        def marshal(self):
            return {"x": self.x, "y": self.y}

        @classmethod
        def parse(cls, data):
            return cls(data["x"], data["y"])

    with db.begin(write=True) as txn:
        s.items[txn, "p"] = Point(1, 2)
        s.items[txn, "nested"] = {"points": [Point(3, 4)], "n": 1}
        s.items[txn, "plain"] = {"ORM": b"\xda\x00OR"}  # almost the marker: stays plain
    with db.begin() as txn:
        p = s.items[txn, "p"]
        nested = s.items[txn, "nested"]
        assert isinstance(p, Point) and (p.x, p.y) == (1, 2)
        assert isinstance(nested["points"][0], Point) and nested["points"][0].y == 4 and nested["n"] == 1
        assert s.items[txn, "plain"] == {"ORM": b"\xda\x00OR"}
        assert [type(v) for _, v in s.items.select(txn, prefix="p")] == [Point, dict]


def test_item_access_takes_only_a_txn_key_pair(db, s):
    with db.begin(write=True) as txn:
        with pytest.raises((TypeError, ValueError)):
            s.items[txn, "a", "b"] = 1
        with pytest.raises((TypeError, ValueError)):
            s.items[txn]
        with pytest.raises(KeyError, match="table items"):
            del s.items[txn, "missing"]
        assert s.items.count(txn) == 0
