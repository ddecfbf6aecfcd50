"""What `cfxstore db info` reports: version, sizes and every table."""

from __future__ import annotations

import os
from typing import Any

import orm
from cfxstore.schemaversion import effective_version, latest_version

from . import rawtables
from .schemas import table_owners

#: Entries read per table to estimate its size; smaller tables are measured exactly.
SAMPLE = 1000


def version_state(version: int | None, latest: int) -> str:
    if version is None:
        return "new"
    if version < latest:
        return "needs-migration"
    if version > latest:
        return "newer-than-code"
    return "current"


def database_info(db: orm.Database) -> dict[str, Any]:
    """Version, sizes and per-table figures of db (one read snapshot)."""
    catalog = db.catalog()
    bound = rawtables.bind_all(db, catalog)  # before stats() and the snapshot: see rawtables.bind
    stats = db.stats()
    owners = table_owners()
    index_of = {i["slot"]: e["name"] for e in catalog.values() for i in e.get("indexes", [])}
    latest = latest_version()
    tables = []
    with db.begin() as txn:
        version = effective_version(db, txn)
        for slot, entry in sorted(catalog.items()):
            tab = bound[slot]
            records = 0 if tab is None else tab.count(txn)
            sampled, size = (0, 0) if tab is None else rawtables.sample_bytes(tab, txn, SAMPLE)
            exact = sampled >= records
            tables.append({
                "slot": slot, "name": entry["name"], "kind": entry.get("kind"),
                "key": entry.get("key"), "value": entry.get("value"),
                "records": records,
                "bytes": size if exact else round(size / sampled * records),
                "bytes_exact": exact,
                "index_of": index_of.get(slot),
                "schema": owners[entry["name"]].__name__ if entry["name"] in owners else None,
            })
    data_file = os.path.join(db.path, "data.mdb")
    size = os.path.getsize(data_file) if os.path.exists(data_file) else 0
    return {
        "path": db.path,
        "schema_version": version,
        "code_schema_version": latest,
        "state": version_state(version, latest),
        "file_bytes": size,
        "used_bytes": stats["used_bytes"],
        "map_size": stats["map_size"],
        "free_bytes": max(stats["map_size"] - stats["used_bytes"], 0),
        "page_size": stats["page_size"],
        "tables": tables,
    }
