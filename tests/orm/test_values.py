"""Value codecs and per-table marshal/unmarshal hooks."""

from __future__ import annotations

import dataclasses
import uuid

import flatbuffers
import numpy as np
import pytest

import orm


def one_table(value, **kw):
    class S(orm.Schema):
        def attach(self, db):
            self.t = orm.Map(1, key="uint64", value=value, **kw)
    return S


@pytest.mark.parametrize("value,obj", [
    ("cbor", {"a": [1, 2.5, None, b"x", uuid.UUID(int=5)], "nested": {"k": "v"}}),
    ("json", {"a": [1, 2.5, None, "ü"], "nested": {"k": "v"}}),
    ("bytes", b"\x00\x01raw"),
    ("str", "hällo"),
    ("uuid", uuid.UUID(int=7)),
    ("oid", 2**64 - 1),
])
def test_round_trip(db, value, obj):
    s = one_table(value).attach(db)
    with db.begin(write=True) as txn:
        s.t[txn, 1] = obj
    with db.begin() as txn:
        assert s.t[txn, 1] == obj


@pytest.mark.parametrize("value,bad", [("bytes", "text"), ("str", b"raw"), ("uuid", "x"), ("oid", -1), ("json", {1j})])
def test_wrong_value_type_is_a_clear_error(db, value, bad):
    s = one_table(value).attach(db)
    with db.begin(write=True) as txn:
        with pytest.raises(orm.ValueCodecError, match=f"table t .*{value}"):
            s.t[txn, 1] = bad
        assert s.t.count(txn) == 0


def test_numpy_arrays_round_trip_without_a_second_copy(db):
    s = one_table("numpy").attach(db)
    arr = np.arange(24, dtype="<f8").reshape(2, 3, 4)
    with db.begin(write=True) as txn:
        s.t[txn, 1] = arr
        s.t[txn, 2] = np.array([True, False])
    with db.begin() as txn:
        got = s.t[txn, 1]
        assert got.dtype == arr.dtype and got.shape == arr.shape and np.array_equal(got, arr)
        assert not got.flags.owndata and not got.flags.writeable  # a view over the stored bytes
        assert s.t[txn, 2].tolist() == [True, False]


RECORD = np.dtype([("ts", "<i8"), ("price", "<f8"), ("symbol", "S8"), ("pos", "<f4", (3,)),
                   ("side", [("bid", "u1"), ("qty", ">i2")])])


def test_numpy_structured_arrays_keep_their_field_names(db):
    s = one_table("numpy").attach(db)
    rows = np.zeros(4, dtype=RECORD)
    rows["ts"] = [1, 2, 3, 4]
    rows["price"] = [1.5, 2.5, 3.5, 4.5]
    rows["symbol"] = [b"BTC", b"ETH", b"SOL", b"ADA"]
    rows["pos"][2] = [1, 2, 3]
    rows["side"]["qty"] = [-1, 2, -3, 4]
    padded = np.dtype({"names": ["a", "b"], "formats": ["u1", "<i4"], "offsets": [0, 4], "itemsize": 12})
    with db.begin(write=True) as txn:
        s.t[txn, 1] = rows
        s.t[txn, 2] = np.ones(2, dtype=padded)
        s.t[txn, 3] = rows.view(np.recarray)
    with db.begin() as txn:
        got = s.t[txn, 1]
        assert got.dtype == RECORD and got.dtype.names == ("ts", "price", "symbol", "pos", "side")
        assert got["symbol"].tolist() == [b"BTC", b"ETH", b"SOL", b"ADA"]
        assert got["pos"][2].tolist() == [1, 2, 3] and got["side"]["qty"].tolist() == [-1, 2, -3, 4]
        assert np.array_equal(got, rows)
        assert s.t[txn, 2].dtype == padded and s.t[txn, 2]["b"].tolist() == [1, 1]
        rec = s.t[txn, 3]
        assert isinstance(rec, np.recarray) and rec.price.tolist() == [1.5, 2.5, 3.5, 4.5]


def test_numpy_arrays_stored_with_the_earlier_header_still_read():
    import cbor2
    arr = np.arange(3, dtype=">u2")
    head = cbor2.dumps([arr.dtype.str, [3]])  # the header written before structured dtypes kept names
    got = orm.value_codec("numpy").decode(len(head).to_bytes(2, "big") + head + arr.tobytes())
    assert got.tolist() == [0, 1, 2] and got.dtype == arr.dtype


def test_numpy_object_arrays_are_refused(db):
    s = one_table("numpy").attach(db)
    with db.begin(write=True) as txn:
        with pytest.raises(orm.ValueCodecError):
            s.t[txn, 1] = np.array([object()])


def build_point(p: dict) -> bytes:
    b = flatbuffers.Builder(64)
    name = b.CreateString(p["name"])
    b.StartObject(2)
    b.PrependUOffsetTRelativeSlot(0, name, 0)
    b.PrependInt64Slot(1, p["x"], 0)
    b.Finish(b.EndObject())
    return bytes(b.Output())


def cast_point(data: bytes) -> dict:
    from flatbuffers import table as fbtable
    buf = bytearray(data)
    pos = flatbuffers.encode.Get(flatbuffers.packer.uoffset, buf, 0)
    t = fbtable.Table(buf, pos)
    name_off = t.Offset(4)
    x_off = t.Offset(6)
    return {"name": t.String(name_off + t.Pos).decode(),
            "x": t.Get(flatbuffers.number_types.Int64Flags, x_off + t.Pos)}


def test_flatbuffers_build_and_cast(db):
    s = one_table("flatbuffers", build=build_point, cast=cast_point).attach(db)
    with db.begin(write=True) as txn:
        s.t[txn, 1] = {"name": "p", "x": -42}
    with db.begin() as txn:
        assert s.t[txn, 1] == {"name": "p", "x": -42}


def test_flatbuffers_without_build_and_cast_is_refused():
    with pytest.raises(orm.SchemaError, match="build= and cast="):
        orm.MapUuidFlatBuffers(1)


def test_marshal_hooks_apply(db):
    s = one_table("cbor", marshal=lambda o: {"v": o}, unmarshal=lambda d: d["v"] * 2).attach(db)
    with db.begin(write=True) as txn:
        s.t[txn, 1] = 21
    with db.begin() as txn:
        assert s.t[txn, 1] == 42


def test_dataclass_needs_no_hooks(db):
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    class S(orm.Schema):
        def attach(self, db):
            self.t = orm.MapOidCbor(1, cls=Point)

    s = S.attach(db)
    with db.begin(write=True) as txn:
        s.t[txn, 1] = Point(1, 2)
    with db.begin() as txn:
        assert s.t[txn, 1] == Point(1, 2)


@orm.table("6c0f9b1e-8d55-4c5e-9d0e-0f4b2f7a1c11")
class Rec:
    """A @table class with its own marshal and parse."""

    def __init__(self, v):
        self.v = v

    def marshal(self):
        return {"value": self.v}

    @classmethod
    def parse(cls, data):
        return cls(data["value"])


def test_table_class_uses_its_own_marshal_and_parse(db):
    class S(orm.Schema):
        def attach(self, db):
            self.t = orm.MapUuidCbor(Rec)

    s = S.attach(db)
    k = uuid.uuid4()
    with db.begin(write=True) as txn:
        s.t[txn, k] = Rec(3)
    with db.begin() as txn:
        assert s.t[txn, k].v == 3


def test_hooked_table_reads_typed_objects_nested_in_its_records(db):
    class S(orm.Schema):
        def attach(self, db):
            self.t = orm.MapUuidCbor(1, marshal=lambda rec: {"tags": rec}, unmarshal=lambda d: d["tags"])

    s = S.attach(db)
    with_tags, plain = uuid.uuid4(), uuid.uuid4()
    with db.begin(write=True) as txn:
        s.t[txn, with_tags] = [Rec("a"), {"inner": Rec("b")}]
        s.t[txn, plain] = ["a", {"inner": "b"}]
    with db.begin() as txn:
        tags = s.t[txn, with_tags]
        assert isinstance(tags[0], Rec) and tags[0].v == "a" and tags[1]["inner"].v == "b"
        assert s.t[txn, plain] == ["a", {"inner": "b"}]
