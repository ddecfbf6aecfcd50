"""The one entry point through which cfxstore services open their database."""

from __future__ import annotations

import os

import orm

#: Where services keep their data unless told otherwise (override with CFXSTORE_DB).
DEFAULT_PATH = os.path.join(".cfxstore", "db")


def default_path() -> str:
    return os.environ.get("CFXSTORE_DB") or DEFAULT_PATH


def open_database(path: str | os.PathLike[str] | None = None, *, readonly: bool = False,
                  maxsize: int = 2**28, sync: bool = True, check_version: bool = True) -> orm.Database:
    """Open (creating unless readonly) the embedded LMDB database at path (default: default_path()).

    A new database is stamped with the current schema version. One at an
    older version raises DatabaseTooOld (run ``cfxstore migrate up``), one
    at a newer version DatabaseTooNew. ``check_version=False`` is for the
    maintenance tools that migrate, back up or inspect such databases.
    """
    db = orm.Database(path if path is not None else default_path(), maxsize=maxsize,
                      readonly=readonly, sync=sync)
    if check_version:
        from cfxstore.migrate.versions import check_database

        try:
            check_database(db)
        except BaseException:
            db.close()
            raise
    return db
