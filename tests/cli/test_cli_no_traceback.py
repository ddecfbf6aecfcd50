"""Every command meets broken input with one "Error:" line naming what is wrong, never a traceback."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from cli_helpers import subprocess_cli
from ports import free_port
from store_factories import populate, set_version

import orm
from cfxstore.errors import InvalidArgument
from cfxstore.router.launcher import init_node


def _node(tmp: Path, name: str = "node", **kw) -> str:
    cbdir = str(tmp / name)
    init_node(cbdir, **kw)
    return cbdir


def _broken_config(tmp: Path, text: str) -> str:
    cbdir = tmp / "broken"
    cbdir.mkdir()
    (cbdir / "config.json").write_text(text)
    return str(cbdir)


# (what, how to make the input, command, words the one-line error must contain)
CASES = [
    ("missing database", lambda t: str(t / "nope"), ["db", "info", "{}"], ["does not exist"]),
    ("a file, not a database", lambda t: (t / "f").write_text("x") and str(t / "f"), ["db", "info", "{}"],
     ["is a file"]),
    ("a directory without a database", lambda t: (t / "d").mkdir() or str(t / "d"), ["sessions", "list", "--db", "{}"],
     ["no data.mdb"]),
    ("a node directory as a database", lambda t: _node(t), ["db", "info", "{}"],
     ["node directory", "--cbdir"]),
    ("an old schema version", lambda t: _old(t), ["sessions", "list", "--db", "{}"], ["cfxstore migrate up"]),
    ("a newer schema version", lambda t: _new(t), ["events", "list", "--topic", "a", "--db", "{}"],
     ["newer"]),
    ("malformed config.json", lambda t: _broken_config(t, '{"version": 2,\n'), ["router", "check", "--cbdir", "{}"],
     ["config.json", "not valid JSON", "line 2"]),
    ("malformed config.json", lambda t: _broken_config(t, "[1,"), ["router", "add-principal", "--cbdir", "{}",
                                                                   "--role", "user", "a"], ["config.json", "JSON"]),
    ("malformed config.json", lambda t: _broken_config(t, "{"), ["router", "revoke", "--cbdir", "{}", "a"],
     ["config.json"]),
    ("malformed config.json", lambda t: _broken_config(t, "{"), ["sessions", "list", "--cbdir", "{}"],
     ["config.json"]),
    ("config of the wrong kind", lambda t: _broken_config(t, "[]"), ["router", "check", "--cbdir", "{}"],
     ["config.json", "expected an object"]),
    ("config.json is a directory", lambda t: _config_dir(t), ["router", "check", "--cbdir", "{}"],
     ["config.json", "directory"]),
    ("a config typo", lambda t: _typo(t), ["router", "check", "--cbdir", "{}"], ["config.json", "cookie"]),
    ("missing node directory", lambda t: str(t / "none"), ["router", "add-principal", "--cbdir", "{}",
                                                           "--role", "user", "a"], ["no node directory"]),
    ("missing node directory", lambda t: str(t / "none"), ["events", "subscriptions", "--cbdir", "{}"],
     ["no node directory"]),
    ("an unknown role", lambda t: _node(t), ["router", "add-principal", "--cbdir", "{}", "--role", "boss", "a"],
     ["role 'boss'", "config.json"]),
    ("an unknown realm", lambda t: _node(t), ["router", "add-principal", "--cbdir", "{}", "--realm", "r9",
                                              "--role", "user", "a"], ["realm 'r9'"]),
    ("a node with no cfxstore database", lambda t: _no_store(t), ["cookies", "list", "--cbdir", "{}"],
     ["uses no cfxstore database"]),
    ("--cbdir and a path", lambda t: _node(t), ["db", "info", "x", "--cbdir", "{}"], ["not both"]),
    ("a time nobody can read", lambda t: str(t), ["sessions", "list", "--since", "yesterday", "--db", "{}"],
     ["'yesterday' is not a time", "ISO 8601"]),
]


def _old(t: Path) -> str:
    path = str(t / "old")
    populate(path)
    set_version(path, 1)
    return path


def _new(t: Path) -> str:
    path = str(t / "new")
    populate(path)
    set_version(path, 999)
    return path


def _config_dir(t: Path) -> str:
    (t / "n" / "config.json").mkdir(parents=True)
    return str(t / "n")


def _typo(t: Path) -> str:
    cbdir = _node(t)
    config = json.loads(Path(cbdir, "config.json").read_text())
    config["workers"][0]["transports"][0]["cookie"]["store"]["maxsise"] = 1
    Path(cbdir, "config.json").write_text(json.dumps(config))
    return cbdir


def _no_store(t: Path) -> str:
    cbdir = t / "plain"
    cbdir.mkdir()
    (cbdir / "config.json").write_text(json.dumps({"version": 2, "controller": {}, "workers": []}))
    return str(cbdir)


@pytest.mark.parametrize("what,make,command,words", CASES, ids=[f"{c[0]}: {' '.join(c[2][:2])}" for c in CASES])
def test_broken_input_gives_one_error_line(run, tmp_path, what, make, command, words):
    target = make(tmp_path)
    # In-process with catch_exceptions=False: any exception that escapes fails the test.
    result = run(*[a.replace("{}", target) for a in command])
    assert result.exit_code in (1, 2), result.output
    lines = result.stderr.strip().splitlines()
    error = [line for line in lines if "Error:" in line]
    assert "Traceback" not in result.output and len(error) == 1, result.stderr
    for word in words:
        assert word in error[0], error[0]


def test_unexpected_errors_are_one_line_too(run, tmp_path, monkeypatch):
    """Even a fault nobody foresaw ends in one line (its kind named), not a traceback."""
    import cfxstore.node.paths as nodepaths

    def broken(cbdir):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(nodepaths, "load_node_config", broken)
    result = run("sessions", "list", "--cbdir", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: unexpected RuntimeError: disk on fire "
                                     "(run with CFXSTORE_TRACEBACK=1 to see where it came from)")


@pytest.mark.parametrize("error,line", [
    (orm.DatabaseError("database /srv/db is\nlocked"), "Error: database /srv/db is locked"),
    (InvalidArgument("Principal.authid: at most 255 UTF-8 bytes, got 300"),
     "Error: Principal.authid: at most 255 UTF-8 bytes, got 300"),
    (ValueError("bad"), "Error: unexpected ValueError: bad (run with CFXSTORE_TRACEBACK=1 to see where it came from)"),
], ids=["orm.Error", "cfxstore.Error", "another ValueError"])
def test_errors_of_orm_and_cfxstore_are_their_message_on_one_line(run, tmp_path, monkeypatch, error, line):
    import cfxstore.node.paths as nodepaths

    def failing(cbdir):
        raise error

    monkeypatch.setattr(nodepaths, "load_node_config", failing)
    result = run("sessions", "list", "--cbdir", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.strip() == line


def test_router_start_on_a_taken_port_fails_in_one_line_and_creates_no_principal(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cbdir = _node(tmp_path, port=port)
        result = subprocess_cli("router", "start", "--cbdir", cbdir)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"Error: port {port} on 127.0.0.1 is in use by another process; stop that "
                                     f"process or change the port in {cbdir}/config.json")
    assert "Traceback" not in result.stdout + result.stderr
    assert not os.path.exists(os.path.join(cbdir, "cfxstore-db")), "no principal (nor database) is created"


def test_router_start_on_an_old_database_says_to_migrate(tmp_path):
    cbdir = _node(tmp_path, port=free_port())
    populate(os.path.join(cbdir, "cfxstore-db"))
    set_version(os.path.join(cbdir, "cfxstore-db"), 1)
    result = subprocess_cli("router", "start", "--cbdir", cbdir)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: database ") and "cfxstore migrate up" in line


def test_router_start_with_a_config_typo_names_the_key_without_a_crossbar_traceback(tmp_path):
    cbdir = _typo(tmp_path)
    result = subprocess_cli("router", "start", "--cbdir", cbdir)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "config.json" in line and "maxsise" in line


@pytest.mark.parametrize("command", [["principals", "add", "bob", "--role", "user"], ["principals", "passwd", "bob"]])
def test_principals_check_the_database_before_asking_for_a_secret(run, tmp_path, command):
    result = run(*command, "--db", str(tmp_path / "missing"))  # no input: a prompt would abort instead
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: no database at {tmp_path / 'missing'} (the path does not exist)"
