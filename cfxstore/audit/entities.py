"""The audit log's one record kind: a security event."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from cfxstore.entity import Entity
from cfxstore.fields import field, time
from cfxstore.timeutil import now_ns

__all__ = ["AuditEvent", "KINDS", "OUTCOMES"]

#: What an event records: a login attempt, a lockout it caused, logins ended (revocation) or
#: a logout, a change to a principal (its secrets included), a role or a permission, an import
#: or an adoption.
KINDS = ("login", "lockout", "revocation", "logout", "principal", "role", "permission", "import", "adoption")
OUTCOMES = ("success", "failure")


@dataclasses.dataclass(kw_only=True)
class AuditEvent(Entity):
    """One security event. It never holds a secret: no ticket, key, hash or cookie value."""

    at: int = time(default_factory=now_ns)
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    kind: str = field(choices=KINDS)
    #: What happened, in the kind's words: "created", "updated", "deleted", "attempt", "logout", ...
    action: str = field(max_chars=64)
    realm: str | None = field(default=None, max_bytes=255)
    authid: str | None = field(default=None, max_bytes=255)
    #: The authentication method of a login or a credential change.
    method: str | None = field(default=None, max_chars=32)
    outcome: str | None = field(default=None, choices=OUTCOMES)
    #: Why a login failed or logins ended, as the router or the operator said it.
    reason: str | None = field(default=None, max_chars=500)
    #: The client address of a login (as the router keys it: behind trusted proxies, the forwarded one).
    peer: str | None = field(default=None, max_chars=100)
    #: Anything else worth keeping, never secret material (the changed record's wire form, counts).
    detail: dict[str, Any] | None = None

    @property
    def key(self) -> tuple[int, uuid.UUID]:
        return (self.at, self.oid)
