"""CookieService: the contract of cfxstore's cookie API."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from cfxstore.cookies.service import CookieService

NS = 1_000_000_000


def raw_bytes(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def stored_cookies(service):
    with service.db.begin() as txn:
        return list(service.schema.cookies.select(txn, return_keys=False))


# -- create ------------------------------------------------------------------

def test_create_returns_a_value_of_at_least_128_random_bits(service):
    value, _ = service.create(nbytes=4)
    assert len(raw_bytes(value)) == 16


def test_create_uses_nbytes_when_larger_than_the_minimum(service):
    value, _ = service.create(nbytes=40)
    assert len(raw_bytes(value)) == 40


def test_create_gives_a_new_value_each_time(service):
    assert service.create()[0] != service.create()[0]


def test_create_stores_only_the_hash_of_the_value(service):
    value, cookie = service.create()
    assert cookie.value_hash == hashlib.sha256(value.encode()).digest()
    assert stored_cookies(service) == [cookie]


def test_create_applies_max_age_from_now(service, clock):
    _, cookie = service.create(max_age=90)
    assert (cookie.created, cookie.max_age, cookie.expires) == (clock.now, 90, clock.now + 90 * NS)


def test_create_defaults_to_the_service_max_age(db, clock):
    _, cookie = CookieService(db, default_max_age=30).create()
    assert cookie.expires == clock.now + 30 * NS


def test_create_records_context_fields(service):
    context = {"node": "node1", "worker": "router1", "session": 42, "transport": {"type": "websocket"}}
    _, cookie = service.create(context=context)
    assert (cookie.node, cookie.worker, cookie.session, cookie.transport) == tuple(context.values())


def test_create_with_an_unknown_context_key_writes_nothing(service):
    with pytest.raises(ValueError, match="context: unknown keys"):
        service.create(context={"nod": "typo"})
    assert stored_cookies(service) == []


def test_create_with_an_invalid_name_writes_nothing(service):
    with pytest.raises(ValueError, match="Cookie.name"):
        service.create(name="no spaces")
    assert stored_cookies(service) == []


@pytest.mark.parametrize("max_age", [0, -5, 1.5, "60"])
def test_create_refuses_a_bad_max_age(service, max_age):
    with pytest.raises(ValueError, match="max_age"):
        service.create(max_age=max_age)


def test_service_refuses_a_bad_default_max_age(db):
    with pytest.raises(ValueError, match="default_max_age"):
        CookieService(db, default_max_age=0)


def test_hash_value_refuses_non_str():
    with pytest.raises(TypeError, match="cookie value must be str"):
        CookieService.hash_value(b"bytes")


# -- lookup ------------------------------------------------------------------

def test_lookup_finds_a_cookie_by_its_raw_value(service):
    value, cookie = service.create()
    assert service.lookup(value) == cookie


def test_lookup_of_an_unknown_value_is_none(service):
    service.create()
    assert service.lookup("unknown") is None


def test_lookup_just_before_expiry_finds_the_cookie(service, clock):
    value, _ = service.create(max_age=10)
    clock.now += 10 * NS - 1
    assert service.lookup(value) is not None


def test_lookup_at_expiry_is_none(service, clock):
    value, _ = service.create(max_age=10)
    clock.advance(10)
    assert service.lookup(value) is None


def test_exists_follows_lookup(service, clock):
    value, _ = service.create(max_age=10)
    assert service.exists(value)
    clock.advance(10)
    assert not service.exists(value)


def test_max_age_is_enforced_after_reopening(tmp_path, clock):
    with CookieService.open(str(tmp_path / "db"), maxsize=2**24) as service:
        value, _ = service.create(max_age=5)
    clock.advance(5)
    with CookieService.open(str(tmp_path / "db"), maxsize=2**24) as service:
        assert service.lookup(value) is None


# -- set_auth / clear_auth -----------------------------------------------------

def test_set_auth_records_the_principal(service, clock):
    value, _ = service.create()
    clock.advance(1)
    assert service.set_auth(value, "alice", "user", "ticket", {"k": 1}, "realm1")
    cookie = service.lookup(value)
    assert (cookie.authid, cookie.authrole, cookie.authmethod, cookie.authextra, cookie.authrealm) == \
        ("alice", "user", "ticket", {"k": 1}, "realm1")
    assert cookie.modified == clock.now


def test_set_auth_does_not_extend_expiry(service, clock):
    value, created = service.create(max_age=10)
    clock.advance(5)
    service.set_auth(value, "alice", "user", "ticket", None, "realm1")
    assert service.lookup(value).expires == created.expires


def test_set_auth_records_context(service):
    value, _ = service.create()
    service.set_auth(value, "alice", "user", "ticket", None, "realm1", context={"session": 9, "worker": "w1"})
    cookie = service.lookup(value)
    assert (cookie.session, cookie.worker) == (9, "w1")


def test_set_auth_of_an_unknown_cookie_is_false(service):
    assert not service.set_auth("unknown", "alice", "user", "ticket", None, "realm1")


def test_set_auth_of_an_expired_cookie_is_false_and_changes_nothing(service, clock):
    value, before = service.create(max_age=1)
    clock.advance(1)
    assert not service.set_auth(value, "alice", "user", "ticket", None, "realm1")
    assert stored_cookies(service) == [before]


def test_set_auth_with_invalid_fields_changes_nothing(service):
    value, before = service.create()
    with pytest.raises(ValueError, match="Cookie.authrole"):
        service.set_auth(value, "alice", 42, "ticket", None, "realm1")
    assert stored_cookies(service) == [before]


def test_set_auth_without_authid_is_refused(service):
    value, _ = service.create()
    with pytest.raises(ValueError, match="authid"):
        service.set_auth(value, None, "user", "ticket", None, "realm1")


def test_set_auth_with_a_new_authid_moves_the_cookie_between_authids(service):
    value, _ = service.create()
    service.set_auth(value, "alice", "user", "ticket", None, "realm1")
    service.set_auth(value, "bob", "user", "ticket", None, "realm1")
    assert service.cookies_by_authid("alice") == []
    assert [c.authid for c in service.cookies_by_authid("bob")] == ["bob"]


def test_clear_auth_deletes_the_cookie(service):
    value, _ = service.create()
    assert service.clear_auth(value)
    assert service.lookup(value) is None
    assert stored_cookies(service) == []


def test_clear_auth_of_an_unknown_cookie_is_false(service):
    assert not service.clear_auth("unknown")


def test_clear_auth_of_an_expired_cookie_is_false_but_deletes_it(service, clock):
    value, _ = service.create(max_age=1)
    clock.advance(1)
    assert not service.clear_auth(value)
    assert stored_cookies(service) == []


# -- by authid -------------------------------------------------------------------

def test_cookies_by_authid_lists_live_cookies_oldest_first(service, clock):
    values = []
    for max_age in (100, 1, 100):
        value, _ = service.create(max_age=max_age)
        service.set_auth(value, "alice", "user", "ticket", None, "realm1")
        values.append(value)
        clock.advance(1)
    other, _ = service.create()
    service.set_auth(other, "bob", "user", "ticket", None, "realm1")
    found = service.cookies_by_authid("alice")
    assert [c.value_hash for c in found] == [service.hash_value(values[0]), service.hash_value(values[2])]


def test_revoke_authid_deletes_every_cookie_of_the_authid(service, clock):
    mine = [service.create(max_age=m)[0] for m in (100, 1)]
    for value in mine:
        service.set_auth(value, "alice", "user", "ticket", None, "realm1")
    other, _ = service.create()
    service.set_auth(other, "bob", "user", "ticket", None, "realm1")
    clock.advance(1)
    revoked = service.revoke_authid("alice")
    assert sorted(revoked) == sorted(service.hash_value(v) for v in mine)
    assert [c.authid for c in stored_cookies(service)] == ["bob"]


def test_revoke_of_an_unknown_authid_is_empty(service):
    assert service.revoke_authid("nobody") == []


# -- purge -----------------------------------------------------------------------

def test_purge_expired_deletes_exactly_the_expired_cookies(service, clock):
    for max_age in (1, 2, 3):
        service.create(max_age=max_age)
    assert service.purge_expired(now=clock.now + 2 * NS) == 2
    assert [c.max_age for c in stored_cookies(service)] == [3]


def test_purge_expired_defaults_to_now(service, clock):
    service.create(max_age=1)
    clock.advance(1)
    assert service.purge_expired() == 1


def test_purge_expired_removes_index_entries(service, clock):
    value, _ = service.create(max_age=1)
    service.set_auth(value, "alice", "user", "ticket", None, "realm1")
    service.purge_expired(now=clock.now + NS)
    with service.db.begin() as txn:
        assert [t.count(txn) for t in service.schema.tables().values()] == [0, 0, 0, 0, 0]


def test_purge_expired_at_the_last_instant_deletes_every_cookie(service):
    for max_age in (1, 10**6):
        service.create(max_age=max_age)
    assert service.purge_expired(now=2**63 - 1) == 2


def test_purge_expired_with_nothing_expired_is_zero(service):
    service.create()
    assert service.purge_expired() == 0


# -- storage -------------------------------------------------------------------

def test_database_file_never_contains_a_raw_cookie_value(tmp_path):
    values = []
    with CookieService.open(str(tmp_path / "db"), maxsize=2**24) as service:
        for i in range(50):
            value, _ = service.create()
            service.set_auth(value, f"user{i}", "user", "ticket", {"i": i}, "realm1")
            values.append(value)
    data = b"".join(p.read_bytes() for p in Path(tmp_path / "db").iterdir() if p.is_file())
    assert b"user49" in data  # the scan does see stored records
    for value in values:
        assert value.encode() not in data
        assert raw_bytes(value) not in data


def test_open_uses_the_default_path_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CFXSTORE_DB", str(tmp_path / "envdb"))
    with CookieService.open(maxsize=2**24) as service:
        service.create()
    assert (tmp_path / "envdb" / "data.mdb").exists()


def test_close_closes_a_database_the_service_opened(tmp_path):
    service = CookieService.open(str(tmp_path / "db"), maxsize=2**24)
    service.close()
    assert service.db.closed


def test_close_leaves_a_database_it_was_given_open(db):
    CookieService(db).close()
    assert not db.closed
