"""The audit events of logins: each attempt's outcome and the lockouts it began.

Events are staged with the write-behind's other writes (cookies, sessions) and
appended in the transaction of its next batch, so an attempt costs the reactor
no database round trip. They carry the method, outcome, the reason the router
answered with and the client address it counted the attempt under, never
what the client sent as its secret. What the client named (realm, authid) is
cut to what an event holds, so no client can make an attempt go unrecorded.
"""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger

from cfxstore.audit.entities import AuditEvent
from cfxstore.audit.service import AuditLog
from cfxstore.router.writebehind import WriteBehind

__all__ = ["LoginAudit", "MAX_ITEMS"]

#: When the authenticator is the first to use its database's write-behind: the cookie store's defaults.
MAX_ITEMS = 10_000
#: UTF-8 bytes kept of a realm or authid a client sent (an event's bound).
MAX_NAME_BYTES = 255
log = Logger()


def _clip(value: Any) -> str | None:
    """A client-sent name as an event can hold it: a string of at most MAX_NAME_BYTES valid UTF-8 bytes."""
    if not isinstance(value, str) or not value:
        return None
    return value.encode("utf-8", "replace")[:MAX_NAME_BYTES].decode("utf-8", "ignore") or None


class LoginAudit:
    """Stages the login and lockout events of one authenticator."""

    def __init__(self, log: AuditLog, writer: WriteBehind) -> None:
        self._log = log
        # One bound method, so that consecutive events are one run of the batch (writebehind._runs).
        self._apply = log.record_many
        self._writer = writer
        #: Events dropped during an outage (see _stage).
        self.dropped = 0

    def login(self, realm: str, authid: str | None, method: str | None, peer: str | None, outcome: str,
              reason: str | None = None, accepted: Any = None) -> None:
        role = accepted.get("role") if isinstance(accepted, dict) else None
        self._stage(kind="login", action="attempt", realm=realm, authid=authid, method=method, outcome=outcome,
                    reason=reason, peer=peer, detail=None if role is None else {"role": role})

    def lockouts(self, realm: str, authid: str | None, method: str | None, peer: str | None, attempts: Any) -> None:
        """A lockout event for each throttle the failed attempts locked (the authid's, the client address's)."""
        by_authid, by_peer = attempts
        for attempt, what in ((by_authid, "authid"), (by_peer, "peer")):
            if attempt is not None and attempt.locked_for is not None:
                self._stage(kind="lockout", action=f"{what} locked", realm=realm, authid=authid, method=method,
                            peer=peer, detail={"seconds": attempt.locked_for})

    def _stage(self, *, realm: str, authid: str | None, **fields: Any) -> None:
        """Stage an event; a login is answered whatever recording it does. While the database is unreachable
        and the write-behind already holds MAX_ITEMS writes, events are dropped and counted instead: attempts
        made during an outage must not grow memory without bound or take the room staged logins need."""
        if not self._writer.availability.up and len(self._writer) >= MAX_ITEMS:
            self.dropped += 1
            return
        try:
            event = AuditEvent(realm=_clip(realm), authid=_clip(authid), **fields)
            self._log.check(event)
            self._writer.append(self._apply, event)
        except Exception as exc:
            log.error("cfxstore: a login could not be recorded in the audit log: {kind}", kind=type(exc).__name__)
