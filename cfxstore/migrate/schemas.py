"""The one registry of the schemas cfxstore stores, and which of them a database holds.

Check, dump, load, copy, info and the schema docs all read it: a table
belongs to cfxstore when a schema listed here declares it.
"""

from __future__ import annotations

import functools

import orm
from cfxstore.audit.schema import AuditSchema
from cfxstore.cookies.schema import CookieStore
from cfxstore.fields import declared_fields
from cfxstore.globalschema.schema import GlobalSchema
from cfxstore.management.feed import ChangeFeedSchema
from cfxstore.mrealm.schema import CryptosignKeySchema, MrealmSchema
from cfxstore.migrate.import_ledger import ImportLedger
from cfxstore.realmstore.schema import RealmStore
from cfxstore.service import attached
from cfxstore.tables import DeclaredSchema

__all__ = ["KNOWN_SCHEMAS", "declared", "table_owners", "undumped_tables", "secret_fields", "present",
           "attach_present"]

#: Every schema, in slot order of its first table (the order the docs list them in).
KNOWN_SCHEMAS: tuple[type[DeclaredSchema], ...] = (
    CookieStore, RealmStore, GlobalSchema, MrealmSchema, CryptosignKeySchema, ChangeFeedSchema, AuditSchema,
    ImportLedger,
)


# A dict rather than functools.lru_cache: mypy does not take a class for a Hashable argument.
_declared: dict[type[DeclaredSchema], DeclaredSchema] = {}


def declared(schema: type[DeclaredSchema]) -> DeclaredSchema:
    """An unbound instance of schema: its tables with their codecs and hooks (for validation)."""
    if schema not in _declared:
        _declared[schema] = schema.unbound()
    return _declared[schema]


@functools.lru_cache(maxsize=1)
def table_owners() -> dict[str, type[DeclaredSchema]]:
    """Table name -> the known schema declaring it (index tables included)."""
    owners: dict[str, type[DeclaredSchema]] = {}
    for schema in KNOWN_SCHEMAS:
        for name in declared(schema).tables():
            owners[name] = schema
    return owners


def undumped_tables() -> frozenset[str]:
    """Tables a dump leaves out because they describe only the database they are in."""
    return frozenset(name for schema in KNOWN_SCHEMAS for name, decl in schema.declarations().items()
                     if not decl.dumped)


def secret_fields(skip: frozenset[str] = frozenset()) -> dict[str, tuple[str, ...]]:
    """Table name -> its record's fields declared secret, for the tables (not in skip) that have any."""
    found: dict[str, tuple[str, ...]] = {}
    for schema in KNOWN_SCHEMAS:
        for name, decl in schema.declarations().items():
            if decl.record is None or name in skip:
                continue
            secret = tuple(f.name for f in declared_fields(decl.record).values() if f.spec.secret)
            if secret:
                found[name] = secret
    return found


def present(db: orm.Database) -> list[type[DeclaredSchema]]:
    """Known schemas with at least one table in db's catalog."""
    names = {e["name"] for e in db.catalog().values()}
    return [s for s in KNOWN_SCHEMAS if names & set(declared(s).tables())]


def attach_present(db: orm.Database) -> list[orm.Schema]:
    """Attach every known schema that db holds (works read-only when the catalog matches)."""
    return [attached(schema, db) for schema in present(db)]
