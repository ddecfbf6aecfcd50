"""cfxstore cookies | sessions | events: reading and looking after the stored records."""

from __future__ import annotations

import uuid

import pytest
from store_factories import set_version

from cfxstore.cookies.entities import Cookie
from cfxstore.cookies.service import CookieService
from cfxstore.database import open_database
from cfxstore.timeutil import now_ns


def test_cookies_list_shows_live_cookies_without_their_hashes(run, db):
    path, made = db
    data = run.json("cookies", "list", "--db", path)
    assert {c["oid"] for c in data} == {str(c["oid"]) for c in made["cookies"]}
    assert all("value_hash" not in c and c["expired"] is False for c in data)
    table = run("cookies", "list", "--db", path).stdout
    assert "user0" in table and "(anonymous)" in table


def test_cookies_list_by_authid(run, db):
    path, _ = db
    assert [c["authid"] for c in run.json("cookies", "list", "--db", path, "--authid", "user0")] == ["user0"]
    assert run.json("cookies", "list", "--db", path, "--authid", "nobody") == []


def test_cookies_show(run, db):
    path, made = db
    oid = str(made["cookies"][0]["oid"])
    assert run.json("cookies", "show", oid, "--db", path)["authid"] == "user0"
    assert "authrealm" in run("cookies", "show", oid, "--db", path).stdout
    missing = run("cookies", "show", "00000000-0000-4000-8000-000000000000", "--db", path)
    assert missing.exit_code == 1 and "no cookie" in missing.stderr
    assert run("cookies", "show", "nope", "--db", path).exit_code == 2


def test_cookies_revoke_asks_then_deletes(run, db):
    path, made = db
    declined = run("cookies", "revoke", "--db", path, "--authid", "user0", input="n\n")
    assert declined.exit_code == 1
    with CookieService.open(path) as service:
        assert service.lookup(made["cookies"][0]["value"]) is not None
    result = run("cookies", "revoke", "--db", path, "--authid", "user0", "--yes")
    assert result.exit_code == 0 and "revoked 1 cookie(s)" in result.stdout
    with CookieService.open(path) as service:
        assert service.lookup(made["cookies"][0]["value"]) is None


def test_cookies_purge_expired(run, db):
    path, _ = db
    past = now_ns() - 10 * 10**9
    old = Cookie(oid=uuid.uuid4(), created=past - 10**9, modified=past - 10**9, max_age=1, expires=past,
                 name="cbtid", value_hash=b"\x01" * 32)
    with open_database(path) as database:
        service = CookieService(database)
        with database.begin(write=True) as txn:
            service.schema.cookies[txn, old.oid] = old
    assert len(run.json("cookies", "list", "--db", path, "--all")) == 3
    assert len(run.json("cookies", "list", "--db", path)) == 2
    assert "expired" in run("cookies", "list", "--db", path, "--all").stdout
    assert run.json("cookies", "purge-expired", "--db", path) == {"purged": 1}
    assert len(run.json("cookies", "list", "--db", path, "--all")) == 2


def test_a_database_without_cookies_lists_none(run, tmp_path):
    path = str(tmp_path / "db")
    open_database(path).close()
    assert run.json("cookies", "list", "--db", path) == []
    assert run.json("cookies", "purge-expired", "--db", path) == {"purged": 0}


def test_sessions_list_newest_first_with_filters(run, db):
    path, _ = db
    data = run.json("sessions", "list", "--db", path)
    assert [s["session_id"] for s in data] == [102, 101, 100]
    assert [s["session_id"] for s in run.json("sessions", "list", "--db", path, "--authid", "user0")] == [102, 100]
    assert run.json("sessions", "list", "--db", path, "--realm", "other") == []
    assert len(run.json("sessions", "list", "--db", path, "--limit", "1")) == 1
    assert "(active)" in run("sessions", "list", "--db", path).stdout


def test_sessions_show(run, db):
    path, _ = db
    assert run.json("sessions", "show", "101", "--db", path)["authid"] == "user1"
    assert "transport" in run("sessions", "show", "101", "--db", path).stdout
    missing = run("sessions", "show", "999", "--db", path)
    assert missing.exit_code == 1 and "no session 999" in missing.stderr


def test_events_list(run, db):
    path, _ = db
    data = run.json("events", "list", "--db", path, "--subscription", "42")
    assert [e["publication_id"] for e in data] == [501, 500]
    assert data[0]["topic"] == "com.example" and data[0]["kwargs"] == {"j": 1}
    ranged = run.json("events", "list", "--db", path, "--subscription", "42",
                      "--since", "1700000000000002001")
    assert [e["publication_id"] for e in ranged] == [501]
    assert run.json("events", "list", "--db", path, "--subscription", "7") == []
    assert run("events", "list", "--db", path).exit_code == 2  # --subscription is required


@pytest.mark.parametrize("args", [["cookies", "list"], ["sessions", "list"], ["events", "list", "--subscription", "1"],
                                  ["principals", "list"], ["cookies", "purge-expired"]])
def test_record_commands_refuse_an_unmigrated_database(run, db, args):
    path, _ = db
    set_version(path, 1)
    result = run(*args, "--db", path)
    assert result.exit_code == 1
    assert "cfxstore migrate up --db" in result.stderr
