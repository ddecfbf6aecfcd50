"""CookieStore: the tables of persistent cookie authentication.

Slots: tables 1-9, indexes 100-109.
"""

from __future__ import annotations

import orm

from .entities import Cookie


class CookieStore(orm.Schema):
    """Cookies keyed by a random UUID, found by value hash, authid or expiry.

    The raw cookie value is never stored: ``idx_cookies_by_value`` maps the
    SHA-256 of the value to the cookie, so a lookup costs one hash and two
    point reads.
    """

    cookies: orm.Map
    idx_cookies_by_value: orm.Map
    idx_cookies_by_authid: orm.SetMap
    idx_cookies_by_expiry: orm.SetMap

    def attach(self, db: orm.Database) -> None:
        self.cookies = orm.MapUuidCbor(1, marshal=Cookie.marshal, unmarshal=Cookie.load)

        self.idx_cookies_by_value = orm.MapBytes32Uuid(100)
        self.cookies.attach_index("idx_cookies_by_value", self.idx_cookies_by_value,
                                  lambda c: c.value_hash)

        # Anonymous cookies (no authid yet) are simply not in this index.
        self.idx_cookies_by_authid = orm.SetMap(101, key="str", member="uuid")
        self.cookies.attach_index("idx_cookies_by_authid", self.idx_cookies_by_authid,
                                  lambda c: c.authid, unique=False, nullable=True)

        # Ordered by expiry so purging reads only the expired range.
        self.idx_cookies_by_expiry = orm.SetMap(102, key="timestamp", member="uuid")
        self.cookies.attach_index("idx_cookies_by_expiry", self.idx_cookies_by_expiry,
                                  lambda c: c.expires, unique=False)
