"""The named maps: each is one line over Map or SetMap.

Name = Map + key parts + value kind; a name ending in ``Set`` is a SetMap
whose members are of the last type named before it.
"""

from __future__ import annotations

from typing import Any

from .map import Map
from .setmap import SetMap
from .table import Table


def alias(name: str, base: type[Table] = Map, **defaults: Any) -> type:
    """A subclass of base whose constructor has other defaults for key/value/member."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        base.__init__(self, *args, **{**defaults, **kwargs})

    return type(name, (base,), {"__init__": __init__, "__slots__": (), "__doc__": f"{base.__name__} with {defaults}.",
                                "__module__": "orm"})


# uuid keys
MapUuidCbor = alias("MapUuidCbor", key="uuid", value="cbor")
MapUuidJson = alias("MapUuidJson", key="uuid", value="json")
MapUuidFlatBuffers = alias("MapUuidFlatBuffers", key="uuid", value="flatbuffers")
MapUuidNumpy = alias("MapUuidNumpy", key="uuid", value="numpy")
MapUuidBytes = alias("MapUuidBytes", key="uuid", value="bytes")
MapUuidString = alias("MapUuidString", key="uuid", value="str")
MapUuidUuid = alias("MapUuidUuid", key="uuid", value="uuid")
MapUuidOid = alias("MapUuidOid", key="uuid", value="oid")
MapUuidUuidSet = alias("MapUuidUuidSet", SetMap, key="uuid", member="uuid")
MapUuidOidSet = alias("MapUuidOidSet", SetMap, key="uuid", member="uint64")
MapUuidUuidCbor = alias("MapUuidUuidCbor", key=("uuid", "uuid"), value="cbor")
MapUuidUuidUuid = alias("MapUuidUuidUuid", key=("uuid", "uuid"), value="uuid")
MapUuidUuidFlatBuffers = alias("MapUuidUuidFlatBuffers", key=("uuid", "uuid"), value="flatbuffers")
MapUuidStringUuid = alias("MapUuidStringUuid", key=("uuid", "str"), value="uuid")
MapUuidStringCbor = alias("MapUuidStringCbor", key=("uuid", "str"), value="cbor")
MapUuidTimestampCbor = alias("MapUuidTimestampCbor", key=("uuid", "timestamp"), value="cbor")
MapUuidTimestampUuid = alias("MapUuidTimestampUuid", key=("uuid", "timestamp"), value="uuid")
MapUuidTimestampFlatBuffers = alias("MapUuidTimestampFlatBuffers", key=("uuid", "timestamp"), value="flatbuffers")
MapUuidUuidStringUuid = alias("MapUuidUuidStringUuid", key=("uuid", "uuid", "str"), value="uuid")
# str keys
MapStringUuid = alias("MapStringUuid", key="str", value="uuid")
MapStringOid = alias("MapStringOid", key="str", value="oid")
MapStringCbor = alias("MapStringCbor", key="str", value="cbor")
MapStringJson = alias("MapStringJson", key="str", value="json")
MapStringString = alias("MapStringString", key="str", value="str")
MapStringFlatBuffers = alias("MapStringFlatBuffers", key="str", value="flatbuffers")
MapStringUuidSet = alias("MapStringUuidSet", SetMap, key="str", member="uuid")
MapStringOidSet = alias("MapStringOidSet", SetMap, key="str", member="uint64")
MapStringStringUuid = alias("MapStringStringUuid", key=("str", "str"), value="uuid")
MapStringTimestampCbor = alias("MapStringTimestampCbor", key=("str", "timestamp"), value="cbor")
# bytes keys
MapBytesUuid = alias("MapBytesUuid", key="bytes", value="uuid")
MapBytesCbor = alias("MapBytesCbor", key="bytes", value="cbor")
MapBytes16Uuid = alias("MapBytes16Uuid", key="bytes16", value="uuid")
MapBytes20Uuid = alias("MapBytes20Uuid", key="bytes20", value="uuid")
MapBytes20Cbor = alias("MapBytes20Cbor", key="bytes20", value="cbor")
MapBytes32Uuid = alias("MapBytes32Uuid", key="bytes32", value="uuid")
MapBytes32Oid = alias("MapBytes32Oid", key="bytes32", value="oid")
MapBytes32Cbor = alias("MapBytes32Cbor", key="bytes32", value="cbor")
# oid (uint64) keys
MapOidCbor = alias("MapOidCbor", key="uint64", value="cbor")
MapOidJson = alias("MapOidJson", key="uint64", value="json")
MapOidFlatBuffers = alias("MapOidFlatBuffers", key="uint64", value="flatbuffers")
MapOidNumpy = alias("MapOidNumpy", key="uint64", value="numpy")
MapOidOid = alias("MapOidOid", key="uint64", value="oid")
MapOidUuid = alias("MapOidUuid", key="uint64", value="uuid")
MapOidOidSet = alias("MapOidOidSet", SetMap, key="uint64", member="uint64")
MapOidUuidSet = alias("MapOidUuidSet", SetMap, key="uint64", member="uuid")
MapOidOidCbor = alias("MapOidOidCbor", key=("uint64", "uint64"), value="cbor")
MapOidTimestampCbor = alias("MapOidTimestampCbor", key=("uint64", "timestamp"), value="cbor")
MapOidTimestampOid = alias("MapOidTimestampOid", key=("uint64", "timestamp"), value="oid")
MapUint64TimestampUuid = alias("MapUint64TimestampUuid", key=("uint64", "timestamp"), value="uuid")
MapUint16Cbor = alias("MapUint16Cbor", key="uint16", value="cbor")
MapUint32Cbor = alias("MapUint32Cbor", key="uint32", value="cbor")
# timestamp keys
MapTimestampCbor = alias("MapTimestampCbor", key="timestamp", value="cbor")
MapTimestampFlatBuffers = alias("MapTimestampFlatBuffers", key="timestamp", value="flatbuffers")
MapTimestampNumpy = alias("MapTimestampNumpy", key="timestamp", value="numpy")
MapTimestampUuid = alias("MapTimestampUuid", key="timestamp", value="uuid")
MapTimestampUuidCbor = alias("MapTimestampUuidCbor", key=("timestamp", "uuid"), value="cbor")
MapTimestampUuidFlatBuffers = alias("MapTimestampUuidFlatBuffers", key=("timestamp", "uuid"), value="flatbuffers")
MapTimestampOidCbor = alias("MapTimestampOidCbor", key=("timestamp", "uint64"), value="cbor")
MapTimestampStringCbor = alias("MapTimestampStringCbor", key=("timestamp", "str"), value="cbor")
MapTimestampUuidStringCbor = alias("MapTimestampUuidStringCbor", key=("timestamp", "uuid", "str"), value="cbor")

# Spelled out so that type checkers see each name orm exports.
__all__ = [
    "Map", "MapBytes16Uuid", "MapBytes20Cbor", "MapBytes20Uuid", "MapBytes32Cbor", "MapBytes32Oid",
    "MapBytes32Uuid", "MapBytesCbor", "MapBytesUuid", "MapOidCbor", "MapOidFlatBuffers", "MapOidJson",
    "MapOidNumpy", "MapOidOid", "MapOidOidCbor", "MapOidOidSet", "MapOidTimestampCbor", "MapOidTimestampOid",
    "MapOidUuid", "MapOidUuidSet", "MapStringCbor", "MapStringFlatBuffers", "MapStringJson", "MapStringOid",
    "MapStringOidSet", "MapStringString", "MapStringStringUuid", "MapStringTimestampCbor", "MapStringUuid",
    "MapStringUuidSet", "MapTimestampCbor", "MapTimestampFlatBuffers", "MapTimestampNumpy", "MapTimestampOidCbor",
    "MapTimestampStringCbor", "MapTimestampUuid", "MapTimestampUuidCbor", "MapTimestampUuidFlatBuffers",
    "MapTimestampUuidStringCbor", "MapUint16Cbor", "MapUint32Cbor", "MapUint64TimestampUuid", "MapUuidBytes",
    "MapUuidCbor", "MapUuidFlatBuffers", "MapUuidJson", "MapUuidNumpy", "MapUuidOid", "MapUuidOidSet",
    "MapUuidString", "MapUuidStringCbor", "MapUuidStringUuid", "MapUuidTimestampCbor",
    "MapUuidTimestampFlatBuffers", "MapUuidTimestampUuid", "MapUuidUuid", "MapUuidUuidCbor",
    "MapUuidUuidFlatBuffers", "MapUuidUuidSet", "MapUuidUuidStringUuid", "MapUuidUuidUuid", "alias",
]
