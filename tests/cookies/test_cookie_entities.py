"""Cookie: validation, and parse/marshal round trips including unknown keys."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfxstore.cookies.entities import Cookie

NS = 1_000_000_000


def make(**overrides):
    fields = dict(oid=uuid.uuid4(), created=10 * NS, modified=10 * NS, max_age=60, expires=70 * NS,
                  name="cbtid", value_hash=hashlib.sha256(b"v").digest())
    fields.update(overrides)
    return Cookie(**fields)


def test_marshal_parse_round_trip():
    cookie = make(authid="alice", authrole="user", authextra={"a": [1, 2]}, session=7, transport={"peer": "x"})
    assert Cookie.parse(cookie.marshal()) == cookie


def test_unknown_keys_survive_parse_and_marshal():
    data = make().marshal()
    data["added_later"] = {"x": 1}
    assert Cookie.parse(data).marshal()["added_later"] == {"x": 1}


def test_load_of_a_stored_record_equals_parse():
    data = make(authid="alice").marshal()
    assert Cookie.load(data) == Cookie.parse(data)


def test_a_loaded_record_behaves_as_a_constructed_one():
    # load() adopts the decoded dict as the record's state; unset fields come from class defaults.
    original = make(authid="alice", authextra={"k": 1})
    loaded = Cookie.load(dict(original.marshal()))
    assert loaded == original and loaded.node is None and loaded.marshal() == original.marshal()
    assert not loaded._unknown and repr(loaded) == repr(original)
    changed = dataclasses.replace(loaded, authid="bob")
    assert changed.authid == "bob" and loaded.authid == "alice" and changed.marshal()["oid"] == original.oid.bytes
    with pytest.raises(TypeError):
        loaded._unknown["x"] = 1  # the shared empty default cannot be changed through one record
    other = Cookie.load(dict(make().marshal()))
    assert not other._unknown


def test_load_keeps_unknown_keys():
    data = make().marshal()
    data["added_later"] = 5
    assert Cookie.load(data).marshal()["added_later"] == 5


def test_load_of_a_record_missing_a_field_raises_value_error():
    data = make().marshal()
    del data["name"]
    with pytest.raises(ValueError, match="name"):
        Cookie.load(data)


def test_expired_at_expires():
    cookie = make()
    assert not cookie.is_expired(cookie.expires - 1)
    assert cookie.is_expired(cookie.expires)


@pytest.mark.parametrize("field, value, message", [
    ("oid", "not-a-uuid", "Cookie.oid"),
    ("created", 1.5, "Cookie.created"),
    ("max_age", 0, "Cookie.max_age"),
    ("max_age", True, "Cookie.max_age"),
    ("expires", 5 * NS, "Cookie.expires"),
    ("name", "", "Cookie.name"),
    ("name", "bad name", "Cookie.name"),
    ("value_hash", b"short", "Cookie.value_hash"),
    ("value_hash", "ab" * 16, "Cookie.value_hash"),
    ("authid", "", "Cookie.authid"),
    ("authrole", 3, "Cookie.authrole"),
    ("authextra", ["x"], "Cookie.authextra"),
    ("transport", "tcp", "Cookie.transport"),
    ("session", -1, "Cookie.session"),
    ("session", 2**64, "Cookie.session"),
])
def test_invalid_field_raises_value_error_naming_it(field, value, message):
    with pytest.raises(ValueError, match=message):
        make(**{field: value})


def test_parse_of_a_non_dict_raises_value_error():
    with pytest.raises(ValueError, match="expected a dict"):
        Cookie.parse([1, 2])


_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.binary(max_size=40),
                    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                           max_size=2))


@given(st.dictionaries(st.sampled_from(Cookie._fields() + ("extra",)), _values))
def test_parse_rejects_arbitrary_input_only_with_value_error(data):
    try:
        cookie = Cookie.parse(data)
    except ValueError:
        return
    assert Cookie.parse(cookie.marshal()) == cookie


_optional_text = st.one_of(st.none(), st.text(min_size=1, max_size=12))


@given(authid=_optional_text, authrole=_optional_text, node=_optional_text,
       session=st.one_of(st.none(), st.integers(0, 2**64 - 1)),
       authextra=st.one_of(st.none(), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3)),
       max_age=st.integers(1, 10**9), created=st.integers(-(2**62), 2**62))
def test_round_trip_of_generated_cookies(authid, authrole, node, session, authextra, max_age, created):
    cookie = make(authid=authid, authrole=authrole, node=node, session=session, authextra=authextra,
                  max_age=max_age, created=created, modified=created, expires=created + max_age * NS)
    assert Cookie.parse(cookie.marshal()) == cookie
    assert Cookie.load(cookie.marshal()) == cookie


def test_with_auth_changes_only_auth_fields_and_validates_them():
    cookie = make()
    logged_in = cookie.with_auth(authid="alice", authrole="user", authmethod="ticket", authextra={"k": 1},
                                 authrealm="realm1", session=7, modified=20 * NS)
    assert (logged_in.authid, logged_in.session, logged_in.modified) == ("alice", 7, 20 * NS)
    assert cookie.authid is None and cookie.modified == 10 * NS  # the original is untouched
    assert Cookie.parse(logged_in.marshal()) == logged_in
    with pytest.raises(ValueError, match="Cookie.authid"):
        cookie.with_auth(authid=5, modified=20 * NS)
    with pytest.raises(ValueError, match="Cookie.session"):
        cookie.with_auth(session=-1, modified=20 * NS)
    with pytest.raises(ValueError, match="Cookie.modified"):
        cookie.with_auth(authid="alice", modified="now")
    with pytest.raises(ValueError, match=r"cannot change \['expires'\]"):
        cookie.with_auth(expires=0, modified=20 * NS)


def test_marshal_keeps_unknown_keys_and_leaves_unset_fields_out():
    data = make(authid="alice").marshal()
    data["added_later"] = [1]
    stored = Cookie.parse(data).marshal()
    assert stored["added_later"] == [1] and stored["authid"] == "alice"
    assert "node" not in stored and "_unknown" not in stored and isinstance(stored["oid"], bytes)
