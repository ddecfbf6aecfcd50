"""Management: the service layer over GlobalSchema and MrealmSchema in one database.

    mgmt = Management(db)
    realm = mgmt.arealms.create(name="realm1")
    role = mgmt.roles.create(name="frontend")
    mgmt.arealm_roles.create(arealm_oid=realm.oid, role_oid=role.oid)
    mgmt.permissions.create(role_oid=role.oid, uri="com.example.", match="prefix", allow_call=True)

Each collection offers create / get / get_by / list / update / delete with
``txn=`` to join the caller's transaction. Every change is appended to the
change feed (feed.py) in its transaction; listeners registered with
``on_change`` hear of every change committed through this Management.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, TypeVar

import orm
from cfxstore.audit.service import AuditLog
from cfxstore.entity import Entity
from cfxstore.globalschema.schema import GlobalSchema
from cfxstore.cookies.service import CookieService
from cfxstore.credentials.service import CredentialService
from cfxstore.management import audit, feed, generation, relations
from cfxstore.management.errors import InvalidArgument
from cfxstore.management.kinds import KINDS, Kind, Ref
from cfxstore.management.principals import PrincipalCollection
from cfxstore.management.store import Collection
from cfxstore.management.wire import to_wire
from cfxstore.mrealm.schema import MrealmSchema
from cfxstore.service import Service, attached

__all__ = ["Management", "Listener"]

#: listener(kind name, "created" | "updated" | "deleted", record) after the change committed.
Listener = Callable[[str, str, Entity], None]

T = TypeVar("T")


class Management(Service):
    """Collections of every managed record kind, as attributes named after their tables."""

    def __init__(self, db: orm.Database, *, credentials: Any = None) -> None:
        """``credentials``: the CredentialService secrets go through (built on db when first needed)."""
        self.db = db
        self.global_schema = attached(GlobalSchema, db)
        self.mrealm_schema = attached(MrealmSchema, db)
        self._schemas: dict[type, Any] = {GlobalSchema: self.global_schema, MrealmSchema: self.mrealm_schema}
        for kind in KINDS.values():
            if kind.schema not in self._schemas:
                try:
                    self._schemas[kind.schema] = attached(kind.schema, db)
                except orm.SchemaError:
                    # A schema of its own (cryptosign keys) on a read-only database written before it
                    # existed: its records are absent, and reading them says so (schema_of).
                    pass
        # Read-only: nothing to append (and the table may not exist yet in an older database).
        self._changes = None if db.readonly else feed.changes_table(db)
        self._audit: AuditLog | None = None if db.readonly else AuditLog(db)
        self._credentials = credentials
        self._cookies: CookieService | None = None
        self._listeners: list[Listener] = []
        self._collections = {name: (PrincipalCollection if name == "principal" else Collection)(self, kind)
                             for name, kind in KINDS.items()}
        self._referrers: dict[str, list[tuple[Collection, Ref]]] = {name: [] for name in KINDS}
        for coll in self._collections.values():
            for ref in coll.kind.refs:
                self._referrers[ref.target].append((coll, ref))
        c = self._collections
        self.users, self.organizations, self.organization_roles = c["user"], c["organization"], c["organization_role"]
        self.mrealms, self.mrealm_roles, self.nodes = c["mrealm"], c["mrealm_role"], c["node"]
        self.arealms, self.roles, self.permissions = c["arealm"], c["role"], c["permission"]
        self.arealm_roles = c["arealm_role"]
        self.principals: PrincipalCollection = c["principal"]  # type: ignore[assignment]
        self.routerclusters, self.routercluster_nodes = c["routercluster"], c["routercluster_node"]
        self.webclusters, self.webcluster_nodes = c["webcluster"], c["webcluster_node"]

    @property
    def credentials(self) -> CredentialService:
        if self._credentials is None:
            self._credentials = CredentialService(self.db)
        return self._credentials

    @property
    def cookies(self) -> CookieService:
        """The cookies' owner, through which principal changes end logins (attached when first needed)."""
        if self._cookies is None:
            self._cookies = CookieService(self.db)
        return self._cookies

    def collections(self) -> dict[str, Collection]:
        """Every collection by record kind name (internal kinds included)."""
        return dict(self._collections)

    def collection(self, kind: str) -> Collection:
        try:
            return self._collections[kind]
        except KeyError:
            raise InvalidArgument(f"unknown record kind {kind!r}; kinds: {', '.join(self._collections)}") from None

    def schema_of(self, kind: Kind) -> Any:
        schema = self._schemas.get(kind.schema)
        if schema is None:  # absent from a read-only database (see __init__): this raises orm.SchemaError
            schema = self._schemas[kind.schema] = attached(kind.schema, self.db)
        return schema

    def referrers(self, kind: str) -> list[tuple[Collection, Ref]]:
        """(collection, reference) pairs of the records that can refer to a ``kind`` record."""
        return self._referrers[kind]

    @contextlib.contextmanager
    def transaction(self, txn: Any = None) -> Iterator[Any]:
        """The caller's transaction if given, else a new read transaction."""
        if txn is not None:
            yield txn
            return
        with self.db.begin() as own:
            yield own

    def write(self, txn: Any, fn: Callable[[Any], T]) -> T:
        """fn(txn) in the caller's write transaction, or in an own one that is run again on a
        retryable engine error (the map grew, a concurrent writer conflicted)."""
        if txn is None:
            return self.transact(fn)
        if not getattr(txn, "write", False):
            raise InvalidArgument("txn: this operation writes and needs a write transaction")
        return fn(txn)

    # -- change tracking -------------------------------------------------------

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def audit(self) -> AuditLog:
        """The audit log, in which imports and adoptions record themselves too."""
        if self._audit is None:
            self._audit = AuditLog(self.db)
        return self._audit

    def changed(self, txn: Any, kind: Kind, op: str, record: Entity, old: Entity | None = None, *,
                method: str | None = None) -> None:
        """Record a change made in txn: what it implies for other records (relations.py), the
        authorization generation, the change feed, the audit log, then listeners after commit.

        ``old``: the record before an update (a deleted record is ``record`` itself).
        ``method``: the kind of secret set, when a principal's secrets changed and the record did not.
        """
        if op == "deleted":
            relations.run(self, txn, kind.name, op, relations.AFTER, record, None)
        else:
            relations.run(self, txn, kind.name, op, relations.AFTER, old, record)
        if kind.authz:
            generation.bump(self.db, txn)
        # Credentials hold derived secrets: never in the feed. A read-only database has no feed to write.
        if kind.in_feed and self._changes is not None:
            feed.append(self.db, self._changes, txn, kind.name, op, to_wire(record))
        if self._audit is not None:
            event = audit.event_for(kind.name, op, record, old, method,
                                    lambda oid: self.principals.table[txn, oid])
            if event is not None:
                self._audit.record(txn, event)
        if self._listeners:
            txn.on_commit(lambda: self.notify(kind.name, op, record))

    def notify(self, kind: str, op: str, record: Entity) -> None:
        for listener in list(self._listeners):
            listener(kind, op, record)
