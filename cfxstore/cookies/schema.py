"""CookieStore: the tables of persistent cookie authentication.

Slots: tables 1-9, indexes 100-109.
"""

from __future__ import annotations

import orm

from cfxstore.tables import DeclaredSchema, index, plain_table, stored, unique

from .entities import Cookie


class CookieStore(DeclaredSchema):
    """Cookies keyed by a random UUID, found by value hash, authid or expiry.

    The raw cookie value is never stored: ``idx_cookies_by_value`` maps the
    SHA-256 of the value to the cookie, so a lookup costs one hash and two
    point reads.
    """

    cookies = stored(
        1, Cookie,
        unique("idx_cookies_by_value", 100, "value_hash"),
        # Anonymous cookies (no authid yet) are simply not in this index.
        index("idx_cookies_by_authid", 101, "authid"),
        # Ordered by expiry so purging reads only the expired range.
        index("idx_cookies_by_expiry", 102, "expires"),
    )
    # authid -> when its logins were last ended (int ns): a login staged before then is never stored.
    logins_ended = plain_table(2, key="str", value="uint64")
    idx_cookies_by_value: orm.Map
    idx_cookies_by_authid: orm.SetMap
    idx_cookies_by_expiry: orm.SetMap
