"""Guessing of short cookie values, limited per client address.

The values cfxstore issues carry at least 128 random bits: nobody can guess
one. Cookies imported from a stock Crossbar store can be as short as six
characters (36 bits), so each connection presenting a short value that no
cookie has counts as a failed guess against its client address (clientaddr.py),
with the login throttle's lockouts: after ``guess_free_failures`` of them the
address's short values are not looked up at all for a while (its connections
get a fresh cookie, as if they had presented none). Full-length values are
never counted, so browsers reconnecting with cookies that expired or were
never stored cannot lock their address.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

from cfxstore.cookies.service import guessable
from cfxstore.node.config import CookieConfig
from cfxstore.router.clientaddr import ClientKeys
from cfxstore.router.throttle import FailureThrottle, Limits, Throttled


class CookieGuesses:
    """Counts unknown short cookie values per client address (one per transport's cookie store)."""

    def __init__(self, config: CookieConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._keys = ClientKeys(config.trusted_proxies, config.ipv6_prefix)
        self._throttle = None if config.guess_free_failures is None else FailureThrottle(
            Limits(free_failures=config.guess_free_failures, clear_on_success=False), "peer address", clock)

    def client(self, value: str | None, peer: Any, headers: Mapping[str, Any]) -> str | None:
        """The client address a presented value counts against; None if it cannot be a guess (or no limit)."""
        if self._throttle is None or value is None or not guessable(value):
            return None
        return self._keys.key({"peer": peer, "http_headers_received": dict(headers)})

    def locked(self, client: str | None) -> bool:
        """True while client's short values are not to be looked up."""
        if client is None or self._throttle is None:
            return False
        try:
            self._throttle.check(client)
        except Throttled:
            return True
        return False

    def missed(self, client: str | None) -> None:
        """client presented a short value that no cookie has."""
        if client is not None and self._throttle is not None and not self.locked(client):
            self._throttle.end(self._throttle.begin(client), success=False)
