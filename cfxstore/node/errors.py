"""Errors raised by the Crossbar glue."""

from __future__ import annotations

from cfxstore.errors import Error


class RouterConfigError(Error, ValueError):
    """A cfxstore item in a Crossbar node configuration is invalid.

    ``key`` is the dotted path of the offending key (for example
    ``cookie.store.sync``) so the message points straight at the config line.
    """

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"invalid cfxstore configuration at '{key}': {message}")
