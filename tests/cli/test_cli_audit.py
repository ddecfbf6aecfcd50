"""cfxstore audit: principal changes made from the CLI are listed, filtered and shown as JSON; retention."""

from __future__ import annotations

from cfxstore.audit.entities import AuditEvent
from cfxstore.audit.service import AuditLog
from cfxstore.database import open_database
from cfxstore.timeutil import NS_PER_SECOND, now_ns


def test_principal_changes_from_the_cli_are_listed_with_their_filters(run, db):
    path, _ = db
    assert run("principals", "add", "bob", "--db", path, "--role", "user", "--password-stdin",
               input="s3cret-bob\n").exit_code == 0
    assert run("principals", "passwd", "bob", "--db", path, "--password-stdin",
               input="n3w-secret-bob\n").exit_code == 0

    events = run.json("audit", "list", "--db", path, "--authid", "bob")
    assert [(e["kind"], e["action"]) for e in events] == [("principal", "created"), ("principal", "credential set")]
    assert events[1]["method"] == "ticket" and events[1]["realm"] == "realm1"
    assert "s3cret" not in str(events) and "n3w-secret" not in str(events)

    assert run.json("audit", "list", "--db", path, "--authid", "bob", "--kind", "login") == []
    later = run.json("audit", "list", "--db", path, "--since", events[1]["at"])
    assert [e["action"] for e in later if e["authid"] == "bob"] == ["credential set"]
    assert run.json("audit", "list", "--db", path, "--until", events[0]["at"], "--authid", "bob") == []

    shown = run("audit", "list", "--db", path, "--authid", "bob")
    assert shown.exit_code == 0 and "credential set" in shown.stdout and "2 event(s)" in shown.output


def test_limit_keeps_the_newest_events(run, db):
    path, _ = db
    with open_database(path) as database:
        log = AuditLog(database)
        now = now_ns()
        log.transact(lambda txn: [log.record(txn, AuditEvent(at=now + i, kind="login", action="attempt",
                                                             authid="zed", outcome="failure"))
                                  for i in range(5)])
    events = run.json("audit", "list", "--db", path, "--authid", "zed", "--limit", "2")
    assert [e["at"] for e in events] == sorted(e["at"] for e in events) and len(events) == 2
    everything = run.json("audit", "list", "--db", path, "--authid", "zed")
    assert events == everything[-2:]


def test_a_bad_kind_or_time_is_a_one_line_error(run, db):
    path, _ = db
    result = run("audit", "list", "--db", path, "--kind", "coffee")
    assert result.exit_code == 2 and "coffee" in result.output and "Traceback" not in result.output
    result = run("audit", "list", "--db", path, "--since", "yesterday-ish")
    assert result.exit_code == 2 and "yesterday-ish" in result.output


def test_retention_is_shown_and_set(run, db):
    path, _ = db
    result = run("audit", "retention", "--db", path)
    assert result.exit_code == 0 and "90 day(s)" in result.stdout
    assert run("audit", "retention", "--db", path, "--days", "7").exit_code == 0
    assert "7 day(s)" in run("audit", "retention", "--db", path).stdout
    with open_database(path) as database:
        assert AuditLog(database).max_age() == 7 * 86400
        log = AuditLog(database)
        stale = AuditEvent(at=now_ns() - 8 * 86400 * NS_PER_SECOND, kind="import", action="cfxdb")
        log.transact(lambda txn: log.schema.audit_events.__setitem__((txn, stale.key), stale))
    # The next event any process writes trims what expired.
    assert run("principals", "add", "eve", "--db", path, "--role", "user", "--password-stdin",
               input="s3cret-eve\n").exit_code == 0
    assert run.json("audit", "list", "--db", path, "--kind", "import") == []
    assert run("audit", "retention", "--db", path, "--days", "0").exit_code == 2
