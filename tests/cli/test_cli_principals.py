"""cfxstore principals: secrets come from a prompt or stdin, never from the command line."""

from __future__ import annotations

import pytest

from cfxstore.cookies.service import CookieService
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database


def verify(path, authid, ticket, realm="realm1"):
    with CredentialService.open(path) as service:
        return service.verify_ticket(realm, authid, ticket) is not None


def test_add_reads_the_ticket_from_a_hidden_prompt(run, db):
    path, _ = db
    result = run("principals", "add", "bob", "--db", path, "--role", "user", input="s3cret\ns3cret\n")
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.stdout
    assert verify(path, "bob", "s3cret")


def test_add_with_password_stdin(run, db):
    path, _ = db
    result = run("principals", "add", "carol", "--db", path, "--role", "user", "--password-stdin",
                 input="from-stdin\n")
    assert result.exit_code == 0
    assert verify(path, "carol", "from-stdin") and not verify(path, "carol", "from-stdin\n")


def test_there_is_no_option_for_a_secret_on_the_command_line(run, db):
    path, _ = db
    for option in ("--password", "--ticket", "--secret"):
        result = run("principals", "add", "x", "--db", path, "--role", "r", option, "pw")
        assert result.exit_code == 2 and "No such option" in result.output


def test_an_empty_secret_is_refused_and_nothing_is_added(run, db):
    path, _ = db
    result = run("principals", "add", "dave", "--db", path, "--role", "user", "--password-stdin", input="\n")
    assert result.exit_code == 1 and "must not be empty" in result.stderr
    with CredentialService.open(path) as service:
        assert service.get_principal("realm1", "dave") is None


def test_add_wampcra_and_list_shows_methods_not_secrets(run, db):
    path, _ = db
    run("principals", "add", "erin", "--db", path, "--role", "user", "--method", "wampcra", "--password-stdin",
        input="cra-secret\n")
    data = run.json("principals", "list", "--db", path)
    assert {p["authid"]: p["methods"] for p in data} == {"alice": ["ticket"], "erin": ["wampcra"]}
    listing = run("principals", "list", "--db", path).stdout
    assert "cra-secret" not in listing and "erin" in listing
    with CredentialService.open(path) as service:
        assert service.get_wampcra("realm1", "erin")["secret"] != "cra-secret"


def test_adding_an_existing_principal_is_refused(run, db):
    path, _ = db
    result = run("principals", "add", "alice", "--db", path, "--role", "x", "--password-stdin", input="pw\n")
    assert result.exit_code == 1 and "already exists" in result.stderr
    assert verify(path, "alice", "alice-secret")


def test_passwd_replaces_the_ticket(run, db):
    path, _ = db
    result = run("principals", "passwd", "alice", "--db", path, input="new-one\nnew-one\n")
    assert result.exit_code == 0
    assert verify(path, "alice", "new-one") and not verify(path, "alice", "alice-secret")
    missing = run("principals", "passwd", "nobody", "--db", path, "--password-stdin", input="x\n")
    assert missing.exit_code == 1 and "no principal 'nobody'" in missing.stderr


def test_a_mistyped_confirmation_is_asked_again(run, db):
    path, _ = db
    result = run("principals", "passwd", "alice", "--db", path, input="one\ntwo\nthree\nthree\n")
    assert result.exit_code == 0
    assert verify(path, "alice", "three")


def test_remove(run, db):
    path, _ = db
    assert run("principals", "remove", "alice", "--db", path, input="n\n").exit_code == 1
    assert run.json("principals", "remove", "alice", "--db", path)["removed"] is True
    assert run.json("principals", "list", "--db", path) == []
    again = run("principals", "remove", "alice", "--db", path, "--yes")
    assert again.exit_code == 1 and "no principal" in again.stderr


def test_add_needs_an_existing_database_unless_create(run, tmp_path):
    path = str(tmp_path / "new")
    result = run("principals", "add", "a", "--db", path, "--role", "r", "--password-stdin", input="pw\n")
    assert result.exit_code == 1 and "does not exist" in result.stderr
    created = run("principals", "add", "a", "--db", path, "--role", "r", "--password-stdin", "--create",
                  input="pw\n")
    assert created.exit_code == 0 and "created a new database" in created.stderr
    assert verify(path, "a", "pw")


@pytest.mark.parametrize("realm", ["realm1", "other"])
def test_realms_keep_principals_apart(run, db, realm):
    path, _ = db
    run("principals", "add", "zed", "--db", path, "--realm", realm, "--role", "r", "--password-stdin", input="pw\n")
    assert [p["authid"] for p in run.json("principals", "list", "--db", path, "--realm", realm)
            if p["authid"] == "zed"] == ["zed"]


def test_disable_ends_the_logins_and_enable_undoes_it(run, db):
    path, _ = db
    with open_database(path) as database:
        cookies = CookieService(database)
        value, _ = cookies.create()
        assert cookies.set_auth(value, "alice", "admin", "ticket", None, "realm1")
    out = run("principals", "disable", "alice", "--db", path)
    assert out.exit_code == 0 and "'alice' on realm 'realm1' disabled; its logins ended" in out.stdout, out.output
    with open_database(path) as database:
        assert CookieService(database).lookup(value) is None
    shown = run.json("principals", "show", "alice", "--db", path)
    assert shown["disabled"].endswith("Z") and shown["secrets"] == ["ticket"]
    assert "disabled" in run("principals", "show", "alice", "--db", path).stdout
    listed = run.json("principals", "list", "--db", path)
    assert [(p["authid"], isinstance(p["disabled"], int)) for p in listed] == [("alice", True)]
    assert shown["disabled"][:19] in run("principals", "list", "--db", path).stdout
    again = run.json("principals", "disable", "alice", "--db", path)
    assert again["disabled"] == shown["disabled"]                     # still the time it was first disabled
    assert "was already disabled" in run("principals", "disable", "alice", "--db", path).stdout
    out = run("principals", "enable", "alice", "--db", path)
    assert out.exit_code == 0 and "'alice' on realm 'realm1' enabled" in out.stdout
    assert run.json("principals", "show", "alice", "--db", path)["disabled"] is None
    assert run.json("principals", "list", "--db", path)[0]["disabled"] is None
    assert verify(path, "alice", "alice-secret")                      # its secret stayed
    assert "was not disabled" in run("principals", "enable", "alice", "--db", path).stdout


@pytest.mark.parametrize("command", ["disable", "enable"])
def test_disable_and_enable_name_an_unknown_principal(run, db, command):
    path, _ = db
    out = run("principals", command, "nobody", "--db", path)
    assert out.exit_code == 1 and "nobody" in out.stderr and "Traceback" not in out.output
