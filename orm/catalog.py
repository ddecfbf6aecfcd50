"""The persisted catalog: what each slot holds, checked on every attach.

Each slot's entry records the table's name, kind, key and value signatures,
its @table UUID and its index definitions. Attaching a table that disagrees
with the stored entry is refused, so data is never read with the wrong codec.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, Iterable

import cbor2

from .errors import SchemaError, SchemaMismatch, SlotConflict

if TYPE_CHECKING:
    from .table import Table

CATALOG_TABLE = "__catalog__"
META_TABLE = "__meta__"
# Slots handed out to @table classes declared without one.
AUTO_SLOT_BASE = 50000
_SLOT = struct.Struct(">H")


def table_name(slot: int) -> str:
    """The engine-level name of a slot's table."""
    return f"slot:{slot:05d}"


def entry_for(table: "Table") -> dict[str, Any]:
    return {
        "slot": table.slot,
        "name": table.name,
        "kind": table.kind,
        "key": table.key_codec.name,
        "value": table.value_signature,
        "table_oid": str(table.table_oid) if table.table_oid else None,
        "indexes": [idx.definition() for idx in getattr(table, "indexes", {}).values()],
    }


class Catalog:
    """Reads and writes catalog entries inside a transaction."""

    def __init__(self, handle: Any) -> None:
        self._h = handle

    def entries(self, txn: Any) -> dict[int, dict[str, Any]]:
        return {_SLOT.unpack(k)[0]: cbor2.loads(v) for k, v in txn.iterate(self._h, None, None)}

    def get(self, txn: Any, slot: int) -> dict[str, Any] | None:
        raw = txn.get(self._h, _SLOT.pack(slot))
        return None if raw is None else cbor2.loads(raw)

    def put(self, txn: Any, entry: dict[str, Any]) -> None:
        txn.put(self._h, _SLOT.pack(entry["slot"]), cbor2.dumps(entry))

    def delete(self, txn: Any, slot: int) -> bool:
        return txn.delete(self._h, _SLOT.pack(slot))

    def assign_slots(self, txn: Any, tables: Iterable["Table"]) -> None:
        """Give slot-less @table tables their recorded slot, or the next free automatic one."""
        entries = None
        for tab in tables:
            if tab.slot is not None:
                continue
            if entries is None:
                entries = self.entries(txn)
            oid = str(tab.table_oid)
            for slot, e in entries.items():
                if e.get("table_oid") == oid:
                    tab.slot = slot
                    break
            else:
                used = [s for s in entries if s >= AUTO_SLOT_BASE]
                tab.slot = max(used, default=AUTO_SLOT_BASE - 1) + 1
                entries[tab.slot] = {"table_oid": oid}

    def verify(self, txn: Any, table: "Table", stored: dict[str, Any] | None) -> bool:
        """Check table against its stored entry; True if the entry must be (re)written."""
        want = entry_for(table)
        if stored is None:
            return True
        if stored.get("name") != want["name"]:
            raise SlotConflict(f"slot {table.slot} belongs to table {stored.get('name')!r}; "
                               f"cannot attach table {want['name']!r} there")
        for field in ("kind", "key", "value", "table_oid"):
            if stored.get(field) != want[field] and not (field == "table_oid" and None in (stored.get(field), want[field])):
                raise SchemaMismatch(
                    f"slot {table.slot} (table {want['name']!r}): stored {field} type is {stored.get(field)!r}, "
                    f"requested {want[field]!r}; refusing to read its data with a different codec")
        old = {i["name"]: i for i in stored.get("indexes", [])}
        for idx in want["indexes"]:
            prev = old.get(idx["name"])
            if prev is not None and prev != idx:
                raise SchemaMismatch(f"slot {table.slot} (table {want['name']!r}): index {idx['name']!r} is stored "
                                     f"as {prev}, requested {idx}")
        return stored != want

    def new_indexes(self, table: "Table", stored: dict[str, Any] | None) -> list[str]:
        """Indexes of table that the stored entry does not know yet (they need a backfill)."""
        if stored is None:
            return []
        known = {i["name"] for i in stored.get("indexes", [])}
        return [name for name in getattr(table, "indexes", {}) if name not in known]


def check_batch(tables: list[tuple[str, "Table"]]) -> None:
    """Refuse two tables on one slot within one schema."""
    seen: dict[int, str] = {}
    for name, tab in tables:
        if tab.slot is None:
            continue
        if tab.slot in seen:
            raise SlotConflict(f"tables {seen[tab.slot]!r} and {name!r} are both declared on slot {tab.slot}")
        seen[tab.slot] = name


def require_slot(table: "Table") -> int:
    if table.slot is None:
        raise SchemaError(f"table {table.name!r} has no slot")
    return table.slot
