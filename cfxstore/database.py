"""The one entry point through which cfxstore services open their database."""

from __future__ import annotations

import contextlib
import os

import orm
from cfxstore import atomic, crashpoint
from cfxstore.lmdbfile import check_whole

#: Where services keep their data unless told otherwise (override with CFXSTORE_DB).
DEFAULT_PATH = os.path.join(".cfxstore", "db")
#: The <purpose> part of a database's temporary name while it is created (see cfxstore.atomic).
TEMP_PURPOSE = "creating"
# What a directory may hold and still count as "no database yet" (lock.mdb: an
# LMDB open that never got to write its data file).
_EMPTY_ENOUGH = {"lock.mdb"}


def default_path() -> str:
    return os.environ.get("CFXSTORE_DB") or DEFAULT_PATH


def exists(path: str | os.PathLike[str]) -> bool:
    """True if path holds a database (created ones are always complete: see create_database)."""
    return os.path.isfile(os.path.join(path, "data.mdb"))


def create_database(path: str | os.PathLike[str], *, maxsize: int = 2**28) -> bool:
    """Create a complete, stamped database at path unless one exists; True if this call made it.

    The database is built in a temporary sibling directory (catalog
    committed, schema version stamped), synced and renamed into place, so a
    kill at any instant leaves either no database or a complete one. If
    another process creates it first, that database is kept.
    """
    path = os.path.abspath(os.fspath(path))
    if exists(path):
        return False
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise orm.DatabaseError(f"{path} exists and is not a database directory")
        if set(os.listdir(path)) - _EMPTY_ENOUGH:
            raise orm.DatabaseError(f"{path} is a directory with other files in it and no database; "
                                    "give a new or empty directory")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(path, "lock.mdb"))
    from cfxstore.migrate.versions import check_database

    tmp = atomic.temp_dir(path, TEMP_PURPOSE)
    try:
        with orm.Database(tmp, maxsize=maxsize) as db:
            check_database(db)  # stamps the new database with the current version
        crashpoint.reached("create-stamped")
        os.unlink(os.path.join(tmp, "lock.mdb"))  # a lock file is per open, not part of the data
        try:
            atomic.publish(tmp, path)
        except OSError:
            if exists(path):  # another process won the race: use its database
                atomic.discard(tmp)
                return False
            raise
    except BaseException:
        atomic.discard(tmp)
        raise
    return True


def open_database(path: str | os.PathLike[str] | None = None, *, readonly: bool = False,
                  maxsize: int = 2**28, sync: bool = True, check_version: bool = True) -> orm.Database:
    """Open (creating unless readonly) the embedded LMDB database at path (default: default_path()).

    A new database is created atomically (create_database) and stamped with
    the current schema version. One at an older version raises
    DatabaseTooOld (run ``cfxstore migrate up``), one at a newer version
    DatabaseTooNew. ``check_version=False`` is for the maintenance tools
    that migrate, back up or inspect such databases. A truncated data file
    (an incomplete copy) is refused before it is mapped.
    """
    path = os.fspath(path) if path is not None else default_path()
    if not readonly:
        create_database(path, maxsize=maxsize)
    check_whole(path)
    db = orm.Database(path, maxsize=maxsize, readonly=readonly, sync=sync)
    if check_version:
        from cfxstore.migrate.versions import check_database

        try:
            check_database(db)
        except BaseException:
            db.close()
            raise
    return db
