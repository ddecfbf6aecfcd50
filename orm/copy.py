"""Copying a whole database into an empty one, between any two engines, entries as stored.

The catalog, the metadata and every catalogued table's entries go across
as bytes, so the destination is the same database, indexes and all. One
snapshot of the source is read and the destination is written in one
transaction: a copy that fails leaves the destination as it was.
"""

from __future__ import annotations

from typing import Any, Callable

from .catalog import CATALOG_TABLE, META_TABLE, table_name
from .database import Database
from .errors import DatabaseError

#: Entries written per engine call; the progress callback runs once per batch.
BATCH = 5000


def _holds_data(db: Database) -> bool:
    """True if db has tables or metadata (a new database has neither until something is stored)."""
    with db.begin() as txn:
        return bool(db.catalog()) or txn.count(db._live().meta) > 0


def copy_tables(source: Database, target: Database,
                progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy every table of source into target, which must hold no data; returns entries per engine table.

    progress(table, entries so far) is called after each batch. The copy is
    verified by counting both sides before this returns.
    """
    if _holds_data(target):
        raise DatabaseError(f"destination {target.path} already holds a database; copy into a new or empty one")
    src_engine, dst_engine = source._live().engine, target._live().engine
    names = [CATALOG_TABLE, META_TABLE] + [table_name(slot) for slot in sorted(source.catalog())]
    handles = {n: src_engine.open_table(n, False) for n in names}  # before the snapshot begins (LMDB)
    counts: dict[str, int] = {}
    with source.begin() as rtxn, target.begin(write=True) as wtxn:
        for name, handle in handles.items():
            if handle is not None:
                out = dst_engine.open_table(name, True, wtxn)
                wtxn.drop(out)  # the destination's own fresh catalog/meta entries give way to the source's
                counts[name] = _copy_table(rtxn, wtxn, handle, out, lambda done: progress and progress(name, done))
    _verify(source, target, handles, counts)
    return counts


def _copy_table(rtxn: Any, wtxn: Any, handle: Any, out: Any, report: Callable[[int], Any]) -> int:
    batch: list[tuple[bytes, bytes]] = []
    done = 0
    for pair in rtxn.iterate(handle, None, None):
        batch.append(pair)
        if len(batch) >= BATCH:
            wtxn.put_many(out, batch)
            done += len(batch)
            batch = []
            report(done)
    wtxn.put_many(out, batch)
    done += len(batch)
    report(done)
    return done


def _verify(source: Database, target: Database, handles: dict[str, Any], counts: dict[str, int]) -> None:
    engine = target._live().engine
    out = {n: engine.open_table(n, False) for n in counts}
    with source.begin() as stxn, target.begin() as dtxn:
        for name, n in counts.items():
            have, want = dtxn.count(out[name]), stxn.count(handles[name])
            if have != want or have != n:
                raise DatabaseError(f"copy to {target.path} does not verify: table {name!r} has {have} entries, "
                                    f"the source {want}")
