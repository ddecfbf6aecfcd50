"""Byte limits of names, and which hash stores which ticket."""

import pytest
from argon2 import PasswordHasher, Type

from cfxstore.credentials import CredentialService, InvalidName
from cfxstore.credentials.hashing import FAST_TAG, TicketHasher
from cfxstore.credentials.service import MAX_AUTHID_BYTES, MAX_REALM_BYTES


def stored(svc, db, authid="alice", realm="realm1"):
    with db.begin() as txn:
        cred = svc.schema.credentials.get_by_index(txn, "idx_credentials_by_auth", ("ticket", realm, authid))
    return cred.authconfig["hash"]


def test_longest_names_in_four_byte_characters_fit_every_index(svc):
    realm = "\U0001F600" * (MAX_REALM_BYTES // 4)
    authid = "\U0001F600" * (MAX_AUTHID_BYTES // 4)
    svc.add_principal(realm=realm, authid=authid, role="user")
    svc.set_ticket(realm, authid, "t")
    svc.set_wampcra(realm, authid, "pw", iterations=10)
    assert svc.verify_ticket(realm, authid, "t").authid == authid
    assert svc.get_wampcra(realm, authid)["authid"] == authid


@pytest.mark.parametrize("field,kw", [
    ("authid", {"authid": "é" * 128}),            # 128 characters, 256 bytes
    ("realm", {"realm": "r" * (MAX_REALM_BYTES + 1)}),
    ("role", {"role": "\U0001F600" * 64}),
])
def test_names_over_their_byte_limit_are_refused_naming_the_field(svc, db, field, kw):
    args = {"realm": "realm1", "authid": "alice", "role": "user", **kw}
    with pytest.raises(InvalidName, match=f"Principal.{field}: at most .* UTF-8 bytes"):
        svc.add_principal(**args)
    assert svc.list_principals() == []


def test_lookups_of_oversized_names_find_nothing_instead_of_failing(svc):
    assert svc.verify_ticket("realm1", "x" * 600, "t") is None
    assert svc.get_wampcra("r" * 600, "alice") is None
    assert svc.ticket_verifier("realm1", "x" * 600) is None


def test_generated_ticket_is_stored_with_the_fast_tagged_hash(svc, db, alice):
    ticket = svc.generate_ticket("realm1", "alice")
    assert len(ticket) >= 22
    assert stored(svc, db).startswith(FAST_TAG) and ticket not in stored(svc, db)
    assert svc.verify_ticket("realm1", "alice", ticket) == alice
    assert svc.verify_ticket("realm1", "alice", ticket + "x") is None
    assert not svc.ticket_verifier("realm1", "alice").slow


def test_chosen_ticket_is_stored_with_argon2id(svc, db, alice):
    svc.set_ticket("realm1", "alice", "my password")
    assert stored(svc, db).startswith("$argon2id$")
    assert svc.ticket_verifier("realm1", "alice").slow


def test_equal_generated_tickets_have_different_hashes(svc, db, alice):
    svc.add_principal(realm="realm1", authid="bob", role="user")
    ticket = "A" * 32
    svc.set_ticket("realm1", "alice", ticket, generated=True)
    svc.set_ticket("realm1", "bob", ticket, generated=True)
    assert stored(svc, db) != stored(svc, db, "bob")


def test_short_tokens_are_not_accepted_as_generated(svc, alice):
    with pytest.raises(ValueError, match="128 random bits"):
        svc.set_ticket("realm1", "alice", "short", generated=True)
    with pytest.raises(ValueError, match="16 random bytes"):
        svc.generate_ticket("realm1", "alice", nbytes=8)


def test_default_argon2id_cost_is_owasps(db):
    hasher = CredentialService(db)._hasher
    assert (hasher.memory_cost, hasher.time_cost, hasher.parallelism) == (19456, 2, 1)


@pytest.mark.parametrize("bad", [FAST_TAG + "x", FAST_TAG + "a$b$c", FAST_TAG + "!!$!!", "$argon2id$garbage", ""])
def test_malformed_stored_forms_never_verify(bad):
    assert TicketHasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)).verify(bad, "x") \
        is False
