"""A write-behind batch on PostgreSQL: one round trip, and never a login its principal's change ended."""

from __future__ import annotations

import threading

import orm
import pytest

from cfxstore.audit.entities import AuditEvent
from cfxstore.audit.service import AuditLog
from cfxstore.cookies.service import CookieService
from cfxstore.realmstore.service import SessionHistory


def _engine(db: orm.Database):
    return db._live().engine


def _login(cookies: CookieService, authid: str):
    _, cookie = cookies.new()
    return cookies.login(cookie, authid=authid, authrole="user", authmethod="ticket", authextra=None,
                         authrealm="realm1")


def _audit(authid: str) -> AuditEvent:
    return AuditEvent(kind="login", action="success", realm="realm1", authid=authid, method="ticket", detail={})


def test_a_batch_of_logins_sessions_leaves_and_login_audits_is_one_round_trip(pg_url):
    with CookieService.open(pg_url) as cookies:
        history = SessionHistory(cookies.db)
        audit = AuditLog(cookies.db)
        engine = _engine(cookies.db)
        logins = [_login(cookies, f"user{i}") for i in range(20)]
        joined = [history.new_session(session_id=100 + i, realm="realm1", authid=f"user{i}", authrole="user",
                                      authmethod="ticket", run="run1") for i in range(20)]
        cookies.transact(lambda txn: history.put_joined(txn, joined))
        # The log's first event trims it (as every PURGE_EVERY-th does): not part of a batch measured here.
        cookies.transact(lambda txn: audit.record_many(txn, [_audit("first")]))
        before = engine.statements, engine.round_trips

        def batch(txn):
            cookies.put(txn, logins[:10])
            cookies.update(txn, [cookies.used(c) for c in logins[10:]])  # not stored: left out
            history.put_joined(txn, [history.new_session(session_id=200, realm="realm1", authid="x",
                                                         authrole="user", authmethod="ticket", run="run1")])
            history.put_left(txn, [(s, s.joined_at + 5) for s in joined])
            audit.record_many(txn, [_audit(c.authid) for c in logins[:10]])

        cookies.transact(batch)
        assert engine.round_trips - before[1] == 1
        assert engine.statements - before[0] <= 5  # BEGIN, a few multi-row statements, COMMIT
        assert sorted(e.authid for e in audit.list()) == sorted(["first"] + [c.authid for c in logins[:10]])
        for c in logins[:10]:
            assert cookies.cookies_by_authid(c.authid)[0].oid == c.oid
        assert all(not cookies.cookies_by_authid(c.authid) for c in logins[10:])
        assert all(history.get_session(s.session_id).left_at == s.joined_at + 5 for s in joined)
        with cookies.db.begin() as txn:
            assert history.schema.sessions.check_indexes(txn) == []
            assert cookies.schema.cookies.check_indexes(txn) == []
            assert audit.schema.audit_events.check_indexes(txn) == []


def test_a_batch_of_publications_and_their_deliveries_reads_once_whatever_its_size(pg_url):
    with CookieService.open(pg_url) as cookies:
        history = SessionHistory(cookies.db)
        engine = _engine(cookies.db)
        publications = [history.new_publication(publication_id=1000 + i, topic="com.example.t", args=[i],
                                                 timestamp=100 + i) for i in range(30)]
        history.transact(lambda txn: history.put_publications(txn, publications[:1]))  # tables opened
        before = engine.round_trips

        def batch(txn):
            history.put_publications(txn, publications)  # the first one again: replaced
            history.put_deliveries(txn, [(7, p.timestamp, 5, p.publication_id) for p in publications])

        history.transact(batch)
        assert engine.round_trips - before == 2  # the ids read in one statement; the rest with the COMMIT
        with cookies.db.begin() as txn:
            assert history.schema.publications.check_indexes(txn) == []
            assert history.schema.publications.count(txn) == 30


def test_a_batch_of_logouts_reads_once_whatever_its_size(pg_url):
    with CookieService.open(pg_url) as cookies:
        engine = _engine(cookies.db)
        logins = [_login(cookies, f"user{i % 3}") for i in range(13)]
        cookies.transact(lambda txn: cookies.put(txn, logins))
        # The first logout attaches the audit log and trims it (as every PURGE_EVERY-th event does).
        cookies.transact(lambda txn: cookies.delete_hashes(txn, [logins.pop().value_hash]))
        gone = [c.value_hash for c in logins[:10]] + [bytes(32)]  # one unknown: nothing to delete
        before = engine.round_trips
        deleted = cookies.transact(lambda txn: cookies.delete_hashes(txn, gone))
        assert engine.round_trips - before == 2  # the cookies read in one statement; the rest with the COMMIT
        assert sorted(c.oid for c in deleted) == sorted(c.oid for c in logins[:10])
        with cookies.db.begin() as txn:
            left = [c.oid for c in logins if cookies.schema.cookies.get_by_index(txn, "idx_cookies_by_value",
                                                                                c.value_hash) is not None]
            assert left == [c.oid for c in logins[10:]]
            assert cookies.schema.cookies.check_indexes(txn) == []


def test_a_login_staged_before_its_logins_were_ended_is_never_stored(pg_url):
    # Two handles on one schema: two router nodes. A's batch was made before B ended alice's logins.
    with CookieService.open(pg_url) as a, CookieService.open(pg_url.replace("?", "?application_name=b&")) as b:
        staged = _login(a, "alice")
        other = _login(a, "bob")
        b.revoke_authid("alice")
        a.transact(lambda txn: a.put(txn, [staged, other]))
        assert a.cookies_by_authid("alice") == [] and len(a.cookies_by_authid("bob")) == 1


@pytest.mark.parametrize("commits_first", ["login", "revocation"])
def test_a_login_batch_racing_a_revocation_on_another_node_leaves_no_cookie(pg_url, commits_first):
    with CookieService.open(pg_url) as a, CookieService.open(pg_url.replace("?", "?application_name=b&")) as b:
        a.transact(lambda txn: a.put(txn, [_login(a, "alice")]))  # a login from before
        staged = _login(a, "alice")
        batch = a.db.begin(write=True)
        a.put(batch, [staged])
        batch.get(a.schema.cookies._h, b"x")  # the batch's statements are on the server, not committed
        revoked = threading.Event()

        def revoke():
            b.revoke_authid("alice")  # runs again on a conflict, like every node's revocation
            revoked.set()

        if commits_first == "login":
            batch.commit()
            revoke()
        else:
            thread = threading.Thread(target=revoke)
            thread.start()
            assert revoked.wait(30)
            with pytest.raises(orm.Conflict):
                batch.commit()
            thread.join(30)
            a.transact(lambda txn: a.put(txn, [staged]))  # the write-behind runs the batch again
        assert a.cookies_by_authid("alice") == [] and b.cookies_by_authid("alice") == []


def test_a_single_read_is_one_round_trip_and_a_writer_that_wrote_nothing_sends_nothing(pg_url):
    with CookieService.open(pg_url) as cookies:
        engine = _engine(cookies.db)
        before = engine.statements, engine.round_trips
        with cookies.db.begin(single=True) as txn:  # a node's cookie read: one lookup through the value index
            assert cookies.schema.cookies.get_by_index(txn, "idx_cookies_by_value", bytes(32)) is None
        assert (engine.statements - before[0], engine.round_trips - before[1]) == (1, 1)
        with cookies.db.begin(write=True):
            pass
        assert (engine.statements - before[0], engine.round_trips - before[1]) == (1, 1)
