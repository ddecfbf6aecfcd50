"""Consistency checks of a database: version, catalog, schemas, records and indexes."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import orm
from cfxstore.schemaversion import effective_version, latest_version
from cfxstore.service import attached

from . import rawtables
from .schemas import present, table_owners

RowCallback = Callable[[str, int, int], None]


@dataclasses.dataclass
class CheckReport:
    problems: list[str] = dataclasses.field(default_factory=list)
    repaired: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    tables: int = 0
    records: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_version(db: orm.Database, report: CheckReport) -> None:
    latest = latest_version()
    with db.begin() as txn:
        version = effective_version(db, txn)
    if version is None:
        report.notes.append("the database is empty and has no schema version yet")
    elif version < latest:
        report.problems.append(f"schema version {version} is older than this cfxstore's {latest}: "
                               f"run `cfxstore migrate up --db {db.path}`")
    elif version > latest:
        report.problems.append(f"schema version {version} is newer than this cfxstore's {latest}: "
                               "check it with the cfxstore that migrated it")


def _check_catalog(db: orm.Database, catalog: dict[int, dict[str, Any]], report: CheckReport) -> None:
    owners = table_owners()
    bound = rawtables.bind_all(db, catalog)
    for slot, entry in sorted(catalog.items()):
        name = entry.get("name")
        if bound[slot] is None:
            report.problems.append(f"catalog lists table {name!r} (slot {slot}) but the table does not exist")
        for idx in entry.get("indexes", []):
            target = catalog.get(idx.get("slot"))
            if target is None:
                report.problems.append(f"index {idx.get('name')!r} of table {name!r} points at slot "
                                       f"{idx.get('slot')}, which the catalog does not list")
            elif target.get("name") != idx.get("name"):
                report.problems.append(f"index {idx.get('name')!r} of table {name!r} points at slot "
                                       f"{idx.get('slot')}, which holds table {target.get('name')!r}")
        if name not in owners:
            report.notes.append(f"table {name!r} (slot {slot}) belongs to no cfxstore schema; not checked")


def _check_records(txn: Any, tab: orm.Table, report: CheckReport, on_row: RowCallback | None) -> None:
    if not isinstance(tab, orm.Map):
        return
    keys = list(tab.select(txn, return_values=False))
    total = len(keys)
    for n, key in enumerate(keys, start=1):
        try:
            record = tab[txn, key]
            # Read paths may skip validation for speed; a check must not.
            validate = getattr(record, "validate", None)
            if callable(validate):
                validate()
        except Exception as exc:
            report.problems.append(f"table {tab.name!r}, key {key!r}: cannot read the record: {exc}")
        report.records += 1
        if on_row is not None:
            on_row(tab.name, n, total)  # type: ignore[arg-type]


def check(db: orm.Database, *, repair: bool = False, on_row: RowCallback | None = None) -> CheckReport:
    """Check db; with repair (db opened writable) rebuild inconsistent indexes in one transaction."""
    report = CheckReport()
    _check_version(db, report)
    catalog = db.catalog()
    _check_catalog(db, catalog, report)
    schemas: list[orm.Schema] = []
    for schema in present(db):
        try:
            schemas.append(attached(schema, db))
        except orm.Error as exc:
            report.problems.append(f"schema {schema.__name__} does not match the database: {exc}")
    with db.begin(write=repair) as txn:
        derived = rawtables.index_slots(catalog)
        for held in schemas:
            for tab in held.tables().values():
                if tab.slot in derived:
                    continue
                report.tables += 1
                _check_records(txn, tab, report, on_row)
                if isinstance(tab, orm.Map) and tab.indexes:
                    found = tab.check_indexes(txn, repair=repair)
                    (report.repaired if repair else report.problems).extend(found)
    return report
