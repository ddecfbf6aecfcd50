"""WAMP-SCRAM credentials: the stored form, its derivation, and what is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from autobahn.wamp.auth import derive_scram_credential

from cfxstore.credentials import scram
from cfxstore.errors import InvalidArgument

# RFC 7677 section 3: SCRAM-SHA-256 of user "user", password "pencil" (PBKDF2, 4096 rounds).
RFC_SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
RFC_CLIENT_NONCE, RFC_SERVER_NONCE = "rOprNGfwEbeRWgbNEkqO", "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
RFC_AUTH_MESSAGE = (f"n=user,r={RFC_CLIENT_NONCE},r={RFC_SERVER_NONCE},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
                    f"c=biws,r={RFC_SERVER_NONCE}").encode()
RFC_CLIENT_PROOF = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
RFC_SERVER_SIGNATURE = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def test_pbkdf2_keys_answer_rfc7677s_exchange():
    stored, server = scram.keys(scram.salted_password("pencil", "pbkdf2", RFC_SALT, 4096, 0))
    assert base64.b64encode(hmac.new(server, RFC_AUTH_MESSAGE, hashlib.sha256).digest()).decode() \
        == RFC_SERVER_SIGNATURE
    # The router recovers ClientKey from the proof and checks its hash against StoredKey.
    proof = base64.b64decode(RFC_CLIENT_PROOF)
    client_key = bytes(a ^ b for a, b in zip(hmac.new(stored, RFC_AUTH_MESSAGE, hashlib.sha256).digest(), proof))
    assert hashlib.sha256(client_key).digest() == stored


def test_argon2id_credential_is_what_autobahn_derives_for_the_same_password_salt_and_cost():
    salt = bytes(range(16))
    # Autobahn's helper derives with 4096 passes of 512 KiB, which is below the minimum for new
    # credentials: compare the derivation itself at that cost.
    theirs = derive_scram_credential("someone@example.com", "secret password", salt=salt)
    stored, server = scram.keys(scram.salted_password("secret password", "argon2id-13", salt, 4096, 512))
    assert (stored.hex(), server.hex()) == (theirs["stored-key"], theirs["server-key"])


def test_derive_keeps_salt_costs_and_keys_never_the_password():
    config = scram.derive("secret password")
    assert sorted(config) == ["iterations", "kdf", "memory", "salt", "server-key", "stored-key"]
    assert (config["kdf"], config["iterations"], config["memory"]) == ("argon2id-13", 2, 19456)
    assert "secret password" not in repr(config)
    stored, server = scram.keys(scram.salted_password("secret password", "argon2id-13",
                                                      bytes.fromhex(config["salt"]), 2, 19456))
    assert (config["stored-key"], config["server-key"]) == (stored.hex(), server.hex())


def test_each_derivation_gets_its_own_salt():
    assert scram.derive("same")["salt"] != scram.derive("same")["salt"]


def test_pbkdf2_credential():
    config = scram.derive("secret password", kdf="pbkdf2")
    assert (config["kdf"], config["iterations"], config["memory"]) == ("pbkdf2", 600_000, 0)


@pytest.mark.parametrize("options, field", [
    ({"iterations": 1}, "iterations"),                       # argon2id: 19 MiB x 1 pass
    ({"memory": 4096, "iterations": 10}, "memory"),          # argon2id: below 7 MiB
    ({"kdf": "pbkdf2", "iterations": 100_000}, "iterations"),
    ({"kdf": "pbkdf2", "memory": 512}, "memory"),
    ({"kdf": "scrypt"}, "kdf"),
    ({"iterations": True}, "iterations"),
])
def test_parameters_below_the_minimum_are_refused_naming_the_field(options, field):
    with pytest.raises(InvalidArgument, match=rf"^{field}: "):
        scram.derive("secret password", **options)


def test_empty_password_is_refused():
    with pytest.raises(InvalidArgument, match="^password: "):
        scram.derive("")


def test_credential_made_elsewhere_is_checked_and_kept_as_it_is():
    theirs = derive_scram_credential("someone@example.com", "secret password")
    assert scram.check_stored(dict(theirs)) == theirs
    upper = {**theirs, "stored-key": theirs["stored-key"].upper()}
    assert scram.check_stored(upper)["stored-key"] == theirs["stored-key"]


@pytest.mark.parametrize("change, field", [
    ({"stored-key": "ab" * 16}, "stored-key"),
    ({"server-key": "not hex"}, "server-key"),
    ({"salt": ""}, "salt"),
    ({"kdf": "md5"}, "kdf"),
    ({"iterations": "4096"}, "iterations"),
    ({"secret": "plaintext"}, "unknown key"),
])
def test_malformed_credentials_made_elsewhere_are_refused_naming_the_field(change, field):
    theirs = derive_scram_credential("someone@example.com", "secret password")
    with pytest.raises(InvalidArgument, match=field):
        scram.check_stored({**theirs, **change})


def test_decoy_salt_follows_its_seed_and_no_two_decoys_share_keys():
    a, b = scram.decoy(b"s" * 32), scram.decoy(b"s" * 32)
    assert a["salt"] == b["salt"] == (b"s" * 16).hex()
    assert a["stored-key"] != b["stored-key"]
    assert scram.decoy(b"t" * 32)["salt"] != a["salt"]


def test_service_decoy_is_stable_per_authid(svc):
    assert svc.scram_decoy("realm1", "ghost")["salt"] == svc.scram_decoy("realm1", "ghost")["salt"]
    assert svc.scram_decoy("realm1", "ghost")["salt"] != svc.scram_decoy("realm1", "other")["salt"]


def test_principal_with_scram_password_is_found_with_its_keys(principals, svc):
    principals.create(realm="realm1", authid="carol", role="user", scram="secret password")
    principal, config = svc.get_scram("realm1", "carol")
    assert principal.authid == "carol" and config["kdf"] == "argon2id-13"
    assert svc.get_scram("realm1", "nobody") is None


def test_refused_scram_parameters_write_nothing(principals, svc):
    with pytest.raises(InvalidArgument, match="^scram: iterations: "):
        principals.create(realm="realm1", authid="dave", role="user", scram="pw",
                          scram_options={"iterations": 1})
    assert svc.get_principal("realm1", "dave") is None
