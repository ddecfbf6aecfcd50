"""Order-preserving key codecs.

LMDB sorts keys bytewise, so every codec maps values to bytes such that
``a < b  <=>  encode(a) < encode(b)``. Range and prefix scans over a table
therefore follow the natural order of the key values.

Each codec has two encodings:

* ``encode`` - used when the value is the last (or only) part of a key.
  Nothing follows it, so variable-length values are stored raw.
* ``encode_nested`` - used for a non-final part of a tuple key. It must be
  self-delimiting and prefix-free, so that concatenating nested encodings
  sorts lexicographically (part by part) and never collides.

Variable-length nested encodings (str, bytes) escape 0x00 as 0x00 0xFF and
end with the two-byte terminator 0x00 0x00. A single 0x00 terminator is not
enough without type tags: the byte after it belongs to the next part and may
be 0xFF, which would be indistinguishable from an escaped NUL.
"""

from __future__ import annotations

import abc
import operator
import os
import struct
import sys
from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID, SafeUUID

from .errors import InvalidArgument, WrongType

__all__ = [
    "KeyCodec",
    "Tuple",
    "key_codec",
    "to_ns",
    "UUID_KEY",
    "STR_KEY",
    "BYTES_KEY",
    "BYTES16_KEY",
    "BYTES20_KEY",
    "BYTES32_KEY",
    "UINT8_KEY",
    "UINT16_KEY",
    "UINT32_KEY",
    "UINT64_KEY",
    "OID_KEY",
    "TIMESTAMP_KEY",
]

Data = bytes | bytearray | memoryview

_TERM = b"\x00\x00"
_NUL = b"\x00"
_ESC_NUL = b"\x00\xff"


class KeyCodec(abc.ABC):
    """Maps values of one domain to order-preserving bytes and back."""

    name: str
    expected: str
    fixed_size: int | None = None
    #: (struct format character, bias) of a part that is one big-endian unsigned integer less a bias,
    #: so that a tuple made only of such parts decodes with one struct call.
    unsigned_part: tuple[str, int] | None = None

    @abc.abstractmethod
    def encode(self, value: Any) -> bytes:
        """Encode ``value`` as the final (or only) part of a key."""

    @abc.abstractmethod
    def encode_nested(self, value: Any) -> bytes:
        """Encode ``value`` self-delimiting, for a non-final tuple position."""

    @abc.abstractmethod
    def decode(self, data: Data) -> Any:
        """Inverse of :meth:`encode`; consumes all of ``data``."""

    @abc.abstractmethod
    def decode_nested(self, data: Data, pos: int) -> tuple[Any, int]:
        """Inverse of :meth:`encode_nested` starting at ``pos``; returns (value, new_pos)."""

    def encode_prefix(self, prefix: Any) -> bytes:
        """Byte prefix selecting the keys that match ``prefix``."""
        return self.encode(prefix)

    # Codecs are compared by signature: equal names mean identical bytes.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyCodec):
            return NotImplemented
        return self.name == other.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"<KeyCodec {self.name}>"

    def _type_error(self, value: Any) -> TypeError:
        return TypeError(f"key must be {self.expected}, got {type(value).__name__}")


# --------------------------------------------------------------------------- uuid

_new_object = object.__new__
_set_attr = object.__setattr__
_UNKNOWN = SafeUUID.unknown


def _uuid_from_int(i: int) -> UUID:
    # ~3x faster than UUID(int=i): skips argument parsing; UUID is an
    # immutable slotted class holding just `int` and `is_safe`.
    u = _new_object(UUID)
    _set_attr(u, "int", i)
    _set_attr(u, "is_safe", _UNKNOWN)
    return u


def _uuid_from_bytes(b: Data) -> UUID:
    u = _new_object(UUID)
    _set_attr(u, "int", int.from_bytes(b, "big"))
    _set_attr(u, "is_safe", _UNKNOWN)
    return u


try:
    _probe = bytes(range(16))
    if _uuid_from_bytes(_probe) != UUID(bytes=_probe) or str(_uuid_from_bytes(_probe)) != str(UUID(bytes=_probe)):
        raise TypeError
except (TypeError, AttributeError):  # pragma: no cover - UUID layout changed
    def _uuid_from_bytes(b: Data) -> UUID:
        return UUID(bytes=bytes(b))

    def _uuid_from_int(i: int) -> UUID:
        return UUID(int=i)

#: A UUID from its 16 bytes, faster than UUID(bytes=...); for hot decode paths.
uuid_from_bytes = _uuid_from_bytes

# RFC 4122 variant and version 4 bits, set as uuid.UUID(version=4) sets them.
_V4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_V4_SET = (0x8000 << 48) | (4 << 76)


def random_uuid() -> UUID:
    """A random (version 4) UUID, as uuid.uuid4() makes, in half its time."""
    return _uuid_from_int((int.from_bytes(os.urandom(16), "big") & _V4_CLEAR) | _V4_SET)


class _UuidKey(KeyCodec):
    name = "uuid"
    expected = "uuid.UUID"
    fixed_size = 16

    def encode(self, value: Any) -> bytes:
        if value.__class__ is UUID or isinstance(value, UUID):
            return value.bytes
        raise self._type_error(value)

    encode_nested = encode

    # Tables call this on their hottest path: a C-level attribute getter. A
    # value without .bytes raises AttributeError, which tables report as a
    # TypeError naming themselves.
    encode_fast = operator.attrgetter("bytes")

    def decode(self, data: Data) -> UUID:
        if len(data) != 16:
            raise InvalidArgument(f"uuid key must be 16 bytes, got {len(data)}")
        return _uuid_from_bytes(data)

    def decode_nested(self, data: Data, pos: int) -> tuple[UUID, int]:
        end = pos + 16
        if end > len(data):
            raise InvalidArgument("truncated uuid key part")
        return _uuid_from_bytes(data[pos:end]), end


# ------------------------------------------------------------------ str / bytes


def _unescape(data: Data, pos: int) -> tuple[bytes, int]:
    """Read an escaped, terminated byte string starting at ``pos``."""
    if data.__class__ is not bytes:
        data = bytes(data)
    find = data.find
    start = pos
    chunks: list[bytes] = []
    while True:
        i = find(_NUL, start)
        if i < 0 or i + 1 >= len(data):
            raise InvalidArgument("unterminated variable-length key part")
        marker = data[i + 1]
        if marker == 0x00:
            if not chunks:
                return data[start:i], i + 2
            chunks.append(data[start:i])
            return b"".join(chunks), i + 2
        if marker != 0xFF:
            raise InvalidArgument(f"invalid escape 0x00 0x{marker:02x} in key part")
        chunks.append(data[start : i + 1])
        start = i + 2


class _StrKey(KeyCodec):
    # UTF-8 preserves code point order, which is how Python compares str.
    name = "str"
    expected = "str"

    def encode(self, value: Any) -> bytes:
        if value.__class__ is not str and not isinstance(value, str):
            raise self._type_error(value)
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise InvalidArgument(f"str key is not encodable as UTF-8 (lone surrogate at index {e.start})") from None

    def encode_nested(self, value: Any) -> bytes:
        return self.encode(value).replace(_NUL, _ESC_NUL) + _TERM

    def decode(self, data: Data) -> str:
        return bytes(data).decode("utf-8")

    def decode_nested(self, data: Data, pos: int) -> tuple[str, int]:
        raw, pos = _unescape(data, pos)
        return raw.decode("utf-8"), pos


class _BytesKey(KeyCodec):
    name = "bytes"
    expected = "bytes"

    def encode(self, value: Any) -> bytes:
        if value.__class__ is bytes:
            return value
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        raise self._type_error(value)

    def encode_nested(self, value: Any) -> bytes:
        return self.encode(value).replace(_NUL, _ESC_NUL) + _TERM

    def decode(self, data: Data) -> bytes:
        return bytes(data)

    def decode_nested(self, data: Data, pos: int) -> tuple[bytes, int]:
        return _unescape(data, pos)


class _FixedBytesKey(KeyCodec):
    fixed_size: int

    def __init__(self, size: int) -> None:
        self.fixed_size = size
        self.name = f"bytes{size}"
        self.expected = f"bytes of length {size}"

    def encode(self, value: Any) -> bytes:
        if value.__class__ is not bytes:
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise self._type_error(value)
            value = bytes(value)
        if len(value) != self.fixed_size:
            raise InvalidArgument(f"key must be {self.expected}, got {len(value)} bytes")
        return value

    def encode_nested(self, value: Any) -> bytes:
        return self.encode(value)

    def decode(self, data: Data) -> bytes:
        if len(data) != self.fixed_size:
            raise InvalidArgument(f"{self.name} key must be {self.fixed_size} bytes, got {len(data)}")
        return bytes(data)

    def decode_nested(self, data: Data, pos: int) -> tuple[bytes, int]:
        end = pos + self.fixed_size
        if end > len(data):
            raise InvalidArgument(f"truncated {self.name} key part")
        return bytes(data[pos:end]), end


# ------------------------------------------------------------------- integers


def _as_int(value: Any, expected: str) -> int:
    """Slow path for ints: subclasses and numpy integers; bool is rejected."""
    if isinstance(value, bool):
        raise WrongType(f"key must be {expected}, got bool")
    if isinstance(value, int):
        return int(value)
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.integer):
        return int(value)
    raise WrongType(f"key must be {expected}, got {type(value).__name__}")


class _UintKey(KeyCodec):
    fixed_size: int

    def __init__(self, bits: int, fmt: str) -> None:
        self._struct = struct.Struct(fmt)
        self._pack = self._struct.pack
        self._unpack = self._struct.unpack
        self._unpack_from = self._struct.unpack_from
        self._max = (1 << bits) - 1
        self.fixed_size = self._struct.size
        self.unsigned_part = (fmt[-1], 0)
        self.name = f"uint{bits}"
        self.expected = f"int in 0..2**{bits}-1"

    def encode(self, value: Any) -> bytes:
        if value.__class__ is not int:
            value = _as_int(value, self.expected)
        if 0 <= value <= self._max:
            return self._pack(value)
        raise InvalidArgument(f"key {value} out of range: expected {self.expected}")

    def encode_nested(self, value: Any) -> bytes:
        return self.encode(value)

    def decode(self, data: Data) -> int:
        try:
            return self._unpack(data)[0]
        except struct.error:
            raise InvalidArgument(f"{self.name} key must be {self.fixed_size} bytes, got {len(data)}") from None

    def decode_nested(self, data: Data, pos: int) -> tuple[int, int]:
        try:
            return self._unpack_from(data, pos)[0], pos + self.fixed_size
        except struct.error:
            raise InvalidArgument(f"truncated {self.name} key part") from None


# ------------------------------------------------------------------ timestamps

_NS_MIN = -(1 << 63)
_NS_MAX = (1 << 63) - 1
_NS_BIAS = 1 << 63
_NS_PER_DAY = 86_400 * 10**9
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_DATE = date(1970, 1, 1)

# numpy datetime64 units with a fixed length: ns per unit (multiply) or
# units per ns (floor-divide, i.e. truncate toward -inf).
_NP_MUL = {
    "W": 7 * _NS_PER_DAY,
    "D": _NS_PER_DAY,
    "h": 3600 * 10**9,
    "m": 60 * 10**9,
    "s": 10**9,
    "ms": 10**6,
    "us": 10**3,
    "ns": 1,
}
_NP_DIV = {"ps": 10**3, "fs": 10**6, "as": 10**9}


def _check_ns(ns: int, value: Any) -> int:
    if _NS_MIN <= ns <= _NS_MAX:
        return ns
    raise InvalidArgument(f"timestamp {value!r} out of range: int64 nanoseconds since 1970-01-01 UTC")


def _datetime64_to_ns(np: Any, value: Any) -> int:
    if np.isnat(value):
        raise InvalidArgument("timestamp is NaT")
    unit, count = np.datetime_data(value.dtype)
    n = int(value.astype(np.int64)) * count
    mul = _NP_MUL.get(unit)
    if mul is not None:
        return _check_ns(n * mul, value)
    div = _NP_DIV.get(unit)
    if div is not None:
        return _check_ns(n // div, value)
    # Years and months have no fixed length: go through the calendar. The
    # int64 ns range spans ~292 years either side of 1970; bound first so
    # the date arithmetic stays within year 1..9999.
    if unit == "Y":
        months = n * 12
    elif unit == "M":
        months = n
    else:
        raise InvalidArgument(f"unsupported datetime64 unit {unit!r}")
    if not -300 * 12 <= months <= 300 * 12:
        raise InvalidArgument(f"timestamp {value!r} out of range: int64 nanoseconds since 1970-01-01 UTC")
    years, month0 = divmod(months, 12)
    days = (date(1970 + years, month0 + 1, 1) - _EPOCH_DATE).days
    return _check_ns(days * _NS_PER_DAY, value)


def to_ns(value: Any) -> int:
    """Convert a timestamp to signed int nanoseconds since the Unix epoch (UTC).

    Accepts int (already ns; bool rejected), timezone-aware ``datetime`` and
    ``numpy.datetime64`` of any unit. Raises TypeError for other types and
    ValueError for naive datetimes, NaT and values outside int64 ns.
    """
    if value.__class__ is int:
        return _check_ns(value, value)
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise InvalidArgument("naive datetime; use an aware datetime (UTC)")
        # Exact integer arithmetic on the timedelta; no float rounding.
        d = value - _EPOCH
        ns = (d.days * 86_400 + d.seconds) * 10**9 + d.microseconds * 1000
        return _check_ns(ns, value)
    # numpy stays optional: a numpy value can only exist if numpy is imported.
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.datetime64):
        return _datetime64_to_ns(np, value)
    return _check_ns(_as_int(value, TIMESTAMP_KEY.expected), value)


class _TimestampKey(KeyCodec):
    # Biasing by 2**63 maps signed ns onto unsigned big-endian, so instants
    # before 1970 sort before those after it.
    name = "timestamp"
    expected = "int ns|datetime|datetime64"
    fixed_size = 8
    unsigned_part = ("Q", _NS_BIAS)

    _struct = struct.Struct(">Q")

    def __init__(self) -> None:
        self._pack = self._struct.pack
        self._unpack = self._struct.unpack
        self._unpack_from = self._struct.unpack_from

    def encode(self, value: Any) -> bytes:
        if value.__class__ is int and _NS_MIN <= value <= _NS_MAX:
            return self._pack(value + _NS_BIAS)
        return self._pack(to_ns(value) + _NS_BIAS)

    def encode_nested(self, value: Any) -> bytes:
        return self.encode(value)

    def decode(self, data: Data) -> int:
        try:
            return self._unpack(data)[0] - _NS_BIAS
        except struct.error:
            raise InvalidArgument(f"timestamp key must be 8 bytes, got {len(data)}") from None

    def decode_nested(self, data: Data, pos: int) -> tuple[int, int]:
        try:
            return self._unpack_from(data, pos)[0] - _NS_BIAS, pos + 8
        except struct.error:
            raise InvalidArgument("truncated timestamp key part") from None


# ---------------------------------------------------------------------- tuples


_JUST_INT = {int}


class Tuple(KeyCodec):
    """Composite key: parts compare lexicographically, like Python tuples."""

    def __init__(self, *parts: Any) -> None:
        if not parts:
            raise InvalidArgument("Tuple key needs at least one part")
        self.parts: tuple[KeyCodec, ...] = tuple(key_codec(p) for p in parts)
        self._n = len(self.parts)
        self.name = "tuple(" + ",".join(p.name for p in self.parts) + ")"
        self.expected = "tuple(" + ", ".join(p.expected for p in self.parts) + ")"
        sizes = [p.fixed_size for p in self.parts]
        self.fixed_size = None if None in sizes else sum(sizes)  # type: ignore[arg-type]
        # Bound methods precomputed so the hot path is a single comprehension.
        self._nested = tuple(p.encode_nested for p in self.parts)
        self._final = self._nested[:-1] + (self.parts[-1].encode,)
        self._head_dec = tuple(p.decode_nested for p in self.parts[:-1])
        self._last_dec = self.parts[-1].decode
        self._all_dec = tuple(p.decode_nested for p in self.parts)
        # Tuples of unsigned integers and timestamps (history and delivery keys) decode in one call.
        unsigned = [p.unsigned_part for p in self.parts if p.unsigned_part is not None]
        whole = len(unsigned) == self._n
        whole_struct = struct.Struct(">" + "".join(u[0] for u in unsigned)) if whole else None
        self._unpack_all = whole_struct.unpack if whole_struct else None
        self._pack_all = whole_struct.pack if whole_struct else None
        self._biases = tuple(u[1] for u in unsigned) if whole and any(u[1] for u in unsigned) else None

    def _check(self, value: Any) -> None:
        if value.__class__ is not tuple and not isinstance(value, (tuple, list)):
            raise self._type_error(value)
        if len(value) != self._n:
            raise InvalidArgument(f"key must be a tuple of {self._n} parts ({self.expected}), got {len(value)}")

    def _encode(self, encoders: tuple, value: Any) -> bytes:
        self._check(value)
        try:
            return b"".join([enc(v) for enc, v in zip(encoders, value)])
        except (TypeError, ValueError):
            self._blame(encoders, value)
            raise

    @staticmethod
    def _blame(encoders: tuple, value: Any) -> None:
        # Error path only: re-run part by part to name the offending position.
        for i, (enc, v) in enumerate(zip(encoders, value)):
            try:
                enc(v)
            except (TypeError, ValueError) as e:
                raise type(e)(f"tuple key part {i}: {e}") from e

    def encode(self, value: Any) -> bytes:
        # Tuples of plain ints for unsigned and timestamp parts (delivery keys) pack in one call; anything
        # else, or a value out of range (struct.error), takes the part by part path, which names the part.
        if self._pack_all is not None and value.__class__ is tuple and len(value) == self._n \
                and {*map(type, value)} == _JUST_INT:
            try:
                if self._biases is None:
                    return self._pack_all(*value)
                return self._pack_all(*map(operator.add, value, self._biases))
            except struct.error:
                pass
        return self._encode(self._final, value)

    def encode_nested(self, value: Any) -> bytes:
        return self._encode(self._nested, value)

    def decode(self, data: Data) -> tuple:
        if self._unpack_all is not None:
            try:
                values = self._unpack_all(data)
            except struct.error:
                pass  # the part by part decode below names what is wrong
            else:
                if self._biases is None:
                    return values
                return tuple(map(operator.sub, values, self._biases))
        if data.__class__ is not bytes:
            data = bytes(data)
        out = []
        pos = 0
        for dec in self._head_dec:
            v, pos = dec(data, pos)
            out.append(v)
        out.append(self._last_dec(data[pos:]))
        return tuple(out)

    def decode_nested(self, data: Data, pos: int) -> tuple[tuple, int]:
        if data.__class__ is not bytes:
            data = bytes(data)
        out = []
        for dec in self._all_dec:
            v, pos = dec(data, pos)
            out.append(v)
        return tuple(out), pos

    def encode_prefix(self, prefix: Any) -> bytes:
        """Prefix selecting keys whose leading parts equal ``prefix``.

        ``prefix`` is a tuple of the first k parts (a non-tuple is taken as
        a 1-tuple). Given parts match exactly; with all n parts given the
        full key encoding is used, so a str/bytes last part matches as a
        text prefix.
        """
        if not isinstance(prefix, (tuple, list)):
            prefix = (prefix,)
        k = len(prefix)
        if k == self._n:
            return self.encode(prefix)
        if not 0 < k < self._n:
            raise InvalidArgument(f"prefix must have 1..{self._n} parts ({self.expected}), got {k}")
        encoders = self._nested[:k]
        try:
            return b"".join([enc(v) for enc, v in zip(encoders, prefix)])
        except (TypeError, ValueError):
            self._blame(encoders, prefix)
            raise


# ------------------------------------------------------------------ singletons

UUID_KEY = _UuidKey()
STR_KEY = _StrKey()
BYTES_KEY = _BytesKey()
BYTES16_KEY = _FixedBytesKey(16)
BYTES20_KEY = _FixedBytesKey(20)
BYTES32_KEY = _FixedBytesKey(32)
UINT8_KEY = _UintKey(8, ">B")
UINT16_KEY = _UintKey(16, ">H")
UINT32_KEY = _UintKey(32, ">I")
UINT64_KEY = _UintKey(64, ">Q")
# Object ids are plain uint64 keys; same bytes, so the same signature.
OID_KEY = UINT64_KEY
TIMESTAMP_KEY = _TimestampKey()

_BY_NAME: dict[str, KeyCodec] = {
    c.name: c
    for c in (
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
    )
}
_BY_NAME["oid"] = OID_KEY


def _split_top(inner: str) -> list[str]:
    """Split a signature's argument list on commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    return [p.strip() for p in parts]


def key_codec(spec: Any) -> KeyCodec:
    """Resolve a key spec: a codec, a name (incl. a stored signature such as
    ``"tuple(timestamp,uuid)"``), or a tuple of specs."""
    if isinstance(spec, KeyCodec):
        return spec
    if isinstance(spec, str):
        codec = _BY_NAME.get(spec)
        if codec is not None:
            return codec
        s = spec.replace(" ", "")
        if s.startswith("tuple(") and s.endswith(")") and len(s) > 7:
            return Tuple(*_split_top(s[6:-1]))
        raise InvalidArgument(f"unknown key type {spec!r}; expected one of {sorted(_BY_NAME)} or tuple(...)")
    if isinstance(spec, (tuple, list)):
        return Tuple(*spec)
    raise WrongType(f"key spec must be a KeyCodec, a name or a tuple of specs, got {type(spec).__name__}")
