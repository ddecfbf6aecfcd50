"""The audit events of management changes: which record kinds are audited and what their events say.

Management.changed calls ``event_for`` in the transaction of each change, so
an event commits or rolls back with what it records. A principal's secrets
are audited as the kind of secret changed, never its material; records of
audited kinds hold no secret fields (a credential is audited through its principal).
"""

from __future__ import annotations

from typing import Any, Callable

from cfxstore.audit.entities import AuditEvent
from cfxstore.entity import Entity
from cfxstore.management.wire import to_wire

__all__ = ["AUDITED", "event_for"]

#: Management record kind -> the audit event kind of its changes.
AUDITED = {"principal": "principal", "cryptosign_key": "principal", "role": "role", "arealm_role": "role",
           "permission": "permission"}


def event_for(kind: str, op: str, record: Entity, old: Entity | None, method: str | None,
              principal_of: Callable[[Any], Entity | None]) -> AuditEvent | None:
    """The audit event of a change (None for kinds not audited).

    ``method``: the kind of secret set, for a change of a principal's secrets (the record is then unchanged).
    ``principal_of(oid)``: the principal a cryptosign key belongs to, read in the change's transaction.
    """
    audited = AUDITED.get(kind)
    if audited is None:
        return None
    action = op if kind in ("principal", "role", "permission") else f"{kind.replace('_', ' ')} {op}"
    realm = authid = None
    if kind == "principal":
        if method is not None:
            action = "credential set"
        realm, authid = getattr(record, "realm"), getattr(record, "authid")
    elif kind == "cryptosign_key":
        method = "cryptosign"
        principal = principal_of(getattr(record, "principal_oid"))
        if principal is not None:
            realm, authid = getattr(principal, "realm"), getattr(principal, "authid")
    detail: dict[str, Any] = {"record": to_wire(record)}
    if old is not None and old is not record:
        detail["before"] = to_wire(old)
    return AuditEvent(kind=audited, action=action, realm=realm, authid=authid, method=method, detail=detail)
