"""Session, Publication and Event: validation and round trips."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfxstore.realmstore.entities import Event, Publication, Session


def session(**overrides):
    fields = dict(oid=uuid.uuid4(), session_id=1, realm="realm1", authid="alice", joined_at=100)
    fields.update(overrides)
    return Session(**fields)


def publication(**overrides):
    fields = dict(publication_id=5, topic="com.example.t", timestamp=100)
    fields.update(overrides)
    return Publication(**fields)


def test_session_round_trips():
    s = session(authextra={"a": 1}, transport={"peer": "tcp:1.2.3.4"}, left_at=200)
    assert Session.parse(s.marshal()) == s


def test_session_unknown_keys_survive():
    data = session().marshal()
    data["node"] = "n1"
    assert Session.parse(data).marshal()["node"] == "n1"


def test_session_may_leave_when_it_joined():
    assert session(joined_at=5, left_at=5).left_at == 5


@pytest.mark.parametrize("field, value, message", [
    ("oid", 1, "Session.oid"),
    ("session_id", -1, "Session.session_id"),
    ("session_id", 2**64, "Session.session_id"),
    ("session_id", "1", "Session.session_id"),
    ("realm", "", "Session.realm"),
    ("authid", 3, "Session.authid"),
    ("authextra", [1], "Session.authextra"),
    ("joined_at", None, "Session.joined_at"),
    ("left_at", 99, "Session.left_at"),
])
def test_invalid_session_field_raises_value_error(field, value, message):
    with pytest.raises(ValueError, match=message):
        session(**{field: value})


def test_publication_round_trips():
    p = publication(publisher=7, args=[1, "two", {"three": 3}], kwargs={"k": [1]}, publisher_authid="bob",
                    publisher_authrole="user")
    assert Publication.parse(p.marshal()) == p


@pytest.mark.parametrize("field, value, message", [
    ("publication_id", -1, "Publication.publication_id"),
    ("topic", "", "Publication.topic"),
    ("publisher", 1.0, "Publication.publisher"),
    ("args", (1, 2), "Publication.args"),
    ("kwargs", [1], "Publication.kwargs"),
    ("timestamp", "now", "Publication.timestamp"),
])
def test_invalid_publication_field_raises_value_error(field, value, message):
    with pytest.raises(ValueError, match=message):
        publication(**{field: value})


def test_event_of_a_stored_publication_carries_its_fields():
    p = publication(publisher=7, args=[1], kwargs={"k": 2}, publisher_authid="bob", publisher_authrole="user")
    e = Event.of(3, 150, 9, p.publication_id, p)
    assert (e.topic, e.args, e.kwargs, e.publisher, e.publisher_authid, e.publisher_authrole) == \
        (p.topic, p.args, p.kwargs, p.publisher, p.publisher_authid, p.publisher_authrole)
    assert (e.subscription_id, e.timestamp, e.receiver, e.publication_id) == (3, 150, 9, 5)


def test_event_without_publication_has_no_topic():
    assert Event.of(3, 150, 9, 5, None).topic is None


def test_event_round_trips():
    e = Event.of(3, 150, 9, 5, publication(args=[1]))
    assert Event.parse(e.marshal()) == e


_json = st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                               max_size=3), max_leaves=8)


@given(args=st.one_of(st.none(), st.lists(_json, max_size=4)),
       kwargs=st.one_of(st.none(), st.dictionaries(st.text(max_size=4), _json, max_size=3)),
       publisher=st.one_of(st.none(), st.integers(0, 2**64 - 1)),
       timestamp=st.integers(-(2**63), 2**63 - 1))
def test_generated_publications_round_trip(args, kwargs, publisher, timestamp):
    p = publication(args=args, kwargs=kwargs, publisher=publisher, timestamp=timestamp)
    assert Publication.parse(p.marshal()) == p


@given(st.dictionaries(st.sampled_from(Session._fields() + ("extra",)),
                       st.one_of(st.none(), st.integers(), st.text(max_size=4), st.booleans(),
                                 st.uuids(), st.lists(st.integers(), max_size=2))))
def test_session_parse_rejects_arbitrary_input_only_with_value_error(data):
    try:
        s = Session.parse(data)
    except ValueError:
        return
    assert Session.parse(s.marshal()) == s
