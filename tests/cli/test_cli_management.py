"""``cfxstore realms|roles|permissions``: the operator's view of what the authorizer reads."""

from __future__ import annotations

import pytest

from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.management.authorizer import StoreAuthorizer
from cli_helpers import subprocess_cli


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "mdb")


def _setup(run, path):
    for args in (("realms", "add", "realm1"), ("roles", "add", "app"), ("realms", "add-role", "realm1", "app"),
                 ("permissions", "add", "com.example.", "--role", "app", "--match", "prefix",
                  "--allow", "call,subscribe", "--disclose", "caller")):
        result = run(*args, "--db", path)
        assert result.exit_code == 0, result.output


def test_commands_build_what_the_authorizer_answers_from(run, path):
    _setup(run, path)
    with open_database(path) as db:
        authz = StoreAuthorizer(db)
        assert authz.authorize("realm1", "app", "com.example.add", "call") == {"allow": True, "cache": False,
                                                                               "disclose": True}
        assert authz.authorize("realm1", "app", "com.example.add", "register")["allow"] is False
    result = run("permissions", "update", "com.example.", "--role", "app", "--allow", "none", "--db", path)
    assert result.exit_code == 0, result.output
    with open_database(path) as db:
        assert StoreAuthorizer(db).authorize("realm1", "app", "com.example.add", "call")["allow"] is False


def test_json_output_is_the_wire_form(run, path):
    _setup(run, path)
    realms = run.json("realms", "list", "--db", path)
    assert [r["name"] for r in realms["items"]] == ["realm1"] and realms["next"] is None
    role = run.json("roles", "show", "app", "--db", path)
    assert role["realms"] == ["realm1"] and role["permissions"][0]["uri"] == "com.example."
    perms = run.json("permissions", "list", "--role", "app", "--db", path)
    assert perms["items"][0]["allow_subscribe"] is True and perms["items"][0]["created"].endswith("Z")


def test_listings_page_with_cursors(run, path):
    for i in range(5):
        assert run("roles", "add", f"r{i}", "--db", path).exit_code == 0
    names, after = [], []
    while True:
        page = run.json("roles", "list", "--limit", "2", *after, "--db", path)
        names += [r["name"] for r in page["items"]]
        if page["next"] is None:
            break
        after = ["--after", page["next"]]
    assert names == [f"r{i}" for i in range(5)]


def test_tables_for_people(run, path):
    _setup(run, path)
    out = run("permissions", "list", "--role", "app", "--db", path).output
    assert "com.example." in out and "call,subscribe" in out and "prefix" in out


@pytest.mark.parametrize("args, message", [
    (("roles", "add", "two words"), "name"),
    (("permissions", "add", "a.", "--role", "app", "--allow", "fly"), "fly"),
    (("permissions", "add", "a.", "--role", "ghost"), "ghost"),
    (("permissions", "add", "com.example.", "--role", "app"), "already exists"),
    (("realms", "add-role", "realm1", "ghost"), "ghost"),
    (("roles", "remove", "app", "--yes"), "referred to"),
    (("realms", "show", "nowhere"), "nowhere"),
    (("permissions", "update", "com.example.", "--role", "app"), "nothing to change"),
    (("roles", "list", "--after", "garbage!"), "after"),
])
def test_bad_input_is_refused_clearly_and_writes_nothing(run, path, args, message):
    _setup(run, path)
    with open_database(path) as db:
        before = _snapshot(Management(db))
    result = run(*args, "--db", path)
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    with open_database(path) as db:
        assert _snapshot(Management(db)) == before


def _snapshot(m: Management) -> list:
    return [repr(c.list(limit=1000).items) for c in (m.arealms, m.roles, m.permissions, m.arealm_roles)]


def test_removing_a_realm_then_the_role(run, path):
    _setup(run, path)
    assert run("realms", "remove", "realm1", "--yes", "--db", path).exit_code == 0
    assert run("roles", "remove", "app", "--yes", "--db", path).exit_code == 0
    with open_database(path) as db:
        assert Management(db).permissions.list().items == []


def test_as_a_real_process(path):
    result = subprocess_cli("roles", "add", "proc", "--json", "--db", path)
    assert result.returncode == 0, result.stderr
    result = subprocess_cli("roles", "list", "--json", "--db", path)
    assert '"proc"' in result.stdout


def test_principals_show_and_update(run, path):
    _setup(run, path)
    assert run("principals", "add", "bob", "--role", "user", "--password-stdin", "--db", path,
               input="bobs-ticket\n").exit_code == 0
    shown = run.json("principals", "show", "bob", "--db", path)
    assert shown["role"] == "user" and shown["secrets"] == ["ticket"] and "bobs-ticket" not in str(shown)
    updated = run.json("principals", "update", "bob", "--role", "app", "--extra", '{"tier": 2}', "--db", path)
    with open_database(path) as db:
        role = Management(db).roles.get_by("app")
    assert updated["role"] == "app" and updated["role_oid"] == str(role.oid) and updated["extra"] == {"tier": 2}
    result = run("principals", "update", "bob", "--extra", "{not json", "--db", path)
    assert result.exit_code != 0 and "--extra" in result.output
    result = run("principals", "show", "nobody", "--db", path)
    assert result.exit_code != 0 and "nobody" in result.output
