"""CredentialService: tickets are stored as argon2id hashes and verified in constant time."""

import pytest
from argon2 import PasswordHasher, Type

from cfxstore.credentials import CredentialService


def stored_ticket_hash(svc, db, realm="realm1", authid="alice"):
    with db.begin() as txn:
        cred = svc.schema.credentials.get_by_index(txn, "idx_credentials_by_auth", ("ticket", realm, authid))
    return cred.authconfig["hash"]


def test_right_ticket_returns_the_principal(svc, principals, alice):
    principals.set_secret(alice.oid, "ticket", "s3cret")
    assert svc.verify_ticket("realm1", "alice", "s3cret") == alice


def test_wrong_ticket_returns_none(svc, principals, alice):
    principals.set_secret(alice.oid, "ticket", "s3cret")
    assert svc.verify_ticket("realm1", "alice", "s3cret!") is None


def test_unknown_authid_returns_none(svc, principals, alice):
    principals.set_secret(alice.oid, "ticket", "s3cret")
    assert svc.verify_ticket("realm1", "mallory", "s3cret") is None


def test_ticket_is_bound_to_its_realm(svc, principals, alice):
    principals.create(realm="realm2", authid="alice", role="user")
    principals.set_secret(alice.oid, "ticket", "s3cret")
    assert svc.verify_ticket("realm2", "alice", "s3cret") is None


def test_principal_without_ticket_does_not_verify(svc, alice):
    assert svc.verify_ticket("realm1", "alice", "") is None


class CountingHasher(PasswordHasher):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.verified = []

    def verify(self, hash, password):
        self.verified.append(hash)
        return super().verify(hash, password)


def test_unknown_authid_still_runs_one_argon2_verify(db):
    # Same work as for a known authid, so timing does not reveal which authids exist.
    hasher = CountingHasher(time_cost=1, memory_cost=8, parallelism=1)
    svc = CredentialService(db, hasher=hasher)
    svc.verify_ticket("realm1", "mallory", "guess")
    assert len(hasher.verified) == 1


def test_ticket_is_stored_as_an_argon2id_hash(svc, db, principals, alice):
    principals.set_secret(alice.oid, "ticket", "s3cret")
    stored = stored_ticket_hash(svc, db)
    assert stored.startswith("$argon2id$") and "s3cret" not in stored


def test_setting_a_new_ticket_replaces_the_old(svc, principals, alice):
    principals.set_secret(alice.oid, "ticket", "first")
    principals.set_secret(alice.oid, "ticket", "second")
    assert svc.verify_ticket("realm1", "alice", "first") is None
    assert svc.verify_ticket("realm1", "alice", "second") == alice


def test_non_str_ticket_is_a_type_error(svc, alice):
    with pytest.raises(TypeError, match="ticket"):
        svc.verify_ticket("realm1", "alice", b"s3cret")


def test_stronger_parameters_rehash_on_successful_verify(db, svc, principals, alice):
    principals.set_secret(alice.oid, "ticket", "s3cret")
    stronger = CredentialService(db, hasher=PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    assert stronger.verify_ticket("realm1", "alice", "s3cret") == alice
    assert "t=2" in stored_ticket_hash(svc, db)


def test_default_hasher_is_argon2id(db):
    assert CredentialService(db)._hasher.type is Type.ID


def test_non_argon2id_hasher_is_refused(db):
    with pytest.raises(ValueError, match="argon2id"):
        CredentialService(db, hasher=PasswordHasher(time_cost=1, memory_cost=8, type=Type.I))
