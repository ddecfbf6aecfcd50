"""RealmStore: tables, indexes and delivery keys."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

import orm
from cfxstore.realmstore.entities import Publication, Session
from cfxstore.realmstore.schema import RealmStore


@pytest.fixture
def store(db):
    return RealmStore.attach(db)


def session(**overrides):
    fields = dict(oid=uuid.uuid4(), session_id=1, realm="realm1", authid="alice", joined_at=100)
    fields.update(overrides)
    return Session(**fields)


def put_session(db, store, s):
    with db.begin(write=True) as txn:
        store.sessions[txn, s.oid] = s


def put_publication(db, store, p):
    with db.begin(write=True) as txn:
        store.publications[txn, p.publication_id] = p


def test_slots_stay_in_the_realm_store_range(store):
    slots = {name: t.slot for name, t in store.tables().items()}
    assert slots == {"sessions": 10, "publications": 11, "deliveries": 12,
                     "idx_sessions_by_session_id": 110, "idx_sessions_by_authid": 111,
                     "idx_sessions_by_left_at": 112, "idx_publications_by_topic": 113,
                     "idx_publications_by_timestamp": 114, "runs": 13, "idx_sessions_live_by_run": 115}


def test_session_reads_back_by_oid(db, store):
    s = session(transport={"type": "websocket"})
    put_session(db, store, s)
    with db.begin() as txn:
        assert store.sessions[txn, s.oid] == s


def test_session_is_found_by_session_id_and_joined_at(db, store):
    s = session(session_id=77, joined_at=500)
    put_session(db, store, s)
    with db.begin() as txn:
        assert store.sessions.get_by_index(txn, "idx_sessions_by_session_id", (77, 500)) == s


def test_repeated_session_id_and_joined_at_is_refused_and_writes_nothing(db, store):
    put_session(db, store, session(session_id=77, joined_at=500))
    dup = session(session_id=77, joined_at=500, authid="bob")
    with pytest.raises(orm.UniqueViolation):
        put_session(db, store, dup)
    with db.begin() as txn:
        assert store.sessions.count(txn) == 1
        assert store.sessions.keys_by_index(txn, "idx_sessions_by_authid", ("bob", 500)) == []
        assert store.sessions.check_indexes(txn) == []


def test_authid_index_skips_anonymous_sessions(db, store):
    put_session(db, store, session(authid=None))
    with db.begin() as txn:
        assert store.idx_sessions_by_authid.count(txn) == 0


def test_authid_index_orders_by_joined_at(db, store):
    late, early = session(session_id=2, joined_at=300), session(session_id=1, joined_at=200)
    put_session(db, store, late)
    put_session(db, store, early)
    with db.begin() as txn:
        assert list(store.idx_sessions_by_authid.select(txn, prefix=("alice",), return_keys=False)) == \
            [early.oid, late.oid]


def test_left_at_index_gains_a_session_when_it_leaves(db, store):
    s = session()
    put_session(db, store, s)
    with db.begin() as txn:
        assert store.idx_sessions_by_left_at.count(txn) == 0
    put_session(db, store, dataclasses.replace(s, left_at=400))
    with db.begin() as txn:
        assert list(store.idx_sessions_by_left_at.select(txn)) == [(400, s.oid)]


def test_publication_reads_back_by_id(db, store):
    p = Publication(publication_id=9, topic="t", args=[1], timestamp=100)
    put_publication(db, store, p)
    with db.begin() as txn:
        assert store.publications[txn, 9] == p


def test_publication_indexes_follow_a_changed_record(db, store):
    put_publication(db, store, Publication(publication_id=9, topic="a", timestamp=100))
    put_publication(db, store, Publication(publication_id=9, topic="b", timestamp=200))
    with db.begin() as txn:
        assert list(store.idx_publications_by_topic.select(txn)) == [(("b", 200), 9)]
        assert list(store.idx_publications_by_timestamp.select(txn)) == [(200, 9)]


def test_publications_stored_together_replace_those_with_their_ids_index_entries_and_all(db):
    from cfxstore.realmstore.service import SessionHistory

    history = SessionHistory(db)
    store = history.schema
    history.transact(lambda txn: history.put_publications(txn, [
        Publication(publication_id=9, topic="a", timestamp=100), Publication(publication_id=10, topic="c",
                                                                             timestamp=150)]))
    # An id seen before (another run's), one new, and one twice in the same batch: the last one wins.
    history.transact(lambda txn: history.put_publications(txn, [
        Publication(publication_id=9, topic="b", timestamp=200), Publication(publication_id=11, topic="d",
                                                                             timestamp=300),
        Publication(publication_id=11, topic="e", timestamp=310)]))
    with db.begin() as txn:
        assert list(store.idx_publications_by_topic.select(txn)) == [(("b", 200), 9), (("c", 150), 10),
                                                                     (("e", 310), 11)]
        assert list(store.idx_publications_by_timestamp.select(txn)) == [(150, 10), (200, 9), (310, 11)]
        assert store.publications.check_indexes(txn) == []


def test_simultaneous_deliveries_to_different_receivers_are_all_kept(db, store):
    with db.begin(write=True) as txn:
        for receiver in (1, 2, 3):
            store.deliveries[txn, (7, 1000, receiver, 55)] = b""
    with db.begin() as txn:
        assert store.deliveries.count(txn) == 3


def test_simultaneous_deliveries_of_different_publications_are_all_kept(db, store):
    with db.begin(write=True) as txn:
        for publication in (55, 56):
            store.deliveries[txn, (7, 1000, 1, publication)] = b""
    with db.begin() as txn:
        assert store.deliveries.count(txn) == 2


def test_deliveries_sort_by_subscription_then_time(db, store):
    keys = [(8, -5, 1, 1), (7, 2000, 1, 1), (7, -3000, 2, 1), (7, 2000, 0, 2)]
    with db.begin(write=True) as txn:
        store.deliveries.put_many(txn, ((k, b"") for k in keys))
    with db.begin() as txn:
        assert list(store.deliveries.select(txn, return_values=False)) == sorted(keys)
