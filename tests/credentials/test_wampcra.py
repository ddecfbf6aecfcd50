"""CredentialService: WAMP-CRA keeps the PBKDF2-derived key, never the password."""

import pytest
from autobahn.wamp.auth import compute_wcs, derive_key

from cfxstore.credentials import PrincipalNotFound

CHALLENGE = b'{"authid": "alice", "nonce": "8b1d", "timestamp": "2025-01-01T00:00:00Z"}'


def client_signature(password, cra):
    """What an Autobahn client sends: it derives the key from the salt in the CHALLENGE."""
    key = derive_key(password, cra["salt"], cra["iterations"], cra["keylen"])
    return compute_wcs(key, CHALLENGE)


def test_challenge_signed_with_the_password_verifies_against_the_stored_key(svc, alice):
    svc.set_wampcra("realm1", "alice", "pa55word", iterations=100, keylen=32)
    cra = svc.get_wampcra("realm1", "alice")
    assert compute_wcs(cra["secret"].encode("ascii"), CHALLENGE) == client_signature("pa55word", cra)


def test_challenge_signed_with_a_wrong_password_does_not_verify(svc, alice):
    svc.set_wampcra("realm1", "alice", "pa55word", iterations=100)
    cra = svc.get_wampcra("realm1", "alice")
    assert compute_wcs(cra["secret"].encode("ascii"), CHALLENGE) != client_signature("pa55w0rd", cra)


def test_stored_secret_is_the_derived_key_not_the_password(svc, alice):
    svc.set_wampcra("realm1", "alice", "pa55word", salt="NaCl", iterations=100, keylen=32)
    cra = svc.get_wampcra("realm1", "alice")
    assert cra["secret"] == derive_key("pa55word", "NaCl", 100, 32).decode("ascii") != "pa55word"


def test_get_wampcra_describes_the_principal(svc, alice):
    svc.set_wampcra("realm1", "alice", "pa55word", salt="NaCl", iterations=100, keylen=16)
    cra = svc.get_wampcra("realm1", "alice")
    assert {k: v for k, v in cra.items() if k != "secret"} == {
        "salt": "NaCl", "iterations": 100, "keylen": 16,
        "role": "user", "authid": "alice", "realm": "realm1", "extra": {"tier": "gold"},
    }


def test_salt_is_random_when_not_given(svc, alice):
    svc.add_principal(realm="realm1", authid="bob", role="user")
    svc.set_wampcra("realm1", "alice", "same", iterations=10)
    svc.set_wampcra("realm1", "bob", "same", iterations=10)
    a, b = svc.get_wampcra("realm1", "alice"), svc.get_wampcra("realm1", "bob")
    assert a["salt"] != b["salt"] and a["secret"] != b["secret"]


def test_default_parameters_are_owasp_2023(svc, alice):
    svc.set_wampcra("realm1", "alice", "pa55word")
    cra = svc.get_wampcra("realm1", "alice")
    assert (cra["iterations"], cra["keylen"]) == (600_000, 32)


def test_default_iterations_are_configurable(db, hasher, alice):
    from cfxstore.credentials import CredentialService

    CredentialService(db, hasher=hasher, wampcra_iterations=5000).set_wampcra("realm1", "alice", "pa55word")
    cra = CredentialService(db, hasher=hasher).get_wampcra("realm1", "alice")
    assert cra["iterations"] == 5000
    assert cra["secret"] == derive_key("pa55word", cra["salt"], 5000, 32).decode("ascii")


def test_keys_derived_with_1000_iterations_keep_working(svc, alice):
    svc.set_wampcra("realm1", "alice", "pa55word", iterations=1000)
    cra = svc.get_wampcra("realm1", "alice")
    assert cra["iterations"] == 1000
    assert compute_wcs(cra["secret"].encode("ascii"), CHALLENGE) == client_signature("pa55word", cra)


def test_unknown_authid_has_no_wampcra(svc):
    assert svc.get_wampcra("realm1", "nobody") is None


def test_ticket_only_principal_has_no_wampcra(svc, alice):
    svc.set_ticket("realm1", "alice", "t")
    assert svc.get_wampcra("realm1", "alice") is None


def test_wampcra_for_unknown_principal_is_refused(svc):
    with pytest.raises(PrincipalNotFound):
        svc.set_wampcra("realm1", "nobody", "pw")


@pytest.mark.parametrize("kw", [{"iterations": 0}, {"iterations": 1.5}, {"keylen": 8}, {"keylen": 65},
                                {"salt": ""}])
def test_bad_derivation_parameters_are_refused(svc, alice, kw):
    with pytest.raises(ValueError):
        svc.set_wampcra("realm1", "alice", "pw", **kw)
