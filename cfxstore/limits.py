"""Size limits, in UTF-8 bytes, of the names that end up inside index keys.

One place for every layer that stores a name: the credential layer refuses
longer names, and every index that holds them (credentials, principals,
cookies by authid, sessions by authid) must fit any name it accepts. The
engine refuses keys over its limit (LMDB: 511 bytes); the longest key is a
credential's (authmethod, realm, authid), each part escaped and terminated:
("wampcra" + 2) + (240 + 2) + 255 = 506. Cookies by authid need authid + 18
bytes, sessions by authid authid + 26. Limits are bytes, not characters: 255
four-byte characters are 1,020 bytes.
"""

from __future__ import annotations

from cfxstore.errors import InvalidArgument

MAX_REALM_BYTES = 240
MAX_AUTHID_BYTES = 255
MAX_ROLE_BYTES = 255


def require_bytes(owner: str, field: str, value: object, limit: int) -> None:
    """Raise InvalidArgument (a ValueError) naming owner.field if str value is longer than limit UTF-8 bytes."""
    if isinstance(value, str):
        size = len(value.encode("utf-8", "surrogatepass"))
        if size > limit:
            raise InvalidArgument(f"{owner}.{field}: at most {limit} UTF-8 bytes, got {size}")
