"""Copying a whole database between engines (LMDB directory <-> PostgreSQL URL), verified by counts.

The copy is raw: the catalog, the metadata (schema version) and every
catalogued table's entries go across as the engine stores them, so the
destination is the same database, indexes and all. It reads one snapshot of
the source and writes the destination in one transaction: a copy that fails
leaves the destination as it was (a new LMDB directory is removed again).
"""

from __future__ import annotations

import os
import shutil
from typing import Callable

import orm
from orm.catalog import CATALOG_TABLE, META_TABLE, table_name
from orm.engine.pgurl import is_url, redact

#: Entries written per engine call; the progress callback runs once per batch.
BATCH = 5000


def copy_database(src: str, dst: str, progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy the database at src into the new or empty database dst; returns entries per engine table."""
    shown_src, shown_dst = _shown(src), _shown(dst)
    try:
        source = orm.Database(src, readonly=True)
    except orm.DatabaseNotFound:
        raise orm.DatabaseError(f"no cfxstore database at {shown_src}") from None
    except orm.DatabaseError as exc:
        if "no catalog" in str(exc):
            raise orm.DatabaseError(f"{shown_src} is not a cfxstore database (it has no catalog)") from None
        raise
    made_dir = not is_url(dst) and not os.path.exists(dst)
    try:
        with source:
            counts = _copy(source, dst, shown_dst, progress)
    except BaseException:
        if made_dir:
            shutil.rmtree(dst, ignore_errors=True)
        raise
    return counts


def _copy(source: orm.Database, dst: str, shown_dst: str,
          progress: Callable[[str, int], None] | None) -> dict[str, int]:
    names = [CATALOG_TABLE, META_TABLE] + [table_name(slot) for slot in sorted(source.catalog())]
    src_engine = source._live().engine
    handles = {n: src_engine.open_table(n, False) for n in names}  # before the snapshot begins (LMDB)
    with orm.Database(dst) as target:
        with target.begin() as txn:
            occupied = target.catalog() or txn.count(target._live().meta) > 0
        if occupied:
            raise orm.DatabaseError(f"destination {shown_dst} already holds a database; copy into a new or "
                                    "empty one")
        dst_engine = target._live().engine
        counts: dict[str, int] = {}
        with source.begin() as rtxn, target.begin(write=True) as wtxn:
            for name in names:
                handle = handles[name]
                if handle is None:
                    continue
                out = dst_engine.open_table(name, True, wtxn)
                wtxn.drop(out)  # the destination's own fresh catalog/meta entries give way to the source's
                batch: list[tuple[bytes, bytes]] = []
                done = 0
                for pair in rtxn.iterate(handle, None, None):
                    batch.append(pair)
                    if len(batch) >= BATCH:
                        wtxn.put_many(out, batch)
                        done += len(batch)
                        batch = []
                        if progress:
                            progress(name, done)
                wtxn.put_many(out, batch)
                counts[name] = done + len(batch)
                if progress:
                    progress(name, counts[name])
        _verify(source, target, handles, counts, shown_dst)
    return counts


def _verify(source: orm.Database, target: orm.Database, handles: dict, counts: dict[str, int], shown: str) -> None:
    engine = target._live().engine
    out = {n: engine.open_table(n, False) for n in counts}
    with source.begin() as stxn, target.begin() as dtxn:
        for name, n in counts.items():
            have, want = dtxn.count(out[name]), stxn.count(handles[name])
            if have != want or have != n:
                raise orm.DatabaseError(f"copy to {shown} does not verify: table {name!r} has {have} entries, "
                                        f"the source {want}")


def _shown(path: str) -> str:
    return redact(path) if is_url(path) else os.path.realpath(path)
