"""The node as the unit (--cbdir), history by topic, times people type, principals added safely."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from store_factories import populate

from cfxstore.database import open_database
from cfxstore.realmstore.service import SessionHistory
from cfxstore.router.launcher import init_node
from cfxstore.timeutil import format_time, now_ns, parse_time

HOUR = 3600 * 10**9


def _node_with_history(tmp_path: Path) -> tuple[str, str]:
    cbdir = str(tmp_path / "node")
    init_node(cbdir)
    db = os.path.join(cbdir, "cfxstore-db")
    populate(db)
    return cbdir, db


def test_cbdir_finds_the_database_the_node_config_names(run, tmp_path):
    cbdir, db = _node_with_history(tmp_path)
    assert run.json("sessions", "list", "--cbdir", cbdir) == run.json("sessions", "list", "--db", db)
    assert run.json("db", "info", "--cbdir", cbdir)["path"] == os.path.realpath(db)


def test_a_node_directory_given_as_a_database_is_explained(run, tmp_path):
    cbdir, db = _node_with_history(tmp_path)
    result = run("db", "info", cbdir)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {cbdir} is a node directory, not a database: use --cbdir {cbdir}; " \
                                    f"its database: {db}"


def test_the_default_is_the_node_in_dot_crossbar(run, tmp_path, monkeypatch):
    cbdir, db = _node_with_history(tmp_path)
    os.rename(cbdir, tmp_path / ".crossbar")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CFXSTORE_DB", raising=False)
    assert run.json("db", "info")["path"] == os.path.realpath(tmp_path / ".crossbar" / "cfxstore-db")
    # Inside the node directory too.
    monkeypatch.chdir(tmp_path / ".crossbar")
    assert run.json("db", "info")["path"] == os.path.realpath(tmp_path / ".crossbar" / "cfxstore-db")


def test_a_node_with_several_databases_asks_for_one(run, tmp_path):
    cbdir = tmp_path / "node"
    init_node(str(cbdir))
    config = json.loads((cbdir / "config.json").read_text())
    config["workers"][0]["realms"][0]["store"]["path"] = "history-db"
    (cbdir / "config.json").write_text(json.dumps(config))
    result = run("sessions", "list", "--cbdir", str(cbdir))
    assert result.exit_code == 1
    assert "uses 2 cfxstore databases" in result.stderr and "choose one with --db" in result.stderr
    assert str(cbdir / "history-db") in result.stderr


def _history(db: str) -> None:
    """Two topics; publication 1 reached sessions 7 and 8 on one history subscription, and the
    stock-imported publication 3 sits under a foreign subscription id with no receiver-0 key."""
    with open_database(db) as database:
        history = SessionHistory(database)
        t = now_ns() - 3 * HOUR
        history.store_publication(publication_id=1, topic="com.a", publisher=5, args=[1], timestamp=t)
        for receiver, dt in ((0, 0), (7, 10), (8, 20)):
            history.store_delivery(1, 1000, receiver, timestamp=t + dt)
        history.store_publication(publication_id=2, topic="com.b", publisher=5, timestamp=t + HOUR)
        history.store_delivery(2, 1000, 0, timestamp=t + HOUR)
        history.store_publication(publication_id=3, topic="com.a", publisher=6, timestamp=t + 2 * HOUR)
        history.store_delivery(3, 424242, 9, timestamp=t + 2 * HOUR + 5)


def test_events_by_topic_show_each_publication_once_with_its_receivers(run, tmp_path):
    db = str(tmp_path / "db")
    _history(db)
    data = run.json("events", "list", "--topic", "com.a", "--db", db)
    assert [(e["publication_id"], e["receivers"], e["subscriptions"]) for e in data] == [
        (3, [9], [424242]), (1, [7, 8], [1000])]
    assert data[1]["args"] == [1] and data[1]["topic"] == "com.a"
    assert [e["publication_id"] for e in run.json("events", "list", "--topic", "com.a", "--since", "150m",
                                                  "--db", db)] == [3]
    assert [e["publication_id"] for e in run.json("events", "list", "--topic", "com.a", "--until", "150m",
                                                  "--db", db)] == [1]
    assert run.json("events", "list", "--topic", "com.nothing", "--db", db) == []
    table = run("events", "list", "--topic", "com.a", "--db", db).stdout
    assert "7 8" in table and table.count("com.a") == 2


def test_events_by_subscription_once_per_publication(run, tmp_path):
    db = str(tmp_path / "db")
    _history(db)
    data = run.json("events", "list", "--subscription", "1000", "--db", db)
    assert [(e["publication_id"], e["receivers"]) for e in data] == [(2, []), (1, [7, 8])]
    assert [e["publication_id"] for e in run.json("events", "list", "--subscription", "1000", "--limit", "1",
                                                  "--db", db)] == [2]


def test_history_subscription_ids_are_listable(run, tmp_path):
    db = str(tmp_path / "db")
    _history(db)
    data = run.json("events", "subscriptions", "--db", db)
    assert [(s["subscription"], s["deliveries"], s["topic"]) for s in data] == [(1000, 4, "com.b"),
                                                                               (424242, 1, "com.a")]


def test_both_or_neither_of_topic_and_subscription_is_a_usage_error(run, tmp_path):
    db = str(tmp_path / "db")
    _history(db)
    assert run("events", "list", "--db", db).exit_code == 2
    assert run("events", "list", "--db", db, "--topic", "a", "--subscription", "1").exit_code == 2


@pytest.mark.parametrize("text,expected", [
    ("1700000000000000000", 1_700_000_000_000_000_000),
    ("2023-11-14T22:13:20Z", 1_700_000_000_000_000_000),
    ("2023-11-14T23:13:20+01:00", 1_700_000_000_000_000_000),
    ("2023-11-14T22:13:20.5", 1_700_000_000_500_000_000),
    ("2023-11-14", 1_699_920_000_000_000_000),
])
def test_absolute_times(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize("text,ago", [("30s", 30), ("15m", 900), ("1h", 3600), ("7d", 7 * 86400),
                                      ("2w", 14 * 86400), ("1.5h", 5400)])
def test_relative_times_count_back_from_now(text, ago):
    assert parse_time(text, now=10**19) == 10**19 - ago * 10**9


@pytest.mark.parametrize("text", ["", "soon", "1y", "h", "2023-13-01", "1.2.3h"])
def test_unreadable_times_are_refused_with_the_forms_that_work(text):
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time(text)


def test_times_are_shown_in_iso_8601_and_kept_as_ns_in_json(run, tmp_path):
    db = str(tmp_path / "db")
    populate(db)
    joined = run.json("sessions", "list", "--db", db)[0]["joined_at"]
    assert isinstance(joined, int)
    assert format_time(joined)[:19].replace("T", " ") in run("sessions", "list", "--db", db).stdout.replace("T", " ")
    # --joined-at takes the time as shown (seconds, ISO 8601) and finds the session that joined nearest it.
    shown = format_time(joined)[:19] + "Z"
    assert run.json("sessions", "show", "102", "--db", db, "--joined-at", shown)["joined_at"] == joined
    assert run("sessions", "show", "999", "--db", db, "--joined-at", shown).exit_code == 1


def test_sessions_time_range(run, tmp_path):
    db = str(tmp_path / "db")
    populate(db)
    everything = run.json("sessions", "list", "--db", db)
    assert run.json("sessions", "list", "--db", db, "--since", "1h") == [
        s for s in everything if s["left_at"] is None or s["left_at"] >= now_ns() - HOUR]
    assert run.json("sessions", "list", "--db", db, "--until", "2000-01-01") == []


def test_add_principal_checks_the_role_before_asking_for_a_secret(run, tmp_path):
    cbdir = str(tmp_path / "node")
    init_node(cbdir)
    result = run("router", "add-principal", "--cbdir", cbdir, "--role", "boss", "--choose-ticket", "alice")
    assert result.exit_code == 1 and "role 'boss' is not configured" in result.stderr
    assert not os.path.exists(os.path.join(cbdir, "cfxstore-db"))


def test_add_principal_reads_a_chosen_ticket_from_stdin_only(run, tmp_path):
    cbdir = str(tmp_path / "node")
    init_node(cbdir)
    result = run("router", "add-principal", "--cbdir", cbdir, "--role", "user", "--choose-ticket", "alice",
                 input="my own ticket\n")
    assert result.exit_code == 0, result.output
    assert "shown only this once" not in result.stdout
    assert run("router", "add-principal", "--cbdir", cbdir, "--role", "user", "--ticket", "x", "bob").exit_code == 2
    empty = run("router", "add-principal", "--cbdir", cbdir, "--role", "user", "--choose-ticket", "carol", input="\n")
    assert empty.exit_code == 1 and "empty ticket" in empty.stderr
    from cfxstore.router.launcher import _credentials

    credentials = _credentials(os.path.join(cbdir, "cfxstore-db"))
    assert [p.authid for p in credentials.list_principals("realm1")] == ["alice"]


def test_router_check_accepts_the_default_config(run, tmp_path):
    cbdir = str(tmp_path / "node")
    init_node(cbdir)
    result = run("router", "check", "--cbdir", cbdir)
    assert result.exit_code == 0 and "is a valid cfxstore node config" in result.stdout


def test_router_status_of_a_node_that_does_not_run(run, tmp_path):
    cbdir = str(tmp_path / "node")
    init_node(cbdir)
    assert run("router", "status", "--cbdir", cbdir).exit_code == 3
    stop = run("router", "stop", "--cbdir", cbdir)
    assert stop.exit_code == 0 and "was not running" in stop.stdout


def test_router_check_reports_every_problem_with_its_key_path(run, tmp_path):
    cbdir = str(tmp_path / "node")
    init_node(cbdir)
    path = os.path.join(cbdir, "config.json")
    with open(path) as f:
        config = json.load(f)
    worker = config["workers"][0]
    second = json.loads(json.dumps(worker["transports"][0]))
    worker["transports"].append(second)
    worker["transports"][0]["endpoint"]["prot"] = 8080          # Crossbar's own check
    second["cookie"]["store"]["maxsise"] = 1                     # a cfxstore key
    worker["realms"][0]["store"]["buffer-flush"] = "soon"        # a cfxstore realm store key
    with open(path, "w") as f:
        json.dump(config, f)
    result = run("router", "check", "--cbdir", cbdir)
    assert result.exit_code == 1
    assert "3 problems" in result.stderr
    assert "workers[0].transports[0]: " in result.stderr and "prot" in result.stderr
    assert "workers[0].transports[1]: " in result.stderr and "maxsise" in result.stderr
    assert "workers[0].realms[0]: " in result.stderr and "buffer-flush" in result.stderr
    assert "Traceback" not in result.stderr
