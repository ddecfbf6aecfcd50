"""cfxstore principals add --method cryptosign and principals keys list|add|revoke."""

from __future__ import annotations

from nacl.signing import SigningKey

from cfxstore.credentials.cryptosign import CryptosignKeyring
from cfxstore.database import open_database
from cfxstore.management.wire import iso_to_ns
from cfxstore.timeutil import now_ns

DAY = 86400 * 10**9


def pubkey() -> str:
    return SigningKey.generate().verify_key.encode().hex()


def found(path, key, authid=None):
    with open_database(path, readonly=True) as database:
        match = CryptosignKeyring(database).find("realm1", authid, key)
    return None if match is None else match.principal.authid


def test_add_creates_the_principal_with_its_key_and_asks_for_no_secret(run, db):
    path, _ = db
    key = pubkey()
    result = run("principals", "add", "sensor", "--db", path, "--role", "user", "--method", "cryptosign",
                 "--pubkey", key.upper(), "--label", "factory")
    assert result.exit_code == 0, result.output
    assert key in result.stdout and found(path, key) == "sensor"
    listed = run.json("principals", "keys", "list", "sensor", "--db", path)
    assert [(k["pubkey"], k["label"], k["state"]) for k in listed] == [(key, "factory", "valid")]
    methods = {p["authid"]: p["methods"] for p in run.json("principals", "list", "--db", path)}
    assert methods["sensor"] == ["cryptosign"]


def test_keys_are_added_with_a_window_and_revoked_by_label_one_at_a_time(run, db):
    path, _ = db
    first, second = pubkey(), pubkey()
    run("principals", "add", "dev", "--db", path, "--role", "user", "--method", "cryptosign", "--pubkey", first,
        "--label", "old")
    result = run("principals", "keys", "add", "dev", second, "--db", path, "--label", "new", "--not-after", "+30d")
    assert result.exit_code == 0, result.output
    [old, new] = run.json("principals", "keys", "list", "dev", "--db", path)
    assert abs(iso_to_ns(new["not_after"]) - (now_ns() + 30 * DAY)) < DAY
    result = run("principals", "keys", "revoke", "dev", "old", "--db", path)
    assert result.exit_code == 0 and first in result.stdout
    assert found(path, first) is None and found(path, second) == "dev"
    assert [k["state"] for k in run.json("principals", "keys", "list", "dev", "--db", path)] == ["revoked", "valid"]


def test_bad_input_gets_one_error_line_naming_the_field_and_writes_nothing(run, db):
    path, _ = db
    key = pubkey()
    cases = [
        (("principals", "add", "x", "--db", path, "--role", "user", "--method", "cryptosign"), "--pubkey HEX"),
        (("principals", "add", "x", "--db", path, "--role", "user", "--method", "cryptosign", "--pubkey", "ab"),
         "pubkey: expected 64 hex characters"),
        (("principals", "add", "x", "--db", path, "--role", "user", "--method", "cryptosign", "--pubkey", "ab" * 64),
         "form of a private key"),
        (("principals", "add", "x", "--db", path, "--role", "user", "--method", "cryptosign", "--pubkey", key,
          "--not-after", "someday"), "--not-after"),
        (("principals", "add", "x", "--db", path, "--role", "user", "--pubkey", key), "go with --method cryptosign"),
        (("principals", "keys", "add", "nobody", key, "--db", path), "nobody"),
    ]
    for argv, error in cases:
        result = run(*argv, input="t\n")
        assert result.exit_code in (1, 2) and error in result.output, (argv, result.output)
        assert "Traceback" not in result.output
    assert found(path, key) is None
    assert not any(p["authid"] in ("x", "nobody") for p in run.json("principals", "list", "--db", path))
    run("principals", "add", "y", "--db", path, "--role", "user", "--method", "cryptosign", "--pubkey", key)
    again = run("principals", "keys", "add", "y", key, "--db", path)
    assert again.exit_code == 1 and "already added" in again.output
    unknown = run("principals", "keys", "revoke", "y", "laptop", "--db", path)
    assert unknown.exit_code == 1 and "no unrevoked key labelled 'laptop'" in unknown.output
