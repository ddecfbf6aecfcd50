"""Names at their byte limits fit every index, and which hash stores which ticket."""

import secrets

import pytest
from argon2 import PasswordHasher, Type

from cfxstore.credentials import CredentialService
from cfxstore.credentials.hashing import FAST_TAG, TicketHasher
from cfxstore.credentials.service import MAX_AUTHID_BYTES, MAX_REALM_BYTES
from cfxstore.errors import InvalidArgument


def stored(svc, db, authid="alice", realm="realm1"):
    with db.begin() as txn:
        cred = svc.schema.credentials.get_by_index(txn, "idx_credentials_by_auth", ("ticket", realm, authid))
    return cred.authconfig["hash"]


def test_longest_names_in_four_byte_characters_fit_every_index(svc, principals):
    realm = "\U0001F600" * (MAX_REALM_BYTES // 4)
    authid = "\U0001F600" * (MAX_AUTHID_BYTES // 4)
    principal = principals.create(realm=realm, authid=authid, role="user", ticket="t")
    principals.set_secret(principal.oid, "wampcra", "pw", iterations=10)
    assert svc.verify_ticket(realm, authid, "t").authid == authid
    assert svc.get_wampcra(realm, authid)["authid"] == authid


def test_lookups_of_oversized_names_find_nothing_instead_of_failing(svc):
    assert svc.verify_ticket("realm1", "x" * 600, "t") is None
    assert svc.get_wampcra("r" * 600, "alice") is None
    assert svc.ticket_verifier("realm1", "x" * 600) is None


def test_generated_ticket_is_stored_with_the_fast_tagged_hash(svc, db, principals, alice):
    ticket = secrets.token_urlsafe(24)
    principals.set_secret(alice.oid, "ticket", ticket, generated=True)
    assert stored(svc, db).startswith(FAST_TAG) and ticket not in stored(svc, db)
    assert svc.verify_ticket("realm1", "alice", ticket) == alice
    assert svc.verify_ticket("realm1", "alice", ticket + "x") is None
    assert not svc.ticket_verifier("realm1", "alice").slow


def test_chosen_ticket_is_stored_with_argon2id(svc, db, principals, alice):
    principals.set_secret(alice.oid, "ticket", "my password")
    assert stored(svc, db).startswith("$argon2id$")
    assert svc.ticket_verifier("realm1", "alice").slow


def test_equal_generated_tickets_have_different_hashes(svc, db, principals, alice):
    ticket = "A" * 32
    principals.create(realm="realm1", authid="bob", role="user", ticket=ticket, generated=True)
    principals.set_secret(alice.oid, "ticket", ticket, generated=True)
    assert stored(svc, db) != stored(svc, db, "bob")


def test_short_tokens_are_not_accepted_as_generated(svc, principals, alice):
    with pytest.raises(InvalidArgument, match="128 random bits"):
        principals.set_secret(alice.oid, "ticket", "short", generated=True)
    assert svc.ticket_verifier("realm1", "alice") is None


def test_default_argon2id_cost_is_owasps(db):
    hasher = CredentialService(db)._hasher
    assert (hasher.memory_cost, hasher.time_cost, hasher.parallelism) == (19456, 2, 1)


@pytest.mark.parametrize("bad", [FAST_TAG + "x", FAST_TAG + "a$b$c", FAST_TAG + "!!$!!", "$argon2id$garbage", ""])
def test_malformed_stored_forms_never_verify(bad):
    assert TicketHasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)).verify(bad, "x") \
        is False
