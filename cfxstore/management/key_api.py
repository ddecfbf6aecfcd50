"""The management API's procedures for principals' cryptosign keys (registered with the others by api.py).

    principal.keys(key)                                              -> [key record + "state"]
    principal.add_key(key, pubkey, label=, not_before=, not_after=)  -> key record
    principal.revoke_key(key, which)                                 -> key record    which: public key or label

Times travel as ISO 8601 strings, as in every record's wire form. Each change
is published from the change feed on ``cryptosign_key.on_created`` /
``on_updated`` (a revocation) / ``on_deleted`` (with its principal).
"""

from __future__ import annotations

from typing import Any, Callable

from cfxstore.management.cryptosign_keys import key_state
from cfxstore.management.principals import PrincipalCollection
from cfxstore.management.wire import iso_to_ns, to_wire
from cfxstore.timeutil import now_ns

__all__ = ["key_procedures"]


def key_procedures(principals: PrincipalCollection) -> dict[str, Callable[..., Any]]:
    def keys(key: Any) -> list:
        now = now_ns()
        return [{**to_wire(k), "state": key_state(k, now)} for k in principals.keys(key)]

    def add_key(key: Any, pubkey: str, label: str | None = None, not_before: str | None = None,
                not_after: str | None = None) -> dict:
        return to_wire(principals.add_key(key, pubkey, label=label, not_before=_time(not_before, "not_before"),
                                          not_after=_time(not_after, "not_after")))

    def revoke_key(key: Any, which: str) -> dict:
        return to_wire(principals.revoke_key(key, which))

    return {"principal.keys": keys, "principal.add_key": add_key, "principal.revoke_key": revoke_key}


def _time(value: str | None, field: str) -> int | None:
    return None if value is None else iso_to_ns(value, field)
