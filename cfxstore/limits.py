"""Size limits, in UTF-8 bytes, of the names that end up inside index keys.

One place for every layer that stores a name: the credential layer refuses
longer names, and every index that holds them (credentials, principals,
cookies by authid, sessions by authid) must fit any name it accepts. The
engine refuses keys over its limit (LMDB: 511 bytes); the longest key is a
credential's (authmethod, realm, authid), each part escaped and terminated:
("wampcra" + 2) + (240 + 2) + 255 = 506. Cookies by authid need authid + 18
bytes, sessions by authid authid + 26. Limits are bytes, not characters: 255
four-byte characters are 1,020 bytes. The records declare them (cfxstore.fields, max_bytes).
"""

from __future__ import annotations

MAX_REALM_BYTES = 240
MAX_AUTHID_BYTES = 255
MAX_ROLE_BYTES = 255
