"""Value codecs: how a table turns a stored object into bytes and back.

A codec is a pair of plain callables so that tables can call them directly on
the hot path; ``signature`` is what the catalog stores and compares.
"""

from __future__ import annotations

import inspect
import json
import struct
import uuid
from typing import Any, Callable

import cbor2

from .core import Decoder as FastDecoder
from .entity import TYPED_OBJECT_MARK, cbor_default, cbor_tag_hook
from .errors import InvalidArgument, SchemaError, ValueCodecError, WrongType

Encoder = Callable[[Any], bytes]
Decoder = Callable[[bytes], Any]


class ValueCodec:
    """encode/decode callables plus the signature stored in the catalog.

    ``encode``/``decode`` are the fast paths (often plain C functions). A codec
    may add ``encode_slow`` (tried when ``encode`` raises) and ``decode_slow``
    with a ``marker``: stored bytes containing the marker take the slow decode.
    """

    __slots__ = ("signature", "encode", "decode", "encode_slow", "decode_slow", "marker")

    def __init__(self, signature: str, encode: Encoder, decode: Decoder, *, encode_slow: Encoder | None = None,
                 decode_slow: Decoder | None = None, marker: bytes | None = None) -> None:
        self.signature = signature
        self.encode = encode
        self.decode = decode
        self.encode_slow = encode_slow
        self.decode_slow = decode_slow
        self.marker = marker

    def __repr__(self) -> str:
        return f"ValueCodec({self.signature!r})"


# Passing default=/tag_hook= costs cbor2 about 0.3 us per call, so plain data
# goes through bare dumps/loads and only typed objects take the hooks.
def _cbor_encode_typed(obj: Any) -> bytes:
    return cbor2.dumps(obj, default=cbor_default)


def _cbor_decode_typed(data: bytes) -> Any:
    return cbor2.loads(data, tag_hook=cbor_tag_hook)


def _cbor_encode(obj: Any) -> bytes:
    try:
        return cbor2.dumps(obj)
    except cbor2.CBOREncodeError:
        return _cbor_encode_typed(obj)


def _cbor_decode(data: bytes) -> Any:
    if TYPED_OBJECT_MARK in data:
        return _cbor_decode_typed(data)
    return cbor2.loads(data)


def _json_encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _json_decode(data: bytes) -> Any:
    return json.loads(data)


def _bytes_encode(obj: Any) -> bytes:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    raise WrongType(f"expected bytes, got {type(obj).__name__}")


def _str_encode(obj: Any) -> bytes:
    if isinstance(obj, str):
        return obj.encode()
    raise WrongType(f"expected str, got {type(obj).__name__}")


def _uuid_encode(obj: Any) -> bytes:
    if isinstance(obj, uuid.UUID):
        return obj.bytes
    raise WrongType(f"expected uuid.UUID, got {type(obj).__name__}")


def _uuid_decode(data: bytes) -> uuid.UUID:
    return uuid.UUID(bytes=bytes(data))


_U64 = struct.Struct(">Q")


def _oid_encode(obj: Any) -> bytes:
    if isinstance(obj, bool) or not isinstance(obj, int):
        raise WrongType(f"expected int, got {type(obj).__name__}")
    if not 0 <= obj < 2**64:
        raise InvalidArgument(f"oid {obj} outside 0..2**64-1")
    return _U64.pack(obj)


def _oid_decode(data: bytes) -> int:
    return _U64.unpack(data)[0]


def _numpy_encode(obj: Any) -> bytes:
    # numpy is optional (the numpy extra).
    import numpy
    from numpy.lib.format import dtype_to_descr
    if not isinstance(obj, numpy.ndarray):
        raise WrongType(f"expected numpy.ndarray, got {type(obj).__name__}")
    if obj.dtype.hasobject:
        raise WrongType("numpy arrays of Python objects cannot be stored")
    # dtype_to_descr is dtype.str for plain dtypes (the older header) and the
    # field list, names and offsets included, for structured ones.
    header: list[Any] = [dtype_to_descr(obj.dtype), list(obj.shape)]
    if isinstance(obj, numpy.recarray):
        header.append("recarray")
    head = cbor2.dumps(header)
    return _U64.pack(len(head))[6:] + head + numpy.ascontiguousarray(obj).tobytes()


def _numpy_decode(data: bytes) -> Any:
    # numpy is optional (the numpy extra).
    import numpy
    from numpy.lib.format import descr_to_dtype
    n = int.from_bytes(data[:2], "big")
    descr, shape, *kind = cbor2.loads(data[2:2 + n])
    # A read-only view over the engine's buffer: no second copy.
    array = numpy.frombuffer(data, dtype=descr_to_dtype(descr), offset=2 + n).reshape(shape)
    return array.view(numpy.recarray) if kind == ["recarray"] else array


def _takes_builder(build: Callable[..., Any]) -> bool:
    """True for zlmdb's FlatBuffers contract, build(obj, builder) -> offset (two positional arguments)."""
    try:
        params = inspect.signature(build).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: the bytes contract
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is p.empty]
    return len(positional) == 2


def flatbuffers_marshal(build: Callable[..., Any]) -> Callable[[Any], Any]:
    """A table's FlatBuffers build as obj -> bytes.

    Accepts both contracts: ``build(obj) -> bytes`` and zlmdb's (which cfxdb
    and pydefi classes follow) ``build(obj, builder) -> offset``, where the
    table owns the builder and finishes the buffer.
    """
    if not _takes_builder(build):
        return build

    # Imported here: the flatbuffers package imports numpy whenever it is installed (a tenth of a
    # second), and only tables with FlatBuffers values need it.
    import flatbuffers

    def marshal(obj: Any) -> bytes:
        builder = flatbuffers.Builder(0)
        builder.Finish(build(obj, builder))
        return builder.Output()

    return marshal


CBOR = ValueCodec("cbor", cbor2.dumps, cbor2.loads, encode_slow=_cbor_encode_typed,
                  decode_slow=_cbor_decode_typed, marker=TYPED_OBJECT_MARK)
JSON = ValueCodec("json", _json_encode, _json_decode)
BYTES = ValueCodec("bytes", _bytes_encode, bytes)
STR = ValueCodec("str", _str_encode, lambda data: bytes(data).decode())
UUID = ValueCodec("uuid", _uuid_encode, _uuid_decode)
OID = ValueCodec("oid", _oid_encode, _oid_decode)
NUMPY = ValueCodec("numpy", _numpy_encode, _numpy_decode)
# A placeholder codec: encode/decode come from the table's build/cast.
FLATBUFFERS = ValueCodec("flatbuffers", _bytes_encode, bytes)

_BY_NAME = {c.signature: c for c in (CBOR, JSON, BYTES, STR, UUID, OID, NUMPY, FLATBUFFERS)}
_BY_NAME["uint64"] = OID


def value_codec(spec: str | ValueCodec) -> ValueCodec:
    """Resolve a value spec ('cbor', 'json', 'bytes', 'str', 'uuid', 'oid', 'numpy', 'flatbuffers')."""
    if isinstance(spec, ValueCodec):
        return spec
    try:
        return _BY_NAME[spec]
    except (KeyError, TypeError):
        raise SchemaError(f"unknown value type {spec!r}; expected one of {', '.join(sorted(_BY_NAME))}") from None


def compose(codec: ValueCodec, marshal: Callable[[Any], Any] | None,
            unmarshal: Callable[[Any], Any] | None) -> tuple[Encoder, Decoder]:
    """One encode and one decode callable with the table's hooks folded in.

    Without hooks these are the codec's own fast callables; the caller
    handles the slow paths (see Map).
    """
    if marshal is None and unmarshal is None:
        return codec.encode, codec.decode
    if codec is FLATBUFFERS and marshal is not None:
        marshal = flatbuffers_marshal(marshal)
    enc = _cbor_encode if codec is CBOR else codec.encode
    dec = codec.decode
    if marshal is not None:
        encode: Encoder = lambda obj: enc(marshal(obj))  # noqa: E731
    else:
        encode = enc
    if codec is CBOR and FastDecoder is not None:
        return encode, FastDecoder(cbor2.loads, _cbor_decode_typed, TYPED_OBJECT_MARK, unmarshal)
    if unmarshal is None:
        return encode, (_cbor_decode if codec is CBOR else dec)
    if codec is CBOR:
        # One frame on the read path: the typed-object check is inlined.
        loads, mark = cbor2.loads, TYPED_OBJECT_MARK

        def decode(data: bytes) -> Any:
            return unmarshal(_cbor_decode_typed(data) if mark in data else loads(data))
    else:
        def decode(data: bytes) -> Any:
            return unmarshal(dec(data))
    return encode, decode


def fail_encode(table: str, signature: str, obj: Any, exc: Exception) -> ValueCodecError:
    return ValueCodecError(f"table {table}: cannot encode {type(obj).__name__} as {signature}: {exc}")
