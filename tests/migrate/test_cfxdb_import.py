"""Importing stock Crossbar databases (built with the real cfxdb package) into cfxstore."""

from __future__ import annotations

import os
import time

import pytest
from cfxdb_factories import build_cookie_store, build_realm_store
from store_factories import MAXSIZE, populate, snapshot

from cfxstore.cookies.service import CookieService
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.migrate import cfxdb_source
from cfxstore.migrate.cfxdb_import import check_sources, import_cookies, import_realmstore
from cfxstore.migrate.errors import ImportSourceError
from cfxstore.realmstore.service import SessionHistory


@pytest.fixture
def crossbar(tmp_path):
    cookies_path, realm_path = str(tmp_path / "cookies"), str(tmp_path / "realmstore")
    cookies = build_cookie_store(cookies_path, 5, expired=2)
    realm = build_realm_store(realm_path)
    return cookies_path, cookies, realm_path, realm


def import_all(crossbar, dest):
    cookies_path, _, realm_path, _ = crossbar
    with open_database(dest, maxsize=MAXSIZE) as db:
        return import_cookies(cookies_path, db), import_realmstore(realm_path, db)


def test_imported_cookies_log_in_with_their_raw_values(crossbar, db_path):
    _, cookies, _, _ = crossbar
    result, _ = import_all(crossbar, db_path)
    assert (result.read, result.imported) == (7, 3)
    assert result.skipped == {"expired": 1, "anonymous (no login): never stored": 3}
    with CookieService.open(db_path) as service:
        for made in cookies:
            cookie = service.lookup(made["value"])
            if made["authid"] is None:
                assert cookie is None  # a stock anonymous cookie is not a login: never stored
            else:
                assert cookie is not None and cookie.oid == made["oid"] and cookie.authid == made["authid"]
        assert service.lookup("not-a-cookie") is None


def test_a_cookie_whose_principal_has_another_role_now_is_not_imported(tmp_path, db_path):
    source = str(tmp_path / "cookies")
    made = build_cookie_store(source, 3)  # user0 and user2 logged in, role "user"
    with open_database(db_path, maxsize=MAXSIZE) as db:
        Management(db).principals.create(realm="realm1", authid="user0", role="admin")
        result = import_cookies(source, db)
    assert result.imported == 1 and result.skipped["its principal's role in the store differs"] == 1
    with CookieService.open(db_path) as service:
        assert service.lookup(made[0]["value"]) is None
        assert service.lookup(made[2]["value"]).authid == "user2"


@pytest.mark.parametrize("lib_version", ["0.9", "1.0"])
def test_both_lmdb_formats_crossbar_wrote_are_read(tmp_path, db_path, lib_version):
    source = str(tmp_path / "cookies")
    made = build_cookie_store(source, 2, lib_version=lib_version)
    with open_database(db_path, maxsize=MAXSIZE) as db:
        assert import_cookies(source, db).imported == 1  # the other one is anonymous
    with CookieService.open(db_path) as service:
        assert all(service.lookup(c["value"]) is not None for c in made if c["authid"])


def test_raw_cookie_values_are_not_stored(crossbar, db_path):
    _, cookies, _, realm = crossbar
    import_all(crossbar, db_path)
    with open(os.path.join(db_path, "data.mdb"), "rb") as f:
        data = f.read()
    for made in cookies:
        assert made["value"].encode() not in data
    for s in realm["sessions"]:
        assert s["secret"].encode() not in data
    assert b"Basic c2VjcmV0" not in data


def test_authenticated_cookie_fields_are_mapped(crossbar, db_path):
    _, cookies, _, _ = crossbar
    import_all(crossbar, db_path)
    with CookieService.open(db_path) as service:
        cookie = service.lookup(cookies[0]["value"])
    assert (cookie.authrole, cookie.authmethod, cookie.authrealm, cookie.authextra) == \
        ("user", "ticket", "realm1", {"n": 0})
    assert cookie.worker == "worker1" and cookie.session == 1000 and cookie.max_age == 3600
    assert cookie.expires == cookie.created + 3600 * 10**9
    assert cookie.transport["peer"] == "tcp4:127.0.0.1:50000" and "http_cbtid" not in cookie.transport


def test_sessions_publications_and_events_are_mapped(crossbar, db_path):
    _, _, _, realm = crossbar
    _, results = import_all(crossbar, db_path)
    assert {k: (r.read, r.imported) for k, r in results.items()} == \
        {"sessions": (4, 4), "publications": (3, 3), "events": (6, 6)}
    with SessionHistory.open(db_path) as history:
        first = history.get_session(5000)
        assert first.oid == realm["sessions"][0]["oid"] and first.realm == "realm1"
        # Stock never recorded its leave: ended at an unknown time, bounded by the source's last write.
        last_write = os.stat(os.path.join(crossbar[2], "data.mdb")).st_mtime_ns
        assert first.left_at == max(last_write, first.joined_at) and first.left_approximate
        assert first._unknown["left_unknown"] is True
        left = history.get_session(5001)
        assert left.left_at is not None and not left.left_approximate and "left_unknown" not in left._unknown
        assert first.authextra == {"i": 0} and first._unknown["worker_name"] == "worker1"
        assert "cookie" not in first.transport["http_headers_received"]
        events = history.events(900)
        assert sorted((e.subscription_id, e.timestamp, e.receiver, e.publication_id) for e in events) == \
            sorted(realm["events"])
        assert all(e.topic == "com.example.topic" and e.args[1] == "x" for e in events)


def test_running_the_import_again_duplicates_nothing(crossbar, db_path):
    import_all(crossbar, db_path)
    first = snapshot(db_path)
    cookies, realm = import_all(crossbar, db_path)
    assert cookies.imported == 0 and cookies.skipped["imported before"] == 3
    assert realm["sessions"].imported == 0 and realm["events"].skipped == {"imported before": 6}
    assert snapshot(db_path) == first


def test_a_rerun_imports_new_records_and_never_revives_a_revoked_cookie(tmp_path, db_path):
    source = str(tmp_path / "cookies")
    first = build_cookie_store(source, 3)
    with open_database(db_path, maxsize=MAXSIZE) as db:
        import_cookies(source, db)
    with CookieService.open(db_path) as service:
        assert service.revoke_authid(first[0]["authid"])
        assert service.lookup(first[0]["value"]) is None
    later = build_cookie_store(source, 2)  # the stock node went on issuing cookies
    with open_database(db_path, maxsize=MAXSIZE) as db:
        result = import_cookies(source, db)
    assert (result.imported, result.skipped) == (1, {"imported before": 2,
                                                     "anonymous (no login): never stored": 2})
    with CookieService.open(db_path) as service:
        assert service.lookup(first[0]["value"]) is None
        assert all(service.lookup(c["value"]) is not None for c in first[1:] + later if c["authid"])


def test_events_are_stored_under_the_history_rule_the_router_reads(crossbar, db_path):
    from cfxstore.node.history_rules import rules_of
    from cfxstore.realmstore.rules import history_id

    _, _, realm_path, realm = crossbar
    rules = rules_of({"event-history": [{"uri": "com.example.", "match": "prefix"},
                                        {"uri": "com.other", "match": "exact"}]})
    with open_database(db_path, maxsize=MAXSIZE) as db:
        results = import_realmstore(realm_path, db, history=rules)
    assert results["events"].changed == {"moved to the history of a rule": 6}
    with SessionHistory.open(db_path) as history:
        assert history.events(900) == [] and history.events(history_id(rules[1])) == []
        events = history.events(history_id(rules[0]))
        # every publication once for receiver 0 (as the router records it), plus each stock delivery
        assert sorted((e.receiver, e.publication_id) for e in events if e.receiver) == \
            sorted((r, p) for _, _, r, p in realm["events"])
        assert {e.publication_id for e in events if e.receiver == 0} == \
            set(realm["publications"])
        by_topic = history.events_by_topic("com.example.topic")
        assert [e.publication_id for e in by_topic] == \
            [p.publication_id for p in history.publications_by_topic("com.example.topic")]


def test_the_sources_are_not_changed(crossbar, db_path):
    cookies_path, _, realm_path, _ = crossbar

    def files():
        return {p: open(os.path.join(p, "data.mdb"), "rb").read() for p in (cookies_path, realm_path)}

    before = files()
    import_all(crossbar, db_path)
    assert files() == before


def test_into_an_existing_database_keeps_its_records(crossbar, db_path):
    made = populate(db_path)
    import_all(crossbar, db_path)
    with CookieService.open(db_path) as service:
        assert service.lookup(made["cookies"][0]["value"]) is not None


def test_the_table_ids_match_cfxdb():
    from cfxdb.cookiestore import Cookies
    from cfxdb.realmstore import Events, Publications, Sessions

    assert cfxdb_source.COOKIES == Cookies._zlmdb_oid
    assert cfxdb_source.SESSIONS == Sessions._zlmdb_oid
    assert cfxdb_source.PUBLICATIONS == Publications._zlmdb_oid
    assert cfxdb_source.EVENTS == Events._zlmdb_oid


# -- sources that are not what they should be -----------------------------------------

def test_a_missing_source_is_refused(tmp_path):
    with pytest.raises(ImportSourceError, match="cookie store .*missing does not exist"):
        check_sources(str(tmp_path / "missing"), None)


def test_a_directory_without_a_database_is_refused(tmp_path):
    with pytest.raises(ImportSourceError, match="is not a cfxdb database \\(expected a directory with data.mdb\\)"):
        check_sources(str(tmp_path), None)


def test_a_file_that_is_not_lmdb_is_refused(tmp_path):
    d = tmp_path / "fake"
    d.mkdir()
    (d / "data.mdb").write_bytes(b"not lmdb" * 1000)
    with pytest.raises(ImportSourceError, match="not a readable LMDB database"):
        check_sources(None, str(d))


def test_a_cfxstore_database_is_refused(db_path):
    populate(db_path)
    with pytest.raises(ImportSourceError, match="is a cfxstore database, not a Crossbar one"):
        check_sources(db_path, None)


def test_a_cookie_store_given_as_realm_store_is_refused(crossbar):
    cookies_path = crossbar[0]
    with pytest.raises(ImportSourceError, match="is a cfxdb database but holds no realm store"):
        check_sources(None, cookies_path)


def test_nothing_to_import_is_refused():
    with pytest.raises(ImportSourceError, match="nothing to import"):
        check_sources(None, None)


def test_an_empty_lmdb_database_is_refused(tmp_path):
    import lmdb

    path = str(tmp_path / "empty")
    lmdb.open(path).close()
    with pytest.raises(ImportSourceError, match="no zlmdb table catalog"):
        check_sources(path, None)


def test_a_source_refused_midway_writes_nothing(tmp_path, db_path):
    populate(db_path)
    before = snapshot(db_path)
    with open_database(db_path) as db:
        with pytest.raises(ImportSourceError):
            import_cookies(str(tmp_path / "missing"), db)
    assert snapshot(db_path) == before


def test_short_cookie_values_get_a_bounded_life_and_the_import_says_so(tmp_path, db_path):
    source = str(tmp_path / "cookies")
    year = 365 * 86400
    short, exact, long_ = "Ab3dE6", "x" * 21, "y" * 22          # 36 and 126 bits; 132 bits
    # Logged in at the even places (the odd, anonymous ones are not imported).
    build_cookie_store(source, 5, values=[short, "z" * 30, exact, "w" * 30, long_], max_age=year)
    with open_database(db_path, maxsize=MAXSIZE) as db:
        before = time.time_ns()
        result = import_cookies(source, db, short_life=3600)
    assert result.changed == {"short value (under 128 bits): life cut to 3600 s": 2}
    with CookieService.open(db_path) as service:
        for value in (short, exact):
            cookie = service.lookup(value)                          # still logs in ...
            assert cookie is not None and cookie.expires <= before + 3601 * 10**9   # ... for an hour at most
        assert service.lookup(long_).expires > before + (year - 60) * 10**9        # 128+ bits: as it was


def test_each_batch_imported_is_an_import_event_in_its_transaction_and_a_rerun_adds_none(crossbar, db_path):
    from cfxstore.audit.service import AuditLog

    cookies, realm = import_all(crossbar, db_path)
    with open_database(db_path, readonly=True) as db:
        events = AuditLog(db).list(kinds=["import"])
    imported = {"cookies": cookies.imported, **{name: r.imported for name, r in realm.items()}}
    assert all(imported.values())
    assert {e.detail["table"]: e.detail["records"] for e in events} == imported
    import_all(crossbar, db_path)  # imports nothing new
    with open_database(db_path, readonly=True) as db:
        assert AuditLog(db).list(kinds=["import"]) == events
