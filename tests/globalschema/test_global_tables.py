"""Every GlobalSchema table stores, reads back and lists its records."""

import dataclasses

import pytest

from global_factories import TABLES, pk

TABLE_NAMES = sorted(TABLES)


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_put_then_get_returns_equal_record(db, gs, table):
    record = TABLES[table](1)
    with db.begin(write=True) as txn:
        getattr(gs, table)[txn, pk(record)] = record
    with db.begin() as txn:
        assert getattr(gs, table)[txn, pk(record)] == record


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_get_of_missing_key_is_none(db, gs, table):
    with db.begin() as txn:
        assert getattr(gs, table)[txn, pk(TABLES[table](1))] is None


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_select_lists_records_in_key_order(db, gs, table):
    records = [TABLES[table](n) for n in (3, 1, 2)]
    with db.begin(write=True) as txn:
        for r in records:
            getattr(gs, table)[txn, pk(r)] = r
    with db.begin() as txn:
        listed = list(getattr(gs, table).select(txn))
    assert listed == sorted(((pk(r), r) for r in records), key=lambda kv: kv[0])


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_delete_removes_record(db, gs, table):
    record = TABLES[table](1)
    with db.begin(write=True) as txn:
        getattr(gs, table)[txn, pk(record)] = record
        del getattr(gs, table)[txn, pk(record)]
    with db.begin() as txn:
        assert getattr(gs, table).count(txn) == 0


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_unknown_keys_survive_a_stored_round_trip(db, gs, table):
    record = dataclasses.replace(TABLES[table](1), _unknown={"future_field": [1, "two"]})
    with db.begin(write=True) as txn:
        getattr(gs, table)[txn, pk(record)] = record
    with db.begin() as txn:
        again = getattr(gs, table)[txn, pk(record)]
    assert again.marshal()["future_field"] == [1, "two"]


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_read_modify_write_keeps_unknown_keys(db, gs, table):
    record = dataclasses.replace(TABLES[table](1), _unknown={"future_field": 7})
    with db.begin(write=True) as txn:
        getattr(gs, table)[txn, pk(record)] = record
    with db.begin(write=True) as txn:
        loaded = getattr(gs, table)[txn, pk(record)]
        getattr(gs, table)[txn, pk(record)] = loaded
    with db.begin() as txn:
        assert getattr(gs, table)[txn, pk(record)].marshal()["future_field"] == 7
