"""CookieStore: the cookies table and its three indexes."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid

import pytest

import orm
from cfxstore.cookies.entities import Cookie
from cfxstore.cookies.schema import CookieStore

NS = 1_000_000_000


@pytest.fixture
def store(db):
    return CookieStore.attach(db)


def make(value: str = "v", **overrides) -> Cookie:
    fields = dict(oid=uuid.uuid4(), created=10 * NS, modified=10 * NS, max_age=60, expires=70 * NS,
                  name="cbtid", value_hash=hashlib.sha256(value.encode()).digest())
    fields.update(overrides)
    return Cookie(**fields)


def put(db, store, cookie):
    with db.begin(write=True) as txn:
        store.cookies[txn, cookie.oid] = cookie


def test_slots_stay_in_the_cookie_range(store):
    assert store.cookies.slot == 1
    assert [store.idx_cookies_by_value.slot, store.idx_cookies_by_authid.slot,
            store.idx_cookies_by_expiry.slot] == [100, 101, 102]


def test_cookie_reads_back_by_oid(db, store):
    cookie = make(authid="alice", authextra={"k": "v"})
    put(db, store, cookie)
    with db.begin() as txn:
        assert store.cookies[txn, cookie.oid] == cookie


def test_cookie_is_found_by_value_hash(db, store):
    cookie = make("raw")
    put(db, store, cookie)
    with db.begin() as txn:
        assert store.cookies.get_by_index(txn, "idx_cookies_by_value", cookie.value_hash) == cookie


def test_duplicate_value_hash_is_refused_and_writes_nothing(db, store):
    first = make("same")
    put(db, store, first)
    second = make("same", authid="mallory", expires=99 * NS)
    with pytest.raises(orm.UniqueViolation):
        put(db, store, second)
    with db.begin() as txn:
        assert store.cookies[txn, second.oid] is None
        assert store.cookies.count(txn) == 1
        assert store.cookies.keys_by_index(txn, "idx_cookies_by_authid", "mallory") == []
        assert store.idx_cookies_by_expiry.count(txn) == 1
        assert store.cookies.check_indexes(txn) == []


def test_anonymous_cookie_is_not_in_the_authid_index(db, store):
    put(db, store, make())
    with db.begin() as txn:
        assert store.idx_cookies_by_authid.count(txn) == 0


def test_authid_index_lists_every_cookie_of_an_authid(db, store):
    a, b, other = make("a", authid="alice"), make("b", authid="alice"), make("c", authid="bob")
    for c in (a, b, other):
        put(db, store, c)
    with db.begin() as txn:
        assert set(store.cookies.keys_by_index(txn, "idx_cookies_by_authid", "alice")) == {a.oid, b.oid}


def test_changing_authid_moves_the_index_entry(db, store):
    cookie = make(authid="alice")
    put(db, store, cookie)
    put(db, store, dataclasses.replace(cookie, authid="bob"))
    with db.begin() as txn:
        assert store.cookies.keys_by_index(txn, "idx_cookies_by_authid", "alice") == []
        assert store.cookies.keys_by_index(txn, "idx_cookies_by_authid", "bob") == [cookie.oid]


def test_clearing_authid_removes_the_index_entry(db, store):
    cookie = make(authid="alice")
    put(db, store, cookie)
    put(db, store, dataclasses.replace(cookie, authid=None))
    with db.begin() as txn:
        assert store.idx_cookies_by_authid.count(txn) == 0


def test_expiry_index_orders_cookies_by_expiry(db, store):
    late, early = make("l", expires=90 * NS), make("e", expires=20 * NS)
    put(db, store, late)
    put(db, store, early)
    with db.begin() as txn:
        assert list(store.idx_cookies_by_expiry.select(txn)) == [(20 * NS, early.oid), (90 * NS, late.oid)]


def test_changing_expiry_moves_the_index_entry(db, store):
    cookie = make(expires=20 * NS)
    put(db, store, cookie)
    put(db, store, dataclasses.replace(cookie, expires=30 * NS))
    with db.begin() as txn:
        assert list(store.idx_cookies_by_expiry.select(txn)) == [(30 * NS, cookie.oid)]


def test_deleting_a_cookie_removes_all_its_index_entries(db, store):
    cookie = make(authid="alice")
    put(db, store, cookie)
    with db.begin(write=True) as txn:
        del store.cookies[txn, cookie.oid]
    with db.begin() as txn:
        assert [t.count(txn) for t in store.tables().values()] == [0, 0, 0, 0, 0]
