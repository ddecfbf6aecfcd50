"""A refused indexed put leaves the transaction exactly as it was, whatever refused it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

import orm


@dataclass
class Doc:
    name: str            # unique index
    tag: str | None      # non-unique index
    body: object = None  # value; an object() is not encodable
    bad_name: bool = False


class S(orm.Schema):
    def attach(self, db):
        self.docs = orm.Map(1, key="str", value="cbor", marshal=lambda d: d.__dict__, unmarshal=lambda d: Doc(**d))
        self.by_name = orm.Map(2, key="str", value="str")
        self.by_tag = orm.SetMap(3, key="str", member="str")
        self.docs.attach_index("by_name", self.by_name, name_of)
        self.docs.attach_index("by_tag", self.by_tag, lambda d: d.tag, unique=False, nullable=True)


def name_of(doc: Doc) -> str:
    if doc.bad_name:
        raise RuntimeError("the key function failed")
    return doc.name


@pytest.fixture
def s(db):
    s = S.attach(db)
    with db.begin(write=True) as txn:
        s.docs[txn, "a"] = Doc("alpha", "red")
        s.docs[txn, "b"] = Doc("beta", "red")
    return s


def everything(s, txn):
    return {name: list(tab.select(txn)) for name, tab in s.tables().items()}


def long_text(db, extra=1):
    return "x" * (db.max_key_size + extra)


CASES = {
    "primary key too long": lambda db: (long_text(db), Doc("gamma", "blue"), orm.KeyTooLong, "table docs"),
    "unique index key too long": lambda db: ("c", Doc(long_text(db), "blue"), orm.KeyTooLong, "index by_name"),
    # The non-unique entry is index key + primary key: fits alone, too long together.
    "non-unique entry too long": lambda db: ("c" * 40, Doc("gamma", long_text(db, -20)), orm.KeyTooLong,
                                             "index by_tag"),
    "unencodable value": lambda db: ("c", Doc("gamma", "blue", body=object()), orm.ValueCodecError, "table docs"),
    "unique index taken": lambda db: ("c", Doc("alpha", "blue"), orm.UniqueViolation, "index by_name"),
    "null unique key": lambda db: ("c", Doc(None, "blue"), orm.NullIndexKey, "index by_name"),
    "unencodable index key": lambda db: ("c", Doc(42, "blue"), TypeError, "index by_name"),
    "key function raises": lambda db: ("c", Doc("gamma", "blue", bad_name=True), RuntimeError, "key function"),
    "update taking a taken key": lambda db: ("b", Doc("alpha", "green"), orm.UniqueViolation, "index by_name"),
    "update with a key too long": lambda db: ("b", Doc(long_text(db), "green"), orm.KeyTooLong, "index by_name"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_refused_put_writes_nothing(db, s, case):
    key, doc, error, named = CASES[case](db)
    with db.begin(write=True) as txn:
        s.docs[txn, "z"] = Doc("zeta", "red")  # earlier work of the same transaction
        before = everything(s, txn)
        with pytest.raises(error, match=named):
            s.docs[txn, key] = doc
        assert everything(s, txn) == before
        with pytest.raises(error):  # the Python path refuses the same way
            s.docs._setitem_py((txn, key), doc)
        assert everything(s, txn) == before
    with db.begin() as txn:
        assert s.docs.check_indexes(txn) == []
        assert s.docs[txn, "z"] == Doc("zeta", "red")
        assert s.docs.get_by_index(txn, "by_name", "alpha") == Doc("alpha", "red")


def test_a_refused_set_write_keeps_the_old_members(db):
    class Sets(orm.Schema):
        def attach(self, db):
            self.tags = orm.SetMap(1, key="str", member="str")

    s = Sets.attach(db)
    with db.begin(write=True) as txn:
        s.tags[txn, "k"] = {"a", "b"}
        with pytest.raises(orm.KeyTooLong, match="table tags"):
            s.tags[txn, "k"] = {"c", "x" * db.max_key_size}
        assert s.tags[txn, "k"] == {"a", "b"}


def test_a_uuid_keyed_put_after_a_refusal_works(db, s):
    # A refusal leaves the transaction usable: the next put goes through.
    with db.begin(write=True) as txn:
        with pytest.raises(orm.UniqueViolation):
            s.docs[txn, "c"] = Doc("alpha", None)
        s.docs[txn, "c"] = Doc(str(uuid.uuid4()), None)
        assert s.docs.count(txn) == 3


def test_a_refused_put_many_on_an_indexed_table_leaves_the_transaction_as_it_was(db):
    class People(orm.Schema):
        def attach(self, db):
            self.people = orm.Map(1, key="str", value="cbor")
            self.by_email = orm.Map(2, key="str", value="str")
            self.people.attach_index("by_email", self.by_email, lambda p: p["email"])

    s = People.attach(db)
    with db.begin(write=True) as txn:
        s.people[txn, "ann"] = {"email": "ann@x"}
        s.people[txn, "bob"] = {"email": "bob@x"}
    with db.begin(write=True) as txn:
        with pytest.raises(orm.UniqueViolation):
            # A new record, a changed one, then one that claims bob's address.
            s.people.put_many(txn, [("cid", {"email": "cid@x"}), ("ann", {"email": "ann@y"}),
                                    ("dan", {"email": "bob@x"})])
        assert dict(s.people.select(txn)) == {"ann": {"email": "ann@x"}, "bob": {"email": "bob@x"}}
        assert dict(s.by_email.select(txn)) == {"ann@x": "ann", "bob@x": "bob"}


def test_a_refused_put_many_writes_none_of_its_earlier_batches(db):
    class Keyed(orm.Schema):
        def attach(self, db):
            self.t = orm.Map(1, key="uint64", value="bytes")

    s = Keyed.attach(db)
    items = [(i, b"v") for i in range(orm.map.PUT_MANY_BATCH * 2)] + [(-1, b"bad key")]
    with db.begin(write=True) as txn:
        with pytest.raises(ValueError, match="table t .*invalid key -1"):
            s.t.put_many(txn, items)
        assert s.t.count(txn) == 0
