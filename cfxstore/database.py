"""The one entry point through which cfxstore services open their database."""

from __future__ import annotations

import os
from typing import Any, Callable

import orm
from cfxstore import atomic, crashpoint
from cfxstore.lmdbfile import check_whole

#: Where services keep their data unless told otherwise (override with CFXSTORE_DB).
DEFAULT_PATH = os.path.join(".cfxstore", "db")
#: The <purpose> part of a database's temporary name while it is created (see cfxstore.atomic).
TEMP_PURPOSE = "creating"


def default_path() -> str:
    return os.environ.get("CFXSTORE_DB") or DEFAULT_PATH


def exists(path: str | os.PathLike[str]) -> bool:
    """True if path holds a database (created ones are always complete: see create_database)."""
    return os.path.isfile(os.path.join(path, "data.mdb"))


def can_create_in(path: str | os.PathLike[str]) -> bool:
    """True if the existing directory path holds nothing a new database would disturb.

    Allowed: an LMDB lock file (an open that never wrote a data file) and
    the temporaries of a creation that was cut short.
    """
    data = os.path.join(path, "data.mdb")
    return all(e == "lock.mdb" or atomic.is_temp(e, data, TEMP_PURPOSE) for e in os.listdir(path))


def create_database(path: str | os.PathLike[str], *, maxsize: int = 2**28) -> bool:
    """Create a complete, stamped database at path unless one exists; True if this call made it.

    The database is built in a temporary directory (catalog committed,
    schema version stamped), synced, then put in place in one step: the
    directory is renamed to path, or, if path is an existing empty
    directory (possibly a mount point, which cannot be renamed over), the
    data file is linked into it. A kill at any instant leaves either no
    database or a complete one. If another process creates it first, that
    database is kept.
    """
    path = os.path.abspath(os.fspath(path))
    if exists(path):
        # A creation killed between linking the data file and removing its temporary left that behind.
        atomic.clean_stale(os.path.join(path, "data.mdb"), TEMP_PURPOSE)
        return False
    if not os.path.exists(path):
        return _create(path, path, maxsize, atomic.publish)
    if not os.path.isdir(path):
        raise orm.DatabaseError(f"{path} exists and is not a database directory")
    if not can_create_in(path):
        raise orm.DatabaseError(f"{path} is a directory with other files in it and no database; "
                                "give a new or empty directory")
    data = os.path.join(path, "data.mdb")
    return _create(data, path, maxsize, lambda tmp, final: atomic.publish_file(os.path.join(tmp, "data.mdb"), final))


def _create(final: str, path: str, maxsize: int, publish: Callable[[str, str], Any]) -> bool:
    from cfxstore.migrate.versions import check_database

    tmp = atomic.temp_dir(final, TEMP_PURPOSE)
    try:
        with orm.Database(tmp, maxsize=maxsize) as db:
            check_database(db)  # stamps the new database with the current version
        crashpoint.reached("create-stamped")
        os.unlink(os.path.join(tmp, "lock.mdb"))  # private to this process; a lock file is per open
        try:
            made = publish(tmp, final) is not False
        except OSError:
            if not exists(path):
                raise
            made = False  # another process won the race: use its database
    finally:
        atomic.discard(tmp)
    return made


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
