"""Behaviour every domain table shows: parse its stored form, store, read back, list,
delete, keep unknown keys.

A schema's test module imports these tests and provides the fixtures
``schema`` (the attached schema), ``table`` (parametrized over its table
names) and ``factories`` ((TABLES, pk) from its record factories).
"""

import dataclasses

import pytest


def pk(record):
    """The primary key a record is stored under."""
    return record.key if hasattr(type(record), "key") else record.oid


def test_parse_of_marshal_is_identity(table, factories):
    TABLES, _ = factories
    record = TABLES[table](1)
    assert type(record).parse(record.marshal()) == record


def test_unknown_keys_round_trip(table, factories):
    TABLES, _ = factories
    data = {**TABLES[table](1).marshal(), "added_later": {"x": [1]}}
    assert type(TABLES[table](1)).parse(data).marshal() == data


def test_parse_rejects_non_dict(table, factories):
    TABLES, _ = factories
    with pytest.raises(ValueError, match="expected a dict"):
        type(TABLES[table](1)).parse([1, 2])


def test_parse_names_a_missing_required_field(table, factories):
    TABLES, _ = factories
    cls = type(TABLES[table](1))
    required = next(f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    data = TABLES[table](1).marshal()
    del data[required]
    with pytest.raises(ValueError, match=cls.__name__):
        cls.parse(data)

def test_put_then_get_returns_equal_record(db, schema, table, factories):
    TABLES, pk = factories
    record = TABLES[table](1)
    with db.begin(write=True) as txn:
        getattr(schema, table)[txn, pk(record)] = record
    with db.begin() as txn:
        assert getattr(schema, table)[txn, pk(record)] == record


def test_get_of_missing_key_is_none(db, schema, table, factories):
    TABLES, pk = factories
    with db.begin() as txn:
        assert getattr(schema, table)[txn, pk(TABLES[table](1))] is None


def test_select_lists_records_in_key_order(db, schema, table, factories):
    TABLES, pk = factories
    records = [TABLES[table](n) for n in (3, 1, 2)]
    with db.begin(write=True) as txn:
        for r in records:
            getattr(schema, table)[txn, pk(r)] = r
    with db.begin() as txn:
        listed = list(getattr(schema, table).select(txn))
    assert listed == sorted(((pk(r), r) for r in records), key=lambda kv: kv[0])


def test_delete_removes_record(db, schema, table, factories):
    TABLES, pk = factories
    record = TABLES[table](1)
    with db.begin(write=True) as txn:
        getattr(schema, table)[txn, pk(record)] = record
        del getattr(schema, table)[txn, pk(record)]
    with db.begin() as txn:
        assert getattr(schema, table).count(txn) == 0


def test_unknown_keys_survive_a_stored_round_trip(db, schema, table, factories):
    TABLES, pk = factories
    record = dataclasses.replace(TABLES[table](1), _unknown={"future_field": [1, "two"]})
    with db.begin(write=True) as txn:
        getattr(schema, table)[txn, pk(record)] = record
    with db.begin() as txn:
        again = getattr(schema, table)[txn, pk(record)]
    assert again.marshal()["future_field"] == [1, "two"]


def test_read_modify_write_keeps_unknown_keys(db, schema, table, factories):
    TABLES, pk = factories
    record = dataclasses.replace(TABLES[table](1), _unknown={"future_field": 7})
    with db.begin(write=True) as txn:
        getattr(schema, table)[txn, pk(record)] = record
    with db.begin(write=True) as txn:
        loaded = getattr(schema, table)[txn, pk(record)]
        getattr(schema, table)[txn, pk(record)] = loaded
    with db.begin() as txn:
        assert getattr(schema, table)[txn, pk(record)].marshal()["future_field"] == 7
