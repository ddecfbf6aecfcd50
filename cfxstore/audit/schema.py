"""AuditSchema: the audit log, slots 70 and 170.

Keyed (time, oid): retention deletes from the front and a listing reads a time range.
A schema of its own, like the change feed: created when first attached for writing, so a
read-only open of a database written before it existed never needs it.
"""

from __future__ import annotations

import orm

from cfxstore.audit.entities import AuditEvent
from cfxstore.tables import DeclaredSchema, index, stored

__all__ = ["AuditSchema"]


class AuditSchema(DeclaredSchema):
    """Security events in time order, and by authid."""

    audit_events = stored(70, AuditEvent, index("idx_audit_events_by_authid", 170, "authid", "at"),
                          key=("at", "oid"))

    idx_audit_events_by_authid: orm.SetMap
