"""Migration 0002: cookie values and credential headers leave stored transport details."""

from __future__ import annotations

from store_factories import MAXSIZE, populate, snapshot, version_of

from cfxstore.cookies.service import CookieService
from cfxstore.database import open_database
from cfxstore.migrate.discovery import load_migrations
from cfxstore.migrate.runner import Runner, plan_down, plan_up
from cfxstore.transport import scrub_transport
from cfxstore.realmstore.service import SessionHistory
from cfxstore.router.transportinfo import stored_transport


def migrate(path, direction="up", to=None):
    with open_database(path, check_version=False, maxsize=MAXSIZE) as db:
        runner = Runner(db)
        current = runner.current_version()
        migrations = load_migrations()
        plan = plan_up(current, migrations, to) if direction == "up" else plan_down(current, migrations, to)
        return runner.run(plan)


def test_secrets_leave_sessions_and_cookies(db_path):
    made = populate(db_path, version=1, secrets_in_transport=True)
    migrate(db_path)
    assert version_of(db_path) == 2
    with SessionHistory.open(db_path) as history:
        for s in made["sessions"]:
            transport = history.get_session(s.session_id).transport
            assert "http_cbtid" not in transport
            assert transport["http_headers_received"] == {"user-agent": "pytest"}
            assert transport["peer"] == "tcp4:10.0.0.1:4000"
    with CookieService.open(db_path) as cookies:
        authenticated = [c for c in made["cookies"] if c["authid"]]
        for c in authenticated:
            cookie = cookies.lookup(c["value"])  # still logs in
            assert cookie.authid == c["authid"]
            assert c["value"] not in repr(cookie.transport)


def test_records_without_secrets_are_not_rewritten(db_path):
    populate(db_path, version=1)
    before = snapshot(db_path)
    results = migrate(db_path)
    assert results[0].rows_written == 0
    after = snapshot(db_path)
    assert {k: v for k, v in after.items() if k != "__meta__"} == {k: v for k, v in before.items() if k != "__meta__"}


def test_every_other_field_is_kept(db_path):
    populate(db_path, version=1, secrets_in_transport=True)
    before = snapshot(db_path)
    migrate(db_path)
    after = snapshot(db_path)
    for table in ("sessions", "cookies"):
        old, new = dict(before[table]), dict(after[table])
        assert old.keys() == new.keys()
        for key in old:
            assert {k: v for k, v in old[key].items() if k != "transport"} == \
                {k: v for k, v in new[key].items() if k != "transport"}
            assert new[key].get("transport") == scrub_transport(old[key].get("transport"))


def test_downgrade_only_steps_the_version_back(db_path):
    populate(db_path, version=1, secrets_in_transport=True)
    migrate(db_path)
    scrubbed = snapshot(db_path)
    migrate(db_path, "down", to=1)
    assert version_of(db_path) == 1
    back = snapshot(db_path)
    assert back["sessions"] == scrubbed["sessions"] and back["cookies"] == scrubbed["cookies"]


def test_the_rule_matches_what_the_router_stores():
    transport = {"peer": "x", "http_cbtid": "v", "http_headers_received": {"Cookie": "a", "X": "1",
                                                                           "AUTHORIZATION": "b"},
                 "http_headers_sent": {"Set-Cookie": "c", "Y": "2"}}
    assert scrub_transport(transport) == stored_transport(transport)
    assert scrub_transport(None) is None and scrub_transport("text") == "text"
