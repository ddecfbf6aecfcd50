"""The usage patterns users bring from zlmdb work as written, with orm in place of zlmdb."""

from __future__ import annotations

from uuid import UUID, uuid4

import orm
from orm import MapStringUuid, MapTimestampUuidCbor, MapUuidCbor, MapUuidFlatBuffers, MapUuidUuidSet, Schema, table


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
