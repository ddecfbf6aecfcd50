"""CredentialService: WAMP-CRA keeps the PBKDF2-derived key, never the password."""

import pytest
from autobahn.wamp.auth import compute_wcs, derive_key

from cfxstore.credentials.hashing import wampcra_key


CHALLENGE = b'{"authid": "alice", "nonce": "8b1d", "timestamp": "2025-01-01T00:00:00Z"}'


def client_signature(password, cra):
    """What an Autobahn client sends: it derives the key from the salt in the CHALLENGE."""
    key = derive_key(password, cra["salt"], cra["iterations"], cra["keylen"])
    return compute_wcs(key, CHALLENGE)


def test_challenge_signed_with_the_password_verifies_against_the_stored_key(svc, principals, alice):
    principals.set_secret(alice.oid, "wampcra", "pa55word", iterations=100, keylen=32)
    cra = svc.get_wampcra("realm1", "alice")
    assert compute_wcs(cra["secret"].encode("ascii"), CHALLENGE) == client_signature("pa55word", cra)


def test_challenge_signed_with_a_wrong_password_does_not_verify(svc, principals, alice):
    principals.set_secret(alice.oid, "wampcra", "pa55word", iterations=100)
    cra = svc.get_wampcra("realm1", "alice")
    assert compute_wcs(cra["secret"].encode("ascii"), CHALLENGE) != client_signature("pa55w0rd", cra)


def test_stored_secret_is_the_derived_key_not_the_password(svc, principals, alice):
    principals.set_secret(alice.oid, "wampcra", "pa55word", salt="NaCl", iterations=100, keylen=32)
    cra = svc.get_wampcra("realm1", "alice")
    assert cra["secret"] == derive_key("pa55word", "NaCl", 100, 32).decode("ascii") != "pa55word"


def test_get_wampcra_describes_the_principal(svc, principals, alice):
    principals.set_secret(alice.oid, "wampcra", "pa55word", salt="NaCl", iterations=100, keylen=16)
    cra = svc.get_wampcra("realm1", "alice")
    assert {k: v for k, v in cra.items() if k != "secret"} == {
        "salt": "NaCl", "iterations": 100, "keylen": 16,
        "role": "user", "authid": "alice", "realm": "realm1", "extra": {"tier": "gold"},
    }


def test_salt_is_random_when_not_given(svc, principals, alice):
    bob = principals.create(realm="realm1", authid="bob", role="user")
    principals.set_secret(alice.oid, "wampcra", "same", iterations=10)
    principals.set_secret(bob.oid, "wampcra", "same", iterations=10)
    a, b = svc.get_wampcra("realm1", "alice"), svc.get_wampcra("realm1", "bob")
    assert a["salt"] != b["salt"] and a["secret"] != b["secret"]


def test_default_parameters_are_owasp_2023(svc, principals, alice):
    principals.set_secret(alice.oid, "wampcra", "pa55word")
    cra = svc.get_wampcra("realm1", "alice")
    assert (cra["iterations"], cra["keylen"]) == (600_000, 32)


def test_default_iterations_are_configurable(db, hasher, alice):
    from cfxstore.credentials import CredentialService
    from cfxstore.management import Management

    costly = CredentialService(db, hasher=hasher, wampcra_iterations=5000)
    Management(db, credentials=costly).principals.set_secret(alice.oid, "wampcra", "pa55word")
    cra = CredentialService(db, hasher=hasher).get_wampcra("realm1", "alice")
    assert cra["iterations"] == 5000
    assert cra["secret"] == derive_key("pa55word", cra["salt"], 5000, 32).decode("ascii")


def test_keys_derived_with_1000_iterations_keep_working(svc, principals, alice):
    principals.set_secret(alice.oid, "wampcra", "pa55word", iterations=1000)
    cra = svc.get_wampcra("realm1", "alice")
    assert cra["iterations"] == 1000
    assert compute_wcs(cra["secret"].encode("ascii"), CHALLENGE) == client_signature("pa55word", cra)


def test_unknown_authid_has_no_wampcra(svc):
    assert svc.get_wampcra("realm1", "nobody") is None


def test_ticket_only_principal_has_no_wampcra(svc, principals, alice):
    principals.set_secret(alice.oid, "ticket", "t")
    assert svc.get_wampcra("realm1", "alice") is None


@pytest.mark.parametrize("secret, salt, iterations, keylen", [
    ("secret", "salt", 1000, 32), ("pässwörd ✓", "saltz", 10, 16), ("x" * 200, "s" * 64, 3, 64)])
def test_the_stored_key_is_the_one_autobahn_clients_derive(secret, salt, iterations, keylen):
    assert wampcra_key(secret, salt, iterations, keylen) == derive_key(secret, salt, iterations, keylen).decode("ascii")


def test_a_loaded_decoy_key_makes_decoy_challenges_write_nothing(db, svc):
    from cfxstore.credentials.service import CredentialService

    svc.load_decoy_key()                       # what a router does in a thread when it starts
    written = db.stats()["last_txnid"]
    fresh = CredentialService(db)              # another worker on the same database
    fresh.load_decoy_key()                     # read, not written again
    first = fresh.wampcra_decoy("realm1", "ghost", role="user")
    assert fresh.scram_decoy("realm1", "ghost")["salt"]
    assert db.stats()["last_txnid"] == written  # no login of an unknown authid writes
    assert svc.wampcra_decoy("realm1", "ghost", role="user")["salt"] == first["salt"]
