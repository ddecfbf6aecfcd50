"""SessionHistory: the contract of cfxstore's realm store API."""

from __future__ import annotations

import pytest

import orm
from cfxstore.realmstore import service as service_module
from cfxstore.realmstore.service import SessionHistory


def join(history, session_id=1, authid="alice", joined_at=100, **kw):
    return history.session_joined(session_id=session_id, realm="realm1", authid=authid, authrole="user",
                                  authmethod="ticket", joined_at=joined_at, **kw)


def publish(history, publication_id, topic="com.example.t", timestamp=100, **kw):
    return history.store_publication(publication_id=publication_id, topic=topic, publisher=42,
                                     timestamp=timestamp, **kw)


def counts(history):
    with history.db.begin() as txn:
        return {name: t.count(txn) for name, t in history.schema.tables().items()}


# -- sessions ------------------------------------------------------------------

def test_joined_session_reads_back(history):
    s = join(history, authextra={"x": 1}, transport={"type": "rawsocket"}, authprovider="static")
    assert history.get_session(1) == s


def test_joined_at_defaults_to_now(history, monkeypatch):
    monkeypatch.setattr(service_module, "now_ns", lambda: 12345)
    assert join(history, joined_at=None).joined_at == 12345


def test_get_session_without_joined_at_returns_the_latest(history):
    join(history, joined_at=100)
    latest = join(history, joined_at=300)
    join(history, session_id=2, joined_at=500)
    assert history.get_session(1) == latest


def test_get_session_with_joined_at_returns_that_session(history):
    first = join(history, joined_at=100)
    join(history, joined_at=300)
    assert history.get_session(1, joined_at=100) == first


def test_get_session_of_an_unknown_id_is_none(history):
    join(history)
    assert history.get_session(2) is None
    assert history.get_session(1, joined_at=101) is None


def test_invalid_session_writes_nothing(history):
    with pytest.raises(ValueError, match="Session.realm"):
        history.session_joined(session_id=1, realm="", authid=None, authrole=None, authmethod=None)
    assert counts(history)["sessions"] == 0


def test_repeated_join_is_refused(history):
    join(history)
    with pytest.raises(orm.UniqueViolation):
        join(history)


def test_session_left_persists_left_at(history):
    join(history, joined_at=100)
    assert history.session_left(1, left_at=250).left_at == 250
    assert history.get_session(1).left_at == 250


def test_session_left_updates_the_latest_session_with_the_id(history):
    first = join(history, joined_at=100)
    join(history, joined_at=300)
    history.session_left(1, left_at=400)
    assert history.get_session(1, joined_at=100) == first
    assert history.get_session(1, joined_at=300).left_at == 400


def test_session_left_keeps_the_first_left_at(history):
    join(history)
    history.session_left(1, left_at=200)
    assert history.session_left(1, left_at=900).left_at == 200


def test_session_left_of_an_unknown_id_is_none(history):
    assert history.session_left(1) is None


def test_session_left_before_joining_is_refused_and_changes_nothing(history):
    join(history, joined_at=100)
    with pytest.raises(ValueError, match="Session.left_at"):
        history.session_left(1, left_at=99)
    assert history.get_session(1).left_at is None


def test_session_left_without_time_never_precedes_joined_at(history, monkeypatch):
    monkeypatch.setattr(service_module, "now_ns", lambda: 50)
    join(history, joined_at=100)
    assert history.session_left(1).left_at == 100


def test_sessions_by_authid_are_newest_first(history):
    for i, t in enumerate((300, 100, 200)):
        join(history, session_id=i, joined_at=t)
    join(history, session_id=9, authid="bob", joined_at=400)
    assert [s.joined_at for s in history.sessions_by_authid("alice")] == [300, 200, 100]


def test_sessions_by_authid_honours_limit(history):
    for i, t in enumerate((300, 100, 200)):
        join(history, session_id=i, joined_at=t)
    assert [s.joined_at for s in history.sessions_by_authid("alice", limit=2)] == [300, 200]


def test_sessions_by_authid_does_not_match_a_longer_authid(history):
    join(history, authid="alice2")
    assert history.sessions_by_authid("alice") == []


# -- publications and deliveries ---------------------------------------------------

def test_store_publication_keeps_it(history):
    p = publish(history, 5, args=[1, 2], kwargs={"a": 1}, publisher_authid="bob", publisher_authrole="user")
    assert history.publications_by_topic("com.example.t") == [p]


def test_store_publication_stores_tuple_args_as_a_list(history):
    assert publish(history, 5, args=(1, 2)).args == [1, 2]


def test_publications_by_topic_are_newest_first_and_limited(history):
    for pid, ts in ((1, 100), (2, 300), (3, 200)):
        publish(history, pid, timestamp=ts)
    publish(history, 4, topic="other", timestamp=400)
    assert [p.publication_id for p in history.publications_by_topic("com.example.t", limit=2)] == [2, 3]


def test_events_join_deliveries_with_their_publication(history):
    publish(history, 5, args=["hello"])
    history.store_delivery(5, 70, 1001, timestamp=110)
    [event] = history.events(70)
    assert (event.subscription_id, event.receiver, event.publication_id, event.timestamp) == (70, 1001, 5, 110)
    assert (event.topic, event.args, event.publisher) == ("com.example.t", ["hello"], 42)


def test_events_of_an_unstored_publication_have_no_topic(history):
    history.store_delivery(5, 70, 1001, timestamp=110)
    assert history.events(70)[0].topic is None


def test_events_are_newest_first_and_limited(history):
    for ts in (100, 300, 200):
        history.store_delivery(5, 70, 1, timestamp=ts)
    history.store_delivery(5, 71, 1, timestamp=400)
    assert [e.timestamp for e in history.events(70)] == [300, 200, 100]
    assert [e.timestamp for e in history.events(70, limit=2)] == [300, 200]


def test_store_delivery_defaults_to_now(history, monkeypatch):
    monkeypatch.setattr(service_module, "now_ns", lambda: 777)
    history.store_delivery(5, 70, 1)
    assert history.events(70)[0].timestamp == 777


def test_simultaneous_deliveries_never_collide(history):
    publish(history, 5)
    publish(history, 6)
    history.store_batch([], [(70, 100, r, p) for r in (1, 2) for p in (5, 6)])
    assert len(history.events(70)) == 4


def test_store_batch_stores_publications_and_deliveries(history):
    history.store_batch([dict(publication_id=5, topic="t", publisher=None, timestamp=100)],
                        [(70, 100, 1, 5), (71, 100, 2, 5)])
    assert [(e.subscription_id, e.topic) for e in history.events(70) + history.events(71)] == \
        [(70, "t"), (71, "t")]


def test_store_batch_with_a_bad_delivery_writes_nothing(history):
    with pytest.raises((TypeError, ValueError)):
        history.store_batch([dict(publication_id=5, topic="t", publisher=None)],
                            [(70, 100, 1, 5), (70, 100, -1, 5)])
    assert counts(history) == dict.fromkeys(counts(history), 0)


def test_store_batch_with_an_unknown_publication_key_writes_nothing(history):
    with pytest.raises(ValueError, match=r"publications\[1\]: unknown keys \['topik'\]"):
        history.store_batch([dict(publication_id=5, topic="t", publisher=None),
                             dict(publication_id=6, topik="t", publisher=None)], [(70, 100, 1, 5)])
    assert counts(history) == dict.fromkeys(counts(history), 0)


def test_store_batch_with_a_missing_publication_field_is_a_value_error(history):
    with pytest.raises(ValueError, match=r"publications\[0\]"):
        history.store_batch([dict(publication_id=5, publisher=None)], [])


# -- event history ---------------------------------------------------------------

@pytest.fixture
def timeline(history):
    # Two receivers at 200: same instant, both kept.
    history.store_batch([], [(70, 100, 1, 5), (70, 200, 1, 5), (70, 200, 2, 5), (70, 300, 1, 5),
                             (70, 400, 1, 5), (71, 250, 1, 5)])
    return history


def test_event_history_includes_from_and_excludes_until(timeline):
    assert [e.timestamp for e in timeline.event_history(70, 200, 400)] == [200, 200, 300]


def test_event_history_reverse_is_newest_first(timeline):
    assert [e.timestamp for e in timeline.event_history(70, 100, 400, reverse=True)] == [300, 200, 200, 100]


def test_event_history_honours_limit(timeline):
    assert [e.timestamp for e in timeline.event_history(70, 0, 1000, limit=2)] == [100, 200]
    assert [e.timestamp for e in timeline.event_history(70, 0, 1000, reverse=True, limit=2)] == [400, 300]


def test_event_history_of_an_empty_range_is_empty(timeline):
    assert timeline.event_history(70, 300, 300) == []
    assert timeline.event_history(70, 400, 100) == []


def test_event_history_accepts_times_before_1970(history):
    history.store_delivery(5, 70, 1, timestamp=-50)
    assert [e.timestamp for e in history.event_history(70, -100, 0)] == [-50]


# -- retention --------------------------------------------------------------------

def test_purge_older_than_deletes_old_deliveries_and_publications(history):
    publish(history, 1, timestamp=100)
    publish(history, 2, timestamp=300)
    history.store_batch([], [(70, 100, 1, 1), (70, 300, 1, 2), (71, 150, 1, 1)])
    assert history.purge(older_than=200) == 3
    assert [e.publication_id for e in history.events(70)] == [2]
    assert history.events(71) == []
    assert [p.publication_id for p in history.publications_by_topic("com.example.t")] == [2]


def test_purge_older_than_keeps_a_publication_still_delivered_later(history):
    publish(history, 1, timestamp=100)
    history.store_delivery(1, 70, 1, timestamp=250)
    assert history.purge(older_than=200) == 0
    assert history.events(70)[0].topic == "com.example.t"


def test_purge_older_than_deletes_sessions_that_left_before_it(history):
    join(history, session_id=1, joined_at=100)
    join(history, session_id=2, joined_at=100)
    join(history, session_id=3, joined_at=100)
    history.session_left(1, left_at=150)
    history.session_left(2, left_at=250)
    assert history.purge(older_than=200) == 1
    assert [history.get_session(i) is not None for i in (1, 2, 3)] == [False, True, True]


def test_purge_keep_last_keeps_the_newest_per_subscription(history):
    history.store_batch([], [(sub, ts, 1, 1) for sub in (70, 71) for ts in (100, 200, 300)])
    assert history.purge(keep_last=2) == 2
    assert [e.timestamp for e in history.events(70)] == [300, 200]
    assert [e.timestamp for e in history.events(71)] == [300, 200]


def test_purge_keep_last_zero_empties_every_subscription(history):
    history.store_batch([], [(70, 100, 1, 1), (71, 100, 1, 1)])
    assert history.purge(keep_last=0) == 2
    assert counts(history)["deliveries"] == 0


def test_purge_keep_last_deletes_publications_no_delivery_refers_to(history):
    publish(history, 1, timestamp=100)
    publish(history, 2, timestamp=200)
    publish(history, 3, timestamp=300)
    history.store_batch([], [(70, 100, 1, 1), (70, 200, 1, 2), (71, 100, 1, 1), (70, 300, 1, 3)])
    assert history.purge(keep_last=1) == 3  # deliveries (70,100) and (70,200); publication 2
    assert sorted(p.publication_id for p in history.publications_by_topic("com.example.t")) == [1, 3]


def test_purge_with_both_rules_applies_the_stricter(history):
    history.store_batch([], [(70, ts, 1, 1) for ts in (100, 200, 300, 400)])
    assert history.purge(older_than=150, keep_last=2) == 2
    assert [e.timestamp for e in history.events(70)] == [400, 300]


def test_purge_leaves_indexes_consistent(history):
    for i in range(3):
        publish(history, i, timestamp=100 * i)
        history.store_delivery(i, 70, 1, timestamp=100 * i)
        join(history, session_id=i, joined_at=100 * i)
        history.session_left(i, left_at=100 * i + 1)
    history.purge(older_than=150, keep_last=1)
    with history.db.begin() as txn:
        assert history.schema.sessions.check_indexes(txn) == []
        assert history.schema.publications.check_indexes(txn) == []


def test_purge_of_the_largest_subscription_id_terminates(history):
    history.store_batch([], [(2**64 - 1, 100, 1, 1)])
    assert history.purge(keep_last=0) == 1


def test_purge_needs_a_rule(history):
    with pytest.raises(ValueError, match="older_than and/or keep_last"):
        history.purge()


@pytest.mark.parametrize("keep_last", [-1, 1.5, True])
def test_purge_refuses_a_bad_keep_last(history, keep_last):
    with pytest.raises(ValueError, match="keep_last"):
        history.purge(keep_last=keep_last)


# -- lifecycle --------------------------------------------------------------------

def test_open_and_close_own_the_database(tmp_path):
    history = SessionHistory.open(str(tmp_path / "db"), maxsize=2**24)
    join(history)
    history.close()
    assert history.db.closed
    with SessionHistory.open(str(tmp_path / "db"), maxsize=2**24) as again:
        assert again.get_session(1) is not None
