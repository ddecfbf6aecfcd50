"""The dump's JSON tagging round-trips every stored value and refuses malformed tags."""

from __future__ import annotations

import json
import math
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfxstore.migrate.dumpcodec import CodecError, decode, encode

scalars = st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.text() \
    | st.floats(allow_nan=False) | st.binary() | st.uuids()
keys = st.text() | st.integers() | st.binary(max_size=8) | st.uuids()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.lists(inner, max_size=4).map(tuple)
                      | st.dictionaries(keys, inner, max_size=4), max_leaves=20)


@given(values)
def test_every_value_round_trips_through_json(value):
    assert decode(json.loads(json.dumps(encode(value), allow_nan=False))) == value


@given(st.dictionaries(st.text().map(lambda s: "$" + s), st.integers(), min_size=1, max_size=3))
def test_user_keys_that_look_like_tags_are_not_taken_for_tags(value):
    assert decode(json.loads(json.dumps(encode(value)))) == value


def test_non_finite_floats_are_tagged():
    out = decode(json.loads(json.dumps(encode([math.inf, -math.inf, math.nan]), allow_nan=False)))
    assert out[0] == math.inf and out[1] == -math.inf and math.isnan(out[2])


def test_the_tags_are_readable():
    u = uuid.uuid4()
    assert encode({"a": b"\x00", "b": u, "c": (1, 2)}) == \
        {"a": {"$bytes": "AA=="}, "b": {"$uuid": str(u)}, "c": {"$tuple": [1, 2]}}


@pytest.mark.parametrize("data, message", [
    ({"$bytes": "not base64!"}, "invalid base64"),
    ({"$bytes": 3}, "base64 string"),
    ({"$uuid": "xyz"}, "invalid UUID"),
    ({"$tuple": 1}, "must hold a list"),
    ({"$map": [[1]]}, "pairs"),
    ({"$map": [[[1], 2]]}, "cannot be a map key"),
    ({"$float": "big"}, "nan"),
    ({"$what": 1}, "unknown tag"),
    ({"$bytes": "", "x": 1}, "starts with '\\$' outside a tag"),
])
def test_malformed_tags_are_refused(data, message):
    with pytest.raises(CodecError, match=message):
        decode(data)


def test_unknown_types_cannot_be_written():
    with pytest.raises(CodecError, match="type set"):
        encode({1, 2})
