"""Size limits, in UTF-8 bytes, of the names that end up inside index keys.

An index key holds the name plus its escaping and the record's key, and the
engine refuses keys over its limit (LMDB: 511 bytes). The longest such key is
a credential's (authmethod, realm, authid); with each name at most 240 bytes
it stays under the limit, so every name a principal may have also fits the
cookie and session indexes by authid. Limits are bytes, not characters: 255
four-byte characters are 1,020 bytes.
"""

from __future__ import annotations

from typing import Any

AUTHID_MAX_BYTES = 240
REALM_MAX_BYTES = 240
ROLE_MAX_BYTES = 240


def check_bytes(owner: str, name: str, value: Any, limit: int) -> None:
    """Raise ValueError naming owner.name if str value is longer than limit UTF-8 bytes."""
    if isinstance(value, str):
        size = len(value.encode("utf-8", "surrogatepass"))
        if size > limit:
            raise ValueError(f"{owner}.{name}: at most {limit} UTF-8 bytes, got {size}")
