"""Table evolution through the catalog: drop, rename, retype; all-or-nothing, errors naming the table."""

from __future__ import annotations

import struct
import uuid

import flatbuffers
import pytest

import orm


class V1(orm.Schema):
    """Markets as CBOR dicts, indexed by symbol; a set table beside them."""

    def attach(self, db):
        self.markets = orm.MapUuidCbor(1)
        self.markets_by_symbol = orm.MapStringUuid(2)
        self.markets.attach_index("by_symbol", self.markets_by_symbol, lambda m: m["symbol"])
        self.tags = orm.MapStringUuidSet(3)


class Market:
    """A hand-built FlatBuffers table (symbol: string, price: double), with zlmdb's build/cast."""

    def __init__(self, symbol, price):
        self.symbol, self.price = symbol, price

    def build(self, builder):
        symbol = builder.CreateString(self.symbol)
        builder.StartObject(2)
        builder.PrependUOffsetTRelativeSlot(0, symbol, 0)
        builder.PrependFloat64Slot(1, self.price, 0.0)
        return builder.EndObject()

    @staticmethod
    def cast(buf):
        tab = flatbuffers.table.Table(buf, flatbuffers.encode.Get(flatbuffers.packer.uoffset, buf, 0))
        symbol = tab.String(tab.Offset(4) + tab.Pos).decode()
        price = tab.Get(flatbuffers.number_types.Float64Flags, tab.Offset(6) + tab.Pos)
        return Market(symbol, price)

    @staticmethod
    def from_dict(d):
        return Market(d["symbol"], d["price"])


class V2(orm.Schema):
    def attach(self, db):
        self.markets = orm.MapUuidFlatBuffers(1, build=Market.build, cast=Market.cast)
        self.markets_by_symbol = orm.MapStringUuid(2)
        self.markets.attach_index("by_symbol", self.markets_by_symbol, lambda m: m.symbol)


OIDS = [uuid.UUID(int=i + 1) for i in range(5)]


@pytest.fixture
def filled(tmp_path):
    path = tmp_path / "db"
    with orm.Database(path) as db:
        s = V1.attach(db)
        with db.begin(write=True) as txn:
            for i, oid in enumerate(OIDS):
                s.markets[txn, oid] = {"symbol": f"S{i}", "price": 1.5 * i}
                s.tags[txn, "hot"].add(oid)
    return path


def names(db):
    return sorted(e["name"] for e in db.catalog().values())


def test_retype_cbor_to_flatbuffers(filled):
    with orm.Database(filled) as db:
        assert orm.retype_table(db, "markets", "flatbuffers", convert=Market.from_dict, build=Market.build) == 5
        with pytest.raises(orm.SchemaMismatch, match="markets.*cbor"):
            V1.attach(db)  # the old codec is refused from now on
        s = V2.attach(db)
        with db.begin() as txn:
            got = s.markets[txn, OIDS[3]]
            assert (got.symbol, got.price) == ("S3", 4.5)
            assert s.markets.get_by_index(txn, "by_symbol", "S2").price == 3.0
            assert s.markets.check_indexes(txn) == []
        with db.begin(write=True) as txn:
            s.markets[txn, OIDS[0]] = Market("NEW", 9.0)
        with db.begin() as txn:
            assert s.markets.get_by_index(txn, "by_symbol", "NEW").price == 9.0


def test_retype_between_plain_codecs(filled):
    with orm.Database(filled) as db:
        orm.retype_table(db, "markets", "json")

        class J(orm.Schema):
            def attach(self, db):
                self.markets = orm.MapUuidJson(1)

        s = J.attach(db)
        with db.begin() as txn:
            assert s.markets[txn, OIDS[1]] == {"symbol": "S1", "price": 1.5}


def test_a_record_that_cannot_be_retyped_leaves_the_table_as_it_was(filled):
    def convert(d):
        if d["symbol"] == "S3":
            raise ValueError("no price feed")
        return Market.from_dict(d)

    with orm.Database(filled) as db:
        with pytest.raises(orm.ValueCodecError, match=r"table 'markets'.*key .*no price feed"):
            orm.retype_table(db, "markets", "flatbuffers", convert=convert, build=Market.build)
        # In a caller's transaction that goes on, nothing was written either.
        with db.begin(write=True) as txn:
            with pytest.raises(orm.ValueCodecError, match="table 'markets'"):
                orm.retype_table(db, "markets", "flatbuffers", convert=convert, build=Market.build, txn=txn)
        assert next(e for e in db.catalog().values() if e["name"] == "markets")["value"] == "cbor"
        s = V1.attach(db)
        with db.begin() as txn:
            assert [v["symbol"] for v in s.markets.select(txn, return_keys=False)] == [f"S{i}" for i in range(5)]


def test_a_failure_after_writes_rolls_the_whole_retype_back(filled):
    with orm.Database(filled) as db:
        with pytest.raises(RuntimeError, match="later step"), db.begin(write=True) as txn:
            orm.retype_table(db, "markets", "json", txn=txn)
            raise RuntimeError("a later step of the same transaction failed")
        s = V1.attach(db)
        with db.begin() as txn:
            assert s.markets[txn, OIDS[2]] == {"symbol": "S2", "price": 3.0}


REFUSED = [
    (orm.retype_table, ("nope", "json"), "no table 'nope'"),
    (orm.retype_table, ("tags", "json"), "table 'tags' is a set table"),
    (orm.retype_table, ("markets", "flatbuffers"), "table 'markets'.*build="),
    (orm.retype_table, ("markets", "yaml"), "unknown value type"),
    (orm.retype_table, ("markets_by_symbol", "json"), "'markets_by_symbol' is an index of table 'markets'"),
    (orm.rename_table, ("markets", "tags"), "'markets' to 'tags'.*exists"),
    (orm.rename_table, ("markets", "two words"), "table 'markets'.*identifier"),
    (orm.rename_table, ("gone", "x"), "no table 'gone'"),
    (orm.drop_table, ("gone",), "no table 'gone'"),
    (orm.drop_table, ("markets_by_symbol",), "'markets_by_symbol' is an index of table 'markets'"),
]


@pytest.mark.parametrize("fn,args,message", REFUSED, ids=[f"{f.__name__}{a}" for f, a, _ in REFUSED])
def test_what_cannot_be_done_is_refused_naming_the_table(filled, fn, args, message):
    with orm.Database(filled) as db:
        before = db.catalog()
        with pytest.raises(orm.SchemaError, match=message):
            fn(db, *args)
        assert db.catalog() == before


def test_rename_keeps_records_slot_and_indexes(filled):
    with orm.Database(filled) as db:
        orm.rename_table(db, "markets", "instruments")
        with pytest.raises(orm.SlotConflict, match="instruments"):
            V1.attach(db)

        class Renamed(orm.Schema):
            def attach(self, db):
                self.instruments = orm.MapUuidCbor(1)
                self.markets_by_symbol = orm.MapStringUuid(2)
                self.instruments.attach_index("by_symbol", self.markets_by_symbol, lambda m: m["symbol"])

        s = Renamed.attach(db)
        with db.begin() as txn:
            assert s.instruments.count(txn) == 5
            assert s.instruments.get_by_index(txn, "by_symbol", "S4")["price"] == 6.0


def test_drop_removes_records_indexes_and_frees_the_slots(filled):
    with orm.Database(filled) as db:
        assert orm.drop_table(db, "markets") == 5
        assert names(db) == ["tags"]

        class Other(orm.Schema):
            def attach(self, db):
                self.prices = orm.MapOidJson(1)  # another table on the freed slot starts empty
                self.tags = orm.MapStringUuidSet(3)

        s = Other.attach(db)
        with db.begin() as txn:
            assert s.prices.count(txn) == 0 and list(s.tags[txn, "hot"]) == OIDS


def test_stored_flatbuffers_are_finished_buffers(filled):
    with orm.Database(filled) as db:
        orm.retype_table(db, "markets", "flatbuffers", convert=Market.from_dict, build=Market.build)
        raw = db.stored_table(next(e for e in db.catalog().values() if e["name"] == "markets"))
        with db.begin() as txn:
            data = raw[txn, OIDS[4]]
        root = struct.unpack_from("<I", data, 0)[0]
        assert 0 < root < len(data) and Market.cast(data).symbol == "S4"
