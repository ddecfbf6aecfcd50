"""A rule's history keeps its newest `limit` events, on every engine (SessionHistory.trim / apply_limits)."""

from __future__ import annotations

import threading

import pytest

import orm
import pg
from cfxstore.realmstore.rules import UriRule, history_id, matching
from cfxstore.realmstore.service import SessionHistory

ALL = UriRule("com.example.", "prefix")
T = UriRule("com.example.t", "exact", limit=3)


@pytest.fixture(params=["lmdb", "memory", "postgres"])
def url(request, tmp_path):
    if request.param == "lmdb":
        yield str(tmp_path / "db")
    elif request.param == "memory":
        yield orm.database.MEMORY
    else:
        yield from pg.private_url()


@pytest.fixture
def history(url):
    with orm.Database(url, maxsize=2**24) as db:
        yield SessionHistory(db)


def record(history, pid, ts, topic="com.example.t", rules=(ALL, T), receivers=(7,)):
    """A publication as the router records it: its delivery to receiver 0 under every matching rule at the
    publication's time, then one per receiver a little later."""
    hids = [history_id(r) for r in matching(rules, topic)]
    history.store_batch([{"publication_id": pid, "topic": topic, "publisher": 1, "args": [pid], "timestamp": ts}],
                        [(hid, ts + d, r, pid) for hid in hids for d, r in ((0, 0), *((1, r) for r in receivers))])


def kept(history, rule):
    """Publication ids in rule's history, newest first, one per publication (as a read returns them)."""
    return list(dict.fromkeys(e.publication_id for e in history.events(history_id(rule))))


def stored(history):
    with history.db.begin() as txn:
        return sorted(history.schema.publications.select(txn, return_values=False))


def trim(history, rule, keep, rules=(ALL, T)):
    return history.transact(lambda txn: history.trim(txn, rule, keep, rules))


def test_trim_keeps_the_newest_events_with_every_delivery_and_deletes_the_rest(history):
    for pid in range(1, 6):
        record(history, pid, 100 * pid, rules=(T,), receivers=(7, 8))
    # Two older publications, each with three deliveries and its record.
    assert trim(history, T, 3, rules=(T,)) == 2 * 3 + 2
    assert kept(history, T) == [5, 4, 3]
    assert len(history.events(history_id(T))) == 3 * 3
    assert stored(history) == [3, 4, 5]
    assert [e.args for e in history.events(history_id(T), limit=1)] == [[5]]


def test_trim_within_the_limit_deletes_nothing(history):
    record(history, 1, 100)
    assert trim(history, T, 3) == 0 and kept(history, T) == [1] and stored(history) == [1]


def test_a_publication_another_rule_still_keeps_stays(history):
    record(history, 1, 100)                       # under both rules
    record(history, 2, 200, topic="com.example.u")  # under ALL only
    record(history, 3, 300)
    assert trim(history, ALL, 1) == 2 * 2 + 1     # 1 and 2 leave ALL; 2 is gone, T still keeps 1
    assert kept(history, ALL) == [3] and kept(history, T) == [3, 1]
    assert stored(history) == [1, 3]
    assert history.events(history_id(T))[-1].args == [1]  # its payload is still there
    assert trim(history, T, 1) == 2 + 1           # now no rule keeps 1
    assert stored(history) == [3]


def test_apply_limits_trims_every_rule_to_its_limit_or_the_default(history):
    for pid in range(1, 8):
        record(history, pid, 100 * pid)
    assert history.apply_limits((ALL, T), 5) > 0
    assert kept(history, T) == [7, 6, 5] and kept(history, ALL) == [7, 6, 5, 4, 3]
    assert stored(history) == [3, 4, 5, 6, 7]
    assert history.apply_limits((ALL, T), 5) == 0


@pytest.mark.parametrize("default", [0, -1, 1.5, True])
def test_apply_limits_refuses_a_bad_default(history, default):
    record(history, 1, 100)
    with pytest.raises(ValueError, match="default"):
        history.apply_limits((ALL,), default)
    assert stored(history) == [1]


def test_writers_recording_and_trimming_the_same_rule_at_once_end_at_the_limit(history):
    """As router nodes do: each write records an event and trims the rule in one transaction (on
    PostgreSQL every thread's transaction has a connection of its own, so they conflict and run again)."""
    rule, limit = UriRule("com.example.", "prefix", limit=4), 4
    failures = []

    def writer(w):
        try:
            for i in range(30):
                pid = 1000 * (w + 1) + i
                publication = history.new_publication(publication_id=pid, topic="com.example.x", publisher=w)

                def write(txn, publication=publication, pid=pid):
                    history.put_publication(txn, publication)
                    history.put_deliveries(txn, [(history_id(rule), publication.timestamp, 0, pid)])
                    history.trim(txn, rule, limit, (rule,))

                history.transact(write, 50)
        except Exception as exc:  # reported by the test below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(kept(history, rule)) == limit and len(stored(history)) == limit
