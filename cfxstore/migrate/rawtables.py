"""Tables bound straight from their catalog entries, without a schema class.

Migrations, dumps and checks read records as stored (CBOR maps as dicts,
keys as Python values) and must not depend on the current record classes
or write to the catalog.
"""

from __future__ import annotations

from typing import Any

import orm

from .errors import MaintenanceError


def bind(db: orm.Database, entry: dict[str, Any], txn: Any = None) -> orm.Table | None:
    """The table of one catalog entry, or None if the engine has no such table (see orm's stored_table)."""
    try:
        return db.stored_table(entry, txn)
    except (orm.Error, ValueError, TypeError) as exc:
        raise MaintenanceError(f"table {entry.get('name')!r} (slot {entry.get('slot')}): cannot read its stored "
                               f"key/value types {entry.get('key')!r}/{entry.get('value')!r}: {exc}") from None


def index_slots(catalog: dict[int, dict[str, Any]]) -> set[int]:
    """Slots that hold an index of another table (derived data)."""
    return {i["slot"] for e in catalog.values() for i in e.get("indexes", [])}


def bind_all(db: orm.Database, catalog: dict[int, dict[str, Any]] | None = None) -> dict[int, orm.Table | None]:
    """Every catalogued table by slot (None where the engine has no such table); see bind."""
    catalog = db.catalog() if catalog is None else catalog
    return {slot: bind(db, entry) for slot, entry in catalog.items()}


def sample_bytes(tab: orm.Table, txn: Any, limit: int) -> tuple[int, int]:
    """(entries read, their key+value bytes) for the first ``limit`` entries of tab."""
    n = size = 0
    for k, v in txn.iterate(tab._h, None, None):
        n += 1
        size += len(k) + len(v)
        if n >= limit:
            break
    return n, size
