"""Principals' cryptosign keys through their owner, the keyring the router reads, and the API procedures."""

from __future__ import annotations

import json

import pytest
from nacl.signing import SigningKey

from cfxstore.cookies.service import CookieService
from cfxstore.credentials.cryptosign import CryptosignKeyring
from cfxstore.database import open_database
from cfxstore.management import AlreadyExists, InvalidArgument, Management, NotFound
from cfxstore.management.api import procedures
from cfxstore.management.feed import ChangeFeed
from cfxstore.globalschema.schema import GlobalSchema
from cfxstore.mrealm.entities import Principal
from cfxstore.mrealm.schema import CryptosignKeySchema, MrealmSchema
from cfxstore.service import attached
from cfxstore.timeutil import now_ns

HOUR = 3600 * 10**9


def pubkey() -> str:
    return SigningKey.generate().verify_key.encode().hex()


@pytest.fixture
def alice(mgmt):
    return mgmt.principals.create(realm="realm1", authid="alice", role="user")


@pytest.fixture
def keyring(db):
    return CryptosignKeyring(db)


def stored_keys(db) -> dict:
    schema = attached(CryptosignKeySchema, db)
    with db.begin() as txn:
        return dict(schema.cryptosign_keys.select(txn))


def test_a_principal_has_several_keys_each_with_its_label(mgmt, alice):
    first, second = pubkey(), pubkey()
    mgmt.principals.add_key(alice.oid, first, label="laptop")
    mgmt.principals.add_key(alice.oid, second.upper(), label="phone")  # hex in either case, stored lowercase
    assert [(k.pubkey, k.label) for k in mgmt.principals.keys(alice.oid)] == [(first, "laptop"), (second, "phone")]


def test_revoking_one_key_leaves_the_others(mgmt, alice, keyring):
    kept, revoked = pubkey(), pubkey()
    mgmt.principals.add_key(alice.oid, kept, label="laptop")
    mgmt.principals.add_key(alice.oid, revoked, label="phone")
    record = mgmt.principals.revoke_key(alice.oid, "phone")
    assert record.pubkey == revoked and record.revoked is not None
    assert keyring.find("realm1", "alice", revoked) is None
    assert keyring.find("realm1", "alice", kept).pubkey == kept
    # By public key too, and only once.
    mgmt.principals.revoke_key(alice.oid, kept)
    with pytest.raises(InvalidArgument, match="already revoked"):
        mgmt.principals.revoke_key(alice.oid, kept)


def test_the_keyring_finds_a_principal_by_key_or_by_authid_with_one_usable_key(mgmt, alice, keyring):
    key = pubkey()
    mgmt.principals.add_key(alice.oid, key)
    assert keyring.find("realm1", None, key).principal.authid == "alice"
    assert keyring.find("realm1", "alice", None).pubkey == key
    assert keyring.find("realm2", "alice", key) is None             # another realm
    assert keyring.find("realm1", "bob", key) is None               # another authid
    assert keyring.find("realm1", "alice", pubkey()) is None        # a key it does not have
    assert keyring.find("realm1", "alice", "not hex") is None
    assert keyring.find("realm1", None, None) is None
    mgmt.principals.add_key(alice.oid, pubkey())
    assert keyring.find("realm1", "alice", None) is None            # two keys: the client must say which
    assert keyring.find("realm1", "alice", key).pubkey == key


def test_a_key_is_usable_only_within_its_validity_window(mgmt, alice, keyring):
    now = now_ns()
    key = pubkey()
    mgmt.principals.add_key(alice.oid, key, not_before=now + HOUR, not_after=now + 2 * HOUR)
    assert keyring.find("realm1", "alice", key, now=now) is None
    assert keyring.find("realm1", "alice", key, now=now + HOUR) is not None
    assert keyring.find("realm1", "alice", key, now=now + 2 * HOUR) is None


@pytest.mark.parametrize("given, error", [
    ("abc", "expected 64 hex characters"),
    ("zz" * 32, "expected 64 hex characters"),
    ("ab" * 33, "expected 64 hex characters"),
    ("ab" * 64, "form of a private key"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----", "this is a private key"),
    (12, "expected an Ed25519 public key"),
])
def test_malformed_keys_are_refused_naming_the_field_and_nothing_is_written(mgmt, alice, db, given, error):
    with pytest.raises(InvalidArgument, match=f"pubkey: .*{error}"):
        mgmt.principals.add_key(alice.oid, given)
    assert stored_keys(db) == {}


def test_a_private_key_seed_given_as_public_key_is_mostly_refused(mgmt, alice):
    refused = 0
    for _ in range(20):
        try:
            mgmt.principals.add_key(alice.oid, SigningKey.generate().encode().hex())
        except InvalidArgument as exc:
            assert "is not an Ed25519 public key" in str(exc)
            refused += 1
    assert refused >= 10  # about fifteen seeds in sixteen are not points of the prime-order group


def test_duplicates_unknown_principals_and_bad_windows_are_refused(mgmt, alice, db):
    key = pubkey()
    mgmt.principals.add_key(alice.oid, key, label="laptop")
    bob = mgmt.principals.create(realm="realm1", authid="bob", role="user")
    with pytest.raises(AlreadyExists, match="already added for principal 'alice'"):
        mgmt.principals.add_key(alice.oid, key)
    with pytest.raises(AlreadyExists, match="already belongs to principal 'alice'"):
        mgmt.principals.add_key(bob.oid, key)
    with pytest.raises(AlreadyExists, match="label: .*already has a key labelled 'laptop'"):
        mgmt.principals.add_key(alice.oid, pubkey(), label="laptop")
    with pytest.raises(InvalidArgument, match="not_after: must be later than not_before"):
        mgmt.principals.add_key(alice.oid, pubkey(), not_before=2 * HOUR, not_after=HOUR)
    with pytest.raises(NotFound):
        mgmt.principals.add_key("00000000-0000-0000-0000-000000000001", pubkey())
    with pytest.raises(NotFound, match="no unrevoked key labelled 'phone'"):
        mgmt.principals.revoke_key(alice.oid, "phone")
    with pytest.raises(NotFound, match="has no key"):
        mgmt.principals.revoke_key(bob.oid, key)
    assert list(stored_keys(db)) == [key]


def test_a_revoked_key_cannot_come_back_but_its_label_can_be_reused(mgmt, alice):
    old, new = pubkey(), pubkey()
    mgmt.principals.add_key(alice.oid, old, label="laptop")
    mgmt.principals.revoke_key(alice.oid, "laptop")
    with pytest.raises(AlreadyExists, match="a revoked key cannot be added again"):
        mgmt.principals.add_key(alice.oid, old)
    assert mgmt.principals.add_key(alice.oid, new, label="laptop").pubkey == new


def test_key_changes_enter_the_change_feed_and_deleting_the_principal_deletes_its_keys(mgmt, alice, db):
    key = pubkey()
    mgmt.principals.add_key(alice.oid, key)
    mgmt.principals.revoke_key(alice.oid, key)
    mgmt.principals.delete(alice.oid)
    entries = [(e["kind"], e["op"], e["record"].get("pubkey")) for _, e in ChangeFeed(db).follow(0)]
    assert entries[1:] == [("cryptosign_key", "created", key), ("cryptosign_key", "updated", key),
                           ("cryptosign_key", "deleted", key), ("principal", "deleted", None)]
    assert stored_keys(db) == {}


def test_a_refused_write_in_the_callers_transaction_leaves_nothing(mgmt, db):
    with pytest.raises(AlreadyExists):
        with db.begin(write=True) as txn:
            p = mgmt.principals.create(txn, realm="realm1", authid="carol", role="user")
            key = pubkey()
            mgmt.principals.add_key(p.oid, key, txn=txn)
            mgmt.principals.add_key(p.oid, key, txn=txn)
    assert stored_keys(db) == {}
    assert mgmt.principals.list().items == []


def test_keys_show_among_the_principals_credentials(mgmt, alice):
    assert mgmt.principals.credentials(alice.oid) == []
    mgmt.principals.add_key(alice.oid, pubkey())
    assert [c["authmethod"] for c in mgmt.principals.credentials(alice.oid)] == ["cryptosign"]


def test_a_read_only_database_from_before_keys_reads_as_having_none(tmp_path):
    path = str(tmp_path / "old")
    with open_database(path) as db:
        # Written as before keys existed: only the management realm's tables were ever attached.
        p = Principal(realm="realm1", authid="alice", role="user")
        attached(GlobalSchema, db)
        with db.begin(write=True) as txn:
            attached(MrealmSchema, db).principals[txn, p.oid] = p
        assert "cryptosign_keys" not in {e["name"] for e in db.catalog().values()}
    with open_database(path, readonly=True) as db:
        assert Management(db).principals.keys(p.oid) == []
        assert CryptosignKeyring(db).find("realm1", "alice", pubkey()) is None
        assert CryptosignKeyring(db).principals_with_keys() == set()


def test_revoking_a_key_ends_the_principals_cookie_logins(mgmt, alice, db):
    key = pubkey()
    mgmt.principals.add_key(alice.oid, key)
    cookies = CookieService(db)
    value, _ = cookies.create()
    assert cookies.set_auth(value, "alice", "user", "cryptosign", None, "realm1")
    mgmt.principals.add_key(alice.oid, pubkey())   # adding a key leaves logins alone
    assert cookies.lookup(value).authid == "alice"
    mgmt.principals.revoke_key(alice.oid, key)
    assert cookies.lookup(value) is None


def _wire(value):
    return json.loads(json.dumps(value, default=str))


def test_the_api_adds_lists_and_revokes_keys_with_times_on_the_wire(mgmt):
    procs = procedures(mgmt)
    p = procs["principal.create"]({"realm": "realm1", "authid": "dev", "role": "user"})
    key = pubkey()
    added = procs["principal.add_key"](p["oid"], key, label="sensor", not_after="2099-01-01T00:00:00Z")
    assert (added["pubkey"], added["label"], added["not_after"]) == (key, "sensor", "2099-01-01T00:00:00.000000000Z")
    listed = procs["principal.keys"](p["oid"])
    assert _wire(listed) == listed and [(k["pubkey"], k["state"]) for k in listed] == [(key, "valid")]
    revoked = procs["principal.revoke_key"](p["oid"], "sensor")
    assert revoked["revoked"] is not None
    assert [k["state"] for k in procs["principal.keys"](p["oid"])] == ["revoked"]
    with pytest.raises(InvalidArgument, match="not_before"):
        procs["principal.add_key"](p["oid"], pubkey(), not_before="yesterday")
    with pytest.raises(InvalidArgument, match="pubkey"):
        procs["principal.add_key"](p["oid"], "xyz")
