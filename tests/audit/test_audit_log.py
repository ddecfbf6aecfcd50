"""The audit log on every engine: events in time order, filters, retention, and changes audited in their
own transaction (they commit and roll back together)."""

from __future__ import annotations

import pytest

from cfxstore.audit.entities import AuditEvent
from cfxstore.audit.service import DEFAULT_MAX_AGE, AuditLog
from cfxstore.errors import InvalidArgument
from cfxstore.management.service import Management
from cfxstore.timeutil import NS_PER_SECOND, now_ns

T0 = now_ns() - 3600 * NS_PER_SECOND  # within the default retention


def _login(at, authid, outcome="success", **kw):
    return AuditEvent(at=at, kind="login", action="attempt", realm="realm1", authid=authid, method="ticket",
                      outcome=outcome, **kw)


def test_events_read_back_in_time_order_filtered_by_authid_kind_and_range(engine_db):
    log = AuditLog(engine_db)
    events = [_login(T0 + 3, "bob", "failure", reason="invalid authid or ticket", peer="10.0.0.1"),
              _login(T0 + 1, "alice"),
              AuditEvent(at=T0 + 2, kind="lockout", action="authid locked", realm="realm1", authid="bob"),
              _login(T0 + 4, "alice", "failure")]
    log.transact(lambda txn: [log.record(txn, e) for e in events])

    assert [e.at for e in log.list()] == [T0 + 1, T0 + 2, T0 + 3, T0 + 4]
    assert log.list(authid="bob") == sorted([events[0], events[2]], key=lambda e: e.at)
    assert [e.kind for e in log.list(kinds=["lockout"])] == ["lockout"]
    assert [e.at for e in log.list(since=T0 + 2, until=T0 + 4)] == [T0 + 2, T0 + 3]
    assert [e.at for e in log.list(authid="alice", since=T0 + 2)] == [T0 + 4]
    assert [e.at for e in log.list(limit=2)] == [T0 + 3, T0 + 4]
    assert log.list(authid="carol") == []


def test_bad_filters_are_refused_naming_what_was_wrong(engine_db):
    log = AuditLog(engine_db)
    with pytest.raises(InvalidArgument, match="kind: expected one of .*got nonsense"):
        log.list(kinds=["nonsense"])
    with pytest.raises(InvalidArgument, match="limit"):
        log.list(limit=0)
    with pytest.raises(InvalidArgument, match="max_age"):
        log.set_max_age(0)
    with pytest.raises(InvalidArgument, match="AuditEvent.kind"):
        AuditEvent(kind="coffee", action="x")


def test_retention_deletes_expired_events_from_the_front(engine_db):
    log = AuditLog(engine_db)
    assert log.max_age() == DEFAULT_MAX_AGE
    log.set_max_age(3600)
    now = now_ns()
    old = [_login(now - 7200 * NS_PER_SECOND + i, "alice") for i in range(5)]
    fresh = [_login(now - 10 * NS_PER_SECOND, "alice")]
    log.transact(lambda txn: [_written_long_ago(log, txn, e) for e in old + fresh])
    assert len(log.list()) == 6

    assert log.purge(now) == 5
    assert log.list() == fresh
    assert AuditLog(engine_db).max_age() == 3600  # kept in the database, for every writer


def test_recording_trims_expired_events_in_the_same_transaction(engine_db):
    log = AuditLog(engine_db)
    log.set_max_age(60)
    stale = _login(now_ns() - 3600 * NS_PER_SECOND, "alice")
    log.transact(lambda txn: _written_long_ago(log, txn, stale))
    assert log.list() == [stale]
    log.transact(lambda txn: log.record(txn, _login(now_ns(), "bob")))
    assert [e.authid for e in log.list()] == ["bob"]


def test_principal_role_and_permission_changes_are_audited_without_secrets(engine_db):
    mgmt = Management(engine_db)
    role = mgmt.roles.create(name="frontend")
    perm = mgmt.permissions.create(role_oid=role.oid, uri="com.example.", match="prefix", allow_call=True)
    p = mgmt.principals.create(realm="realm1", authid="alice", role="frontend", ticket="s3cret-ticket-value")
    mgmt.principals.set_secret(p.oid, "ticket", "an0ther-secret-value")
    mgmt.principals.update(p.oid, role="frontend")
    mgmt.permissions.delete(perm.oid)

    events = AuditLog(engine_db).list()
    assert [(e.kind, e.action) for e in events] == [
        ("role", "created"), ("permission", "created"), ("principal", "created"),
        ("principal", "credential set"), ("principal", "updated"), ("permission", "deleted")]
    assert events[3].method == "ticket" and events[3].authid == "alice" and events[3].realm == "realm1"
    assert events[5].detail["record"]["uri"] == "com.example."
    text = repr([e.marshal() for e in events])
    assert "s3cret" not in text and "an0ther" not in text and "$argon2" not in text


def test_an_event_rolls_back_with_the_change_it_records(engine_db):
    mgmt = Management(engine_db)

    def fail(txn):
        mgmt.roles.create(txn, name="doomed")
        raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        mgmt.transact(fail)
    assert AuditLog(engine_db).list() == []
    assert mgmt.roles.list().items == []


def _written_long_ago(log, txn, event):
    """Store event as a writer did before it expired (record() would trim it at once)."""
    log.schema.audit_events[txn, event.key] = event


def test_logouts_and_revocations_are_audited_in_the_transaction_of_the_deletion(engine_db):
    from cfxstore.cookies.service import CookieService

    cookies = CookieService(engine_db)
    made = []
    for authid in ("alice", "alice", "bob"):
        cookie = CookieService.login(cookies.new()[1], authid=authid, authrole="user", authmethod="ticket",
                                     authextra=None, authrealm="realm1")
        cookies.transact(lambda txn: cookies.put(txn, [cookie]))
        made.append(cookie)
    cookies.transact(lambda txn: cookies.delete_hashes(txn, [made[0].value_hash]))
    cookies.revoke(made[2].oid)
    cookies.revoke_authid("alice")

    events = AuditLog(engine_db).list()
    assert [(e.kind, e.action, e.authid, e.reason) for e in events] == [
        ("logout", "logout", "alice", "logout"),
        ("revocation", "device revoked", "bob", "revoked"),
        ("revocation", "logins ended", "alice", "revoked")]
    assert [e.detail["cookie"] for e in events] == [str(made[0].oid), str(made[2].oid), str(made[1].oid)]
    assert {e.method for e in events} == {"ticket"} and {e.realm for e in events} == {"realm1"}

    def fail(txn):
        cookies.end_logins(txn, "nobody-else")
        cookies.delete_hashes(txn, [made[1].value_hash])
        raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        cookies.transact(fail)
    assert len(AuditLog(engine_db).list()) == 3


def test_a_principal_change_that_ends_logins_records_the_revocation(engine_db):
    from cfxstore.cookies.service import CookieService

    mgmt = Management(engine_db)
    p = mgmt.principals.create(realm="realm1", authid="carol", role="user", ticket="s3cret-of-carol")
    cookies = CookieService(engine_db)
    cookie = CookieService.login(cookies.new()[1], authid="carol", authrole="user", authmethod="ticket",
                                 authextra=None, authrealm="realm1")
    cookies.transact(lambda txn: cookies.put(txn, [cookie]))
    mgmt.principals.update(p.oid, role="admin")
    events = AuditLog(engine_db).list(authid="carol")
    assert [(e.kind, e.action, e.reason) for e in events] == [
        ("principal", "created", None), ("revocation", "logins ended", "principal changed"),
        ("principal", "updated", None)]
