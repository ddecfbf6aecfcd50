"""The schemas cfxstore knows, and which of them a database holds."""

from __future__ import annotations

import functools
from typing import Any

import orm
from cfxstore.cookies.schema import CookieStore
from cfxstore.globalschema.schema import GlobalSchema
from cfxstore.mrealm.schema import MrealmSchema
from cfxstore.migrate.import_ledger import ImportLedger
from cfxstore.realmstore.schema import RealmStore

KNOWN_SCHEMAS: tuple[type[orm.Schema], ...] = (CookieStore, RealmStore, GlobalSchema, MrealmSchema, ImportLedger)


class _Recorder:
    """Stands in for a database so a schema's tables can be declared without binding them."""

    def attach_tables(self, tables: Any) -> None:
        pass


@functools.lru_cache(maxsize=None)
def declared(schema: type[orm.Schema]) -> orm.Schema:
    """An unbound instance of schema: its tables with their codecs and hooks (for validation)."""
    return schema.attach(_Recorder())  # type: ignore[arg-type]


@functools.lru_cache(maxsize=1)
def table_owners() -> dict[str, type[orm.Schema]]:
    """Table name -> the known schema declaring it (index tables included)."""
    owners: dict[str, type[orm.Schema]] = {}
    for schema in KNOWN_SCHEMAS:
        for name in declared(schema).tables():
            owners[name] = schema
    return owners


def present(db: orm.Database) -> list[type[orm.Schema]]:
    """Known schemas with at least one table in db's catalog."""
    names = {e["name"] for e in db.catalog().values()}
    return [s for s in KNOWN_SCHEMAS if names & set(declared(s).tables())]


def attach_present(db: orm.Database) -> list[orm.Schema]:
    """Attach every known schema that db holds (works read-only when the catalog matches)."""
    return [schema.attach(db) for schema in present(db)]
