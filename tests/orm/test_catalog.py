"""The persisted catalog refuses to misread data."""

from __future__ import annotations


import pytest

import orm


def schema(**tables):
    class S(orm.Schema):
        def attach(self, db):
            for name, factory in tables.items():
                setattr(self, name, factory())
    return S


def test_changed_value_type_is_refused(tmp_path):
    with orm.Database(tmp_path / "db") as db:
        schema(items=lambda: orm.MapStringCbor(1)).attach(db)
    with orm.Database(tmp_path / "db") as db:
        with pytest.raises(orm.SchemaMismatch, match=r"slot 1 .*stored value type is 'cbor', requested 'json'"):
            schema(items=lambda: orm.MapStringJson(1)).attach(db)


def test_changed_key_type_is_refused(tmp_path):
    with orm.Database(tmp_path / "db") as db:
        schema(items=lambda: orm.MapStringCbor(1)).attach(db)
        with pytest.raises(orm.SchemaMismatch, match="key type is 'str', requested 'uuid'"):
            schema(items=lambda: orm.MapUuidCbor(1)).attach(db)


def test_changed_index_definition_is_refused(tmp_path):
    def with_index(unique):
        def factory():
            return orm.MapUuidCbor(1)
        class S(orm.Schema):
            def attach(self, db):
                self.users = orm.MapUuidCbor(1)
                self.idx = orm.MapStringUuid(2) if unique else orm.MapStringUuidSet(2)
                self.users.attach_index("idx", self.idx, lambda u: u["e"], unique=unique)
        return S
    with orm.Database(tmp_path / "db") as db:
        with_index(True).attach(db)
    with orm.Database(tmp_path / "db") as db:
        with pytest.raises(orm.SchemaMismatch):
            with_index(False).attach(db)


def test_two_tables_on_one_slot_is_an_error(db):
    with pytest.raises(orm.SlotConflict, match="slot 3"):
        schema(a=lambda: orm.MapStringCbor(3), b=lambda: orm.MapStringCbor(3)).attach(db)


def test_another_table_on_a_taken_slot_is_an_error(db):
    schema(a=lambda: orm.MapStringCbor(3)).attach(db)
    with pytest.raises(orm.SlotConflict, match="belongs to table 'a'"):
        schema(b=lambda: orm.MapStringCbor(3)).attach(db)


def test_table_uuid_mismatch_is_refused(db):
    @orm.table("11111111-1111-1111-1111-111111111111")
    class A:
        x: int

    @orm.table("22222222-2222-2222-2222-222222222222")
    class B:
        x: int

    schema(t=lambda: orm.MapUuidCbor(4, A)).attach(db)
    with pytest.raises(orm.SchemaMismatch, match="table_oid"):
        schema(t=lambda: orm.MapUuidCbor(4, B)).attach(db)


def test_catalog_records_signatures(db):
    schema(t=lambda: orm.Map(7, key=("str", "timestamp"), value="json")).attach(db)
    entry = db.catalog()[7]
    assert entry["name"] == "t" and entry["key"] == "tuple(str,timestamp)" and entry["value"] == "json"


def test_attach_inside_a_write_transaction(db):
    S = schema(t=lambda: orm.MapStringCbor(1))
    with db.begin(write=True) as txn:
        s = S.attach(db)
        s.t[txn, "a"] = 1
    with db.begin() as txn:
        assert s.t[txn, "a"] == 1
    assert 1 in db.catalog()


def test_attach_inside_an_aborted_write_transaction_still_attaches(db):
    S = schema(t=lambda: orm.MapStringCbor(1))
    with pytest.raises(RuntimeError):
        with db.begin(write=True):
            s = S.attach(db)
            raise RuntimeError("abort")
    with db.begin(write=True) as txn:
        s.t[txn, "a"] = 1
    assert db.catalog()[1]["name"] == "t"


def test_attach_inside_a_read_transaction(db):
    S = schema(t=lambda: orm.MapStringCbor(1))
    with db.begin():
        s = S.attach(db)
    with db.begin(write=True) as txn:
        s.t[txn, "a"] = 1


def test_unknown_value_type_is_refused():
    with pytest.raises(orm.SchemaError, match="unknown value type 'xml'"):
        orm.Map(1, value="xml")
