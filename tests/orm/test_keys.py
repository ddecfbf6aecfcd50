"""Tests for the order-preserving key codecs."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orm.keys import (
    BYTES16_KEY,
    BYTES20_KEY,
    BYTES32_KEY,
    BYTES_KEY,
    OID_KEY,
    STR_KEY,
    TIMESTAMP_KEY,
    UINT8_KEY,
    UINT16_KEY,
    UINT32_KEY,
    UINT64_KEY,
    UUID_KEY,
    KeyCodec,
    Tuple,
    key_codec,
    to_ns,
)

try:
    import numpy as np
except ImportError:  # numpy is optional for the codecs
    np = None

needs_numpy = pytest.mark.skipif(np is None, reason="numpy not installed")

SETTINGS = settings(max_examples=200, deadline=None)

SCALARS = [
    UUID_KEY,
    STR_KEY,
    BYTES_KEY,
    BYTES16_KEY,
    BYTES20_KEY,
    BYTES32_KEY,
    UINT8_KEY,
    UINT16_KEY,
    UINT32_KEY,
    UINT64_KEY,
    TIMESTAMP_KEY,
]

# Small alphabets rich in NUL / 0xFF so escaping and shared prefixes are hit often.
_text = st.text(st.sampled_from("\x00\x01a\xff\u20ac\U0001f600")) | st.text()
_binary = st.lists(st.sampled_from([0, 1, 0xFE, 0xFF])).map(bytes) | st.binary()


def values(codec: KeyCodec) -> st.SearchStrategy:
    """Strategy for the natural (decoded) values of ``codec``."""
    if isinstance(codec, Tuple):
        return st.tuples(*(values(p) for p in codec.parts))
    if codec is UUID_KEY:
        return st.uuids() | st.binary(min_size=16, max_size=16).map(lambda b: uuid.UUID(bytes=b))
    if codec is STR_KEY:
        return _text
    if codec is BYTES_KEY:
        return _binary
    if codec is TIMESTAMP_KEY:
        return st.integers(-(2**63), 2**63 - 1)
    if codec.name.startswith("bytes"):
        n = codec.fixed_size
        return st.binary(min_size=n, max_size=n) | st.sampled_from([b"\x00" * n, b"\xff" * n])
    bits = int(codec.name[4:])
    return st.integers(0, 2**bits - 1)


codecs = st.recursive(
    st.sampled_from(SCALARS),
    lambda inner: st.lists(inner, min_size=1, max_size=3).map(lambda ps: Tuple(*ps)),
    max_leaves=5,
)
tuple_codecs = st.lists(st.sampled_from(SCALARS), min_size=2, max_size=3).map(lambda ps: Tuple(*ps))


def cmp(a, b) -> int:
    return (a > b) - (a < b)


# ------------------------------------------------------------------ properties


def _check_round_trip(codec: KeyCodec, v) -> None:
    enc = codec.encode(v)
    assert isinstance(enc, bytes)
    assert codec.decode(enc) == v
    assert codec.decode(memoryview(enc)) == v
    if codec.fixed_size is not None:
        assert len(enc) == codec.fixed_size
    nested = codec.encode_nested(v)
    assert codec.decode_nested(nested, 0) == (v, len(nested))
    # Self-delimiting: junk before and after must not disturb decoding.
    framed = b"\xff\x00" + nested + b"\x00\xff\x01"
    assert codec.decode_nested(framed, 2) == (v, 2 + len(nested))
    assert codec.decode_nested(memoryview(framed), 2) == (v, 2 + len(nested))


def _check_order(codec: KeyCodec, a, b) -> None:
    assert cmp(codec.encode(a), codec.encode(b)) == cmp(a, b)
    na, nb = codec.encode_nested(a), codec.encode_nested(b)
    assert cmp(na, nb) == cmp(a, b)
    if a != b:
        # Prefix-free: a nested encoding never starts another one.
        assert not nb.startswith(na) and not na.startswith(nb)


@pytest.mark.parametrize("codec", SCALARS, ids=lambda c: c.name)
@SETTINGS
@given(data=st.data())
def test_scalar_round_trip_and_order(codec: KeyCodec, data) -> None:
    a = data.draw(values(codec))
    b = data.draw(values(codec))
    _check_round_trip(codec, a)
    _check_order(codec, a, b)
    _check_order(codec, a, a)


@SETTINGS
@given(codec=tuple_codecs, data=st.data())
def test_tuple_round_trip_and_order(codec: Tuple, data) -> None:
    a = data.draw(values(codec))
    # Share leading parts often so the later parts decide the order.
    k = data.draw(st.integers(0, len(codec.parts)))
    b = a[:k] + data.draw(values(Tuple(*codec.parts[k:]))) if k < len(codec.parts) else a
    _check_round_trip(codec, a)
    _check_order(codec, a, b)
    assert (codec.encode(a) == codec.encode(b)) == (a == b)


@SETTINGS
@given(codec=codecs, data=st.data())
def test_nested_codecs_round_trip_and_order(codec: KeyCodec, data) -> None:
    a = data.draw(values(codec))
    b = data.draw(values(codec))
    _check_round_trip(codec, a)
    _check_order(codec, a, b)


@SETTINGS
@given(a=st.lists(_text, min_size=1, max_size=3), b=st.lists(_text, min_size=1, max_size=3))
def test_str_tuples_of_different_arity_never_collide(a, b) -> None:
    # Splitting the same text differently must give different nested bytes.
    ea = b"".join(STR_KEY.encode_nested(s) for s in a)
    eb = b"".join(STR_KEY.encode_nested(s) for s in b)
    assert (ea == eb) == (a == b)
    assert cmp(ea, eb) == cmp(a, b)


# ------------------------------------------------------------------ str/bytes


def test_str_split_point_ordering() -> None:
    t = Tuple(STR_KEY, STR_KEY)
    a, b = ("a", "bc"), ("ab", "c")
    assert t.encode(a) != t.encode(b)
    assert t.encode(a) < t.encode(b)
    assert t.decode(t.encode(a)) == a and t.decode(t.encode(b)) == b


@pytest.mark.parametrize("s", ["\x00", "a\x00", "\x00\x00b", "a\x00\xff", ""])
def test_str_with_nul(s: str) -> None:
    t = Tuple(STR_KEY, UINT8_KEY)
    for n in (0, 255):
        assert t.decode(t.encode((s, n))) == (s, n)
    assert STR_KEY.decode(STR_KEY.encode(s)) == s


def test_nul_escape_not_confused_with_next_part() -> None:
    # After a terminator the next part may start with 0xFF; that must not
    # read as an escaped NUL.
    t = Tuple(STR_KEY, BYTES_KEY)
    a, b = ("a", b"\xff\x00b"), ("a\x00", b"b")
    assert t.encode(a) != t.encode(b)
    assert t.encode(a) < t.encode(b)
    assert t.decode(t.encode(a)) == a
    u = Tuple(STR_KEY, UINT16_KEY)
    assert u.encode(("a", 0xFF01)) < u.encode(("a\x00", 0))


def test_str_rejects_surrogates_and_wrong_types() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        STR_KEY.encode("a\ud800")
    with pytest.raises(ValueError, match="surrogate"):
        STR_KEY.encode_nested("\udfff")
    with pytest.raises(TypeError):
        STR_KEY.encode(b"abc")
    with pytest.raises(TypeError):
        STR_KEY.encode(1)
    with pytest.raises(TypeError):
        BYTES_KEY.encode("abc")
    with pytest.raises(TypeError):
        BYTES_KEY.encode(3)  # bytes(3) would silently give b"\0\0\0"


def test_bytes_accepts_buffers() -> None:
    assert BYTES_KEY.encode(bytearray(b"ab")) == b"ab"
    assert BYTES_KEY.encode(memoryview(b"ab")) == b"ab"
    assert BYTES_KEY.decode_nested(BYTES_KEY.encode_nested(bytearray(b"a\x00")), 0) == (b"a\x00", 5)


def test_fixed_bytes_length() -> None:
    assert BYTES20_KEY.encode(bytearray(20)) == bytes(20)
    for codec, n in ((BYTES16_KEY, 16), (BYTES20_KEY, 20), (BYTES32_KEY, 32)):
        with pytest.raises(ValueError):
            codec.encode(bytes(n - 1))
        with pytest.raises(ValueError):
            codec.encode(bytes(n + 1))
        with pytest.raises(TypeError):
            codec.encode("x" * n)


def test_malformed_nested_data_raises() -> None:
    with pytest.raises(ValueError):
        STR_KEY.decode_nested(b"abc", 0)
    with pytest.raises(ValueError):
        STR_KEY.decode_nested(b"a\x00\x01", 0)
    with pytest.raises(ValueError):
        UINT32_KEY.decode_nested(b"\x00\x00", 0)
    with pytest.raises(ValueError):
        UINT32_KEY.decode(b"\x00" * 5)
    with pytest.raises(ValueError):
        UUID_KEY.decode(b"\x00" * 15)


# ------------------------------------------------------------------ ints / uuid


@pytest.mark.parametrize("codec", [UINT8_KEY, UINT16_KEY, UINT32_KEY, UINT64_KEY, TIMESTAMP_KEY], ids=lambda c: c.name)
def test_bool_rejected(codec: KeyCodec) -> None:
    with pytest.raises(TypeError):
        codec.encode(True)
    with pytest.raises(TypeError):
        codec.encode(False)


def test_uint_ranges() -> None:
    assert UINT64_KEY.encode(2**64 - 1) == b"\xff" * 8
    assert UINT64_KEY.encode(0) == b"\x00" * 8
    for bad in (2**64, -1):
        with pytest.raises(ValueError, match=r"2\*\*64-1"):
            UINT64_KEY.encode(bad)
    with pytest.raises(ValueError):
        UINT8_KEY.encode(256)
    with pytest.raises(ValueError):
        UINT16_KEY.encode(2**16)
    with pytest.raises(ValueError):
        UINT32_KEY.encode(2**32)
    for bad in (1.0, "1", None, b"\x01"):
        with pytest.raises(TypeError):
            UINT32_KEY.encode(bad)


@needs_numpy
def test_uint_accepts_numpy_ints() -> None:
    assert UINT32_KEY.encode(np.uint32(7)) == UINT32_KEY.encode(7)
    assert TIMESTAMP_KEY.encode(np.int64(-5)) == TIMESTAMP_KEY.encode(-5)


def test_oid_is_uint64() -> None:
    assert OID_KEY is UINT64_KEY
    assert OID_KEY.name == "uint64"
    assert key_codec("oid") is UINT64_KEY


def test_uuid() -> None:
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert UUID_KEY.encode(u) == u.bytes
    d = UUID_KEY.decode(u.bytes)
    assert d == u and isinstance(d, uuid.UUID) and str(d) == str(u) and hash(d) == hash(u)
    with pytest.raises(TypeError):
        UUID_KEY.encode(str(u))
    with pytest.raises(TypeError):
        UUID_KEY.encode(u.bytes)


# ------------------------------------------------------------------ timestamps

UTC = timezone.utc


def test_pre_epoch_sorts_first() -> None:
    keys = [-(2**63), -(10**18), -1, 0, 1, 10**18, 2**63 - 1]
    enc = [TIMESTAMP_KEY.encode(v) for v in keys]
    assert enc == sorted(enc)
    before = TIMESTAMP_KEY.encode(datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    after = TIMESTAMP_KEY.encode(datetime(1970, 1, 1, tzinfo=UTC))
    assert before < after
    assert TIMESTAMP_KEY.decode(before) == -1000


def test_timestamp_range() -> None:
    for bad in (2**63, -(2**63) - 1):
        with pytest.raises(ValueError):
            TIMESTAMP_KEY.encode(bad)
    with pytest.raises(ValueError):
        to_ns(datetime(2300, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        to_ns(datetime(1600, 1, 1, tzinfo=UTC))


def test_naive_datetime_rejected() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        TIMESTAMP_KEY.encode(datetime(2020, 1, 1))


def test_timestamp_wrong_types() -> None:
    for bad in ("2020-01-01", 1.5, None, datetime(2020, 1, 1).date()):
        with pytest.raises(TypeError):
            TIMESTAMP_KEY.encode(bad)


def test_aware_datetime_non_utc() -> None:
    tz = timezone(timedelta(hours=5, minutes=30))
    local = datetime(2020, 1, 1, 5, 30, 0, 123456, tzinfo=tz)
    utc = datetime(2020, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert to_ns(local) == to_ns(utc) == 1577836800_123456000
    assert TIMESTAMP_KEY.encode(local) == TIMESTAMP_KEY.encode(utc)


@SETTINGS
@given(
    dt=st.datetimes(min_value=datetime(1678, 1, 1), max_value=datetime(2262, 1, 1)),
    offset_min=st.integers(-23 * 60, 23 * 60),
)
def test_datetime_to_ns_exact(dt: datetime, offset_min: int) -> None:
    aware = dt.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    expected = (aware - epoch) // timedelta(microseconds=1) * 1000
    assert to_ns(aware) == expected
    assert TIMESTAMP_KEY.decode(TIMESTAMP_KEY.encode(aware)) == expected


@needs_numpy
@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns", "D"])
def test_datetime64_units_normalise(unit: str) -> None:
    per = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1, "D": 86400 * 10**9}[unit]
    for n in (-1000, -1, 0, 1, 18262):
        v = np.datetime64(n, unit)
        assert to_ns(v) == n * per
        assert TIMESTAMP_KEY.encode(v) == TIMESTAMP_KEY.encode(n * per)


@needs_numpy
def test_datetime64_calendar_and_other_units() -> None:
    y2k = to_ns(datetime(2000, 1, 1, tzinfo=UTC))
    assert to_ns(np.datetime64("2000", "Y")) == y2k
    assert to_ns(np.datetime64("2000-01", "M")) == y2k
    assert to_ns(np.datetime64("1969-07", "M")) == to_ns(datetime(1969, 7, 1, tzinfo=UTC))
    assert to_ns(np.datetime64("1969", "Y")) == to_ns(datetime(1969, 1, 1, tzinfo=UTC))
    assert to_ns(np.datetime64("2000-01-03", "W")) == to_ns(np.datetime64("2000-01-03", "D").astype("datetime64[W]"))
    assert to_ns(np.datetime64(2, "h")) == 7200 * 10**9
    assert to_ns(np.datetime64(3, "m")) == 180 * 10**9
    assert to_ns(np.datetime64(3, "10s")) == 30 * 10**9
    # Sub-ns units truncate toward -inf, like numpy's own conversion.
    assert to_ns(np.datetime64(1999, "ps")) == 1
    assert to_ns(np.datetime64(-1, "ps")) == -1
    assert to_ns(np.datetime64(-1501, "ps")) == -2
    assert to_ns(np.datetime64(-1, "as")) == -1


_NS_PER = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1, "D": 86400 * 10**9, "h": 3600 * 10**9, "m": 60 * 10**9}


@needs_numpy
@SETTINGS
@given(n=st.integers(-(2**62), 2**62) | st.integers(-(10**6), 10**6), unit=st.sampled_from([*_NS_PER, "ps"]))
def test_datetime64_property(n: int, unit: str) -> None:
    v = np.datetime64(n, unit)
    expected = n // 1000 if unit == "ps" else n * _NS_PER[unit]
    if not -(2**63) <= expected < 2**63:
        with pytest.raises(ValueError):
            to_ns(v)
        return
    assert to_ns(v) == expected
    assert TIMESTAMP_KEY.decode(TIMESTAMP_KEY.encode(v)) == expected
    if expected != -(2**63):  # that value is NaT in numpy's ns unit
        assert int(v.astype("datetime64[ns]").astype(np.int64)) == expected


@needs_numpy
def test_datetime64_rejects_nat_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="NaT"):
        to_ns(np.datetime64("NaT"))
    with pytest.raises(ValueError, match="NaT"):
        to_ns(np.datetime64("NaT", "ns"))
    for v in (np.datetime64("2300-01-01", "D"), np.datetime64("1000", "Y"), np.datetime64("1600-01", "M")):
        with pytest.raises(ValueError):
            to_ns(v)


# ------------------------------------------------------------------ tuples


def test_tuple_arity_and_type() -> None:
    t = Tuple(TIMESTAMP_KEY, UUID_KEY)
    u = uuid.uuid4()
    assert t.encode([5, u]) == t.encode((5, u))
    with pytest.raises(TypeError):
        t.encode(5)
    with pytest.raises(ValueError, match="2 parts"):
        t.encode((5,))
    with pytest.raises(ValueError, match="2 parts"):
        t.encode((5, u, u))
    with pytest.raises(TypeError, match="part 1"):
        t.encode((5, "not-a-uuid"))
    with pytest.raises(ValueError, match="part 0"):
        t.encode((2**63, u))
    assert t.name == "tuple(timestamp,uuid)"
    assert t.expected == "tuple(int ns|datetime|datetime64, uuid.UUID)"
    assert t.fixed_size == 24
    assert Tuple(STR_KEY, UUID_KEY).fixed_size is None


_INTS = Tuple("uint64", "timestamp", "uint32", "uint8")


@settings(max_examples=300)
@given(st.tuples(st.integers(-2, 2**64), st.integers(-2**63 - 1, 2**63), st.integers(-1, 2**32),
                 st.one_of(st.integers(-1, 256), st.booleans())))
def test_an_integer_tuple_packs_in_one_call_exactly_as_part_by_part(value) -> None:
    """The one-call pack of unsigned and timestamp parts gives the part by part bytes, and refuses what it refuses
    (out of range, bool) with the error naming the part."""
    try:
        expected = b"".join(p.encode(v) for p, v in zip(_INTS.parts, value))
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc), match="part"):
            _INTS.encode(value)
    else:
        assert _INTS.encode(value) == expected
        assert _INTS.decode(expected) == value


def test_key_codec_resolution() -> None:
    assert key_codec("uuid") is UUID_KEY
    assert key_codec(STR_KEY) is STR_KEY
    t = key_codec(("timestamp", ("str", "uint8"), UUID_KEY))
    assert isinstance(t, Tuple)
    assert t.name == "tuple(timestamp,tuple(str,uint8),uuid)"
    # A persisted signature resolves back to an equal codec.
    assert key_codec(t.name) == t
    assert key_codec(t.name).name == t.name
    with pytest.raises(ValueError):
        key_codec("float")
    with pytest.raises(TypeError):
        key_codec(3)


def test_nested_tuple_part() -> None:
    t = Tuple(Tuple(STR_KEY, UINT8_KEY), STR_KEY)
    v = (("a\x00", 3), "tail")
    assert t.decode(t.encode(v)) == v
    assert t.encode((("a", 3), "z")) < t.encode((("a\x00", 0), "a"))


def test_scalar_prefix() -> None:
    assert STR_KEY.encode_prefix("ab") == b"ab"
    assert BYTES_KEY.encode_prefix(b"a\x00") == b"a\x00"
    assert UINT16_KEY.encode_prefix(258) == b"\x01\x02"
    keys = sorted(STR_KEY.encode(s) for s in ["a", "ab", "abc", "abd", "b", "aa"])
    assert [k for k in keys if k.startswith(STR_KEY.encode_prefix("ab"))] == [b"ab", b"abc", b"abd"]


def test_tuple_prefix_errors() -> None:
    t = Tuple(STR_KEY, UINT8_KEY, BYTES_KEY)
    with pytest.raises(ValueError):
        t.encode_prefix(())
    with pytest.raises(ValueError):
        t.encode_prefix(("a", 1, b"", 2))
    with pytest.raises(TypeError):
        t.encode_prefix((1,))
    assert t.encode_prefix("a") == t.encode_prefix(("a",))


_prefix_parts = [
    (STR_KEY, st.text(st.sampled_from("a\x00b"), max_size=3)),
    (UINT8_KEY, st.integers(0, 3) | st.just(255)),
    (BYTES_KEY, st.binary(max_size=2) | st.sampled_from([b"\xff", b"\x00\xff"])),
    (UUID_KEY, st.sampled_from([uuid.UUID(int=0), uuid.UUID(int=1), uuid.UUID(int=2**128 - 1)])),
]


@SETTINGS
@given(data=st.data())
def test_tuple_prefix_selects_exactly(data) -> None:
    chosen = data.draw(st.lists(st.sampled_from(range(len(_prefix_parts))), min_size=2, max_size=3))
    t = Tuple(*(_prefix_parts[i][0] for i in chosen))
    rows = data.draw(st.lists(st.tuples(*(_prefix_parts[i][1] for i in chosen)), min_size=1, max_size=30, unique=True))
    keys = sorted((t.encode(r), r) for r in rows)
    assert [r for _, r in keys] == sorted(rows)
    n = len(chosen)
    k = data.draw(st.integers(1, n))
    base = data.draw(st.sampled_from(rows))
    prefix = base[:k]
    p = t.encode_prefix(prefix)
    selected = [r for key, r in keys if key.startswith(p)]
    if k < n:
        expected = [r for _, r in keys if r[:k] == prefix]
    else:
        # All parts given: the last part matches as a prefix for str/bytes.
        last = t.parts[-1]
        if last in (STR_KEY, BYTES_KEY):
            expected = [r for _, r in keys if r[:-1] == prefix[:-1] and r[-1].startswith(prefix[-1])]
        else:
            expected = [r for _, r in keys if r == prefix]
    assert selected == expected
    assert base in selected
    # The selection is one contiguous range of the sorted keys (a cursor scan).
    idx = [i for i, (key, _) in enumerate(keys) if key.startswith(p)]
    assert idx == list(range(idx[0], idx[-1] + 1))


def test_random_uuid_is_a_version_4_uuid():
    from orm.keys import random_uuid

    made = [random_uuid() for _ in range(2000)]
    assert len(set(made)) == 2000
    for u in made[:50]:
        assert u.version == 4 and u.variant == uuid.RFC_4122 and uuid.UUID(str(u)) == u
