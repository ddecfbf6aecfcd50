"""Copying a whole database between engines (LMDB directory <-> PostgreSQL URL), verified by counts.

The copy is raw (orm.copy_tables): the catalog, the metadata (schema
version) and every catalogued table's entries go across as the engine
stores them, so the destination is the same database, indexes and all. It
reads one snapshot of the source and writes the destination in one
transaction: a copy that fails leaves the destination as it was (a new LMDB
directory is removed again).
"""

from __future__ import annotations

import os
import shutil
from typing import Callable

import orm
from orm.engine.pgurl import is_url, redact


def copy_database(src: str, dst: str, progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy the database at src into the new or empty database dst; returns entries per engine table."""
    try:
        source = orm.Database(src, readonly=True)
    except orm.DatabaseNotFound:
        raise orm.DatabaseError(f"no cfxstore database at {_shown(src)}") from None
    except orm.DatabaseError as exc:
        if "no catalog" in str(exc):
            raise orm.DatabaseError(f"{_shown(src)} is not a cfxstore database (it has no catalog)") from None
        raise
    made_dir = not is_url(dst) and not os.path.exists(dst)
    try:
        with source, orm.Database(dst) as target:
            return orm.copy_tables(source, target, progress)
    except BaseException:
        if made_dir:
            shutil.rmtree(dst, ignore_errors=True)
        raise


def _shown(path: str) -> str:
    return redact(path) if is_url(path) else os.path.realpath(path)
