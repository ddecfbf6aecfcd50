"""Every command that reads a database or a node directory, against every kind of broken input.

The commands are found by walking the click tree, so a command added later is
covered without being listed here. Each must end in exactly one "Error:" line
(exit status 1 or 2) and never a traceback; nothing may be created where the
input was missing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import click
import pytest
from store_factories import populate, set_version

from cfxstore.cli.main import cli

# Commands these inputs cannot be fed to: `router start` starts (and on a missing directory
# creates) a node, `router init` creates one, `migrate new` reads no database.
SKIP = {("router", "start"), ("router", "init"), ("migrate", "new")}
# Documented exceptions: `db check` reports what it found with status 1 (a report, not an error),
# `router status`/`stop` read only the node's pid file (status 3: not running), and adding a
# first realm or role creates the database, saying so.
REPORTS = {("db", "check"): 1}
PID_FILE_ONLY = {("router", "status"), ("router", "stop")}
CREATES = {("realms", "add"), ("roles", "add")}


def _leaves(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the top group imports its command groups when asked
        command = group.get_command(ctx, name)
        assert command is not None, f"{' '.join(path + (name,))} is listed but cannot be loaded"
        if isinstance(command, click.Group):
            yield from _leaves(command, path + (name,))
        elif path + (name,) not in SKIP:
            yield path + (name,), command


def _filler(param: click.Parameter) -> str:
    return "1" if isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType)) else "x"


def _argv(path: tuple[str, ...], command: click.Command, how: str, target: str) -> list[str] | None:
    """Arguments that hand target to the command as a database (how="db") or node directory ("cbdir")."""
    argv = list(path)
    options = {o for p in command.params if isinstance(p, click.Option) for o in p.opts}
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    db_argument = next((p for p in arguments if p.name in ("path", "db", "src", "database")), None)
    if how == "cbdir":
        if "--cbdir" not in options:
            return None
        argv += ["--cbdir", target]
    elif "--db" in options:
        argv += ["--db", target]
    elif db_argument is None:
        return None
    for p in arguments:
        if p is db_argument and how == "db":
            argv.append(target)
        elif p.required:
            argv.append(_filler(p))
    for p in command.params:
        if isinstance(p, click.Option) and p.required and not p.is_flag:
            argv += [p.opts[0], _filler(p)]
    return argv


def _missing(t: Path) -> str:
    return str(t / "missing")


def _a_file(t: Path) -> str:
    (t / "file").write_text("not a database")
    return str(t / "file")


def _old(t: Path) -> str:
    populate(str(t / "old"))
    set_version(str(t / "old"), 1)
    return str(t / "old")


def _newer(t: Path) -> str:
    populate(str(t / "newer"))
    set_version(str(t / "newer"), 999)
    return str(t / "newer")


def _malformed_config(t: Path) -> str:
    (t / "node").mkdir()
    (t / "node" / "config.json").write_text('{"version": 2,\n')
    return str(t / "node")


def _config_not_an_object(t: Path) -> str:
    (t / "node").mkdir()
    (t / "node" / "config.json").write_text(json.dumps([1, 2]))
    return str(t / "node")


DB_INPUTS = {"missing": _missing, "a file": _a_file, "old schema": _old, "newer schema": _newer}
CBDIR_INPUTS = {"missing": _missing, "a file": _a_file, "malformed config": _malformed_config,
                "config not an object": _config_not_an_object}
CASES = [(how, name, path, command) for how, inputs in (("db", DB_INPUTS), ("cbdir", CBDIR_INPUTS))
         for path, command in _leaves(cli) for name in inputs if _argv(path, command, how, "") is not None]


def test_the_walk_finds_the_commands_operators_use():
    found = {" ".join(path) for _, _, path, _ in CASES}
    for expected in ("db info", "db check", "sessions list", "events list", "cookies list", "router check",
                     "migrate up", "roles list"):
        assert expected in found, expected


@pytest.mark.parametrize("how,name,path,command", CASES, ids=[f"{' '.join(p)} --{h} {n}" for h, n, p, _ in CASES])
def test_broken_input_gives_one_error_line_and_no_traceback(run, tmp_path, monkeypatch, how, name, path, command):
    inputs = DB_INPUTS if how == "db" else CBDIR_INPUTS
    target = inputs[name](tmp_path)
    monkeypatch.chdir(tmp_path)  # filler arguments ("x") that name paths stay inside the test's directory
    before = sorted(os.listdir(tmp_path))
    result = run(*_argv(path, command, how, target), input="")
    assert "Traceback" not in result.output
    if path in PID_FILE_ONLY and result.exit_code in (0, 3):
        assert name != "a file" and "Error:" not in result.output, result.output
        return
    if path in CREATES and how == "db" and name == "missing":
        assert result.exit_code == 0 and "created a new database" in result.stderr, result.output
        return
    if name in ("missing", "a file") or how == "cbdir":
        assert result.exit_code in (1, 2), result.output  # nothing to work on: always an error
    if result.exit_code and result.exit_code != REPORTS.get(path):
        # Maintenance commands (info, migrate, ...) work on any schema version; others refuse it.
        errors = [line for line in result.stderr.strip().splitlines() if "Error:" in line]
        assert result.exit_code in (1, 2) and len(errors) == 1, result.stderr
    if name == "missing":
        assert sorted(os.listdir(tmp_path)) == before, "nothing is created where the input was missing"
