"""The one entry point through which cfxstore services open their database.

A path names an embedded LMDB database; a ``postgresql://`` URL one in a
PostgreSQL schema (``?schema=``, default ``cfxstore``), shared by router nodes.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import orm
from orm import atomic, crashpoint
from orm.engine.pgurl import is_url

from cfxstore.schemaversion import check_database, effective_version

#: Where services keep their data unless told otherwise (override with CFXSTORE_DB).
DEFAULT_PATH = os.path.join(".cfxstore", "db")
#: The <purpose> part of a database's temporary name while it is created (see orm.atomic).
TEMP_PURPOSE = "creating"


def default_path() -> str:
    return os.environ.get("CFXSTORE_DB") or DEFAULT_PATH


def exists(path: str | os.PathLike[str]) -> bool:
    """True if path holds a database (created ones are always complete: see create_database)."""
    if is_url(path):
        try:
            orm.Database(path, readonly=True).close()
        except orm.DatabaseNotFound:
            return False
        return True
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
    if is_url(path):
        return _create_on_server(path)  # type: ignore[arg-type]
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


def _create_on_server(url: str) -> bool:
    """Create (catalog, version stamp) the PostgreSQL database at url unless it exists; True if made.

    PostgreSQL's transactions make this atomic: several nodes starting at once
    conflict, and the loser finds the database the winner stamped.
    """
    with orm.Database(url) as db:
        for _ in range(10):
            try:
                with db.begin() as txn:
                    if effective_version(db, txn) is not None:
                        return False  # exists: its version is for the opener to check (maintenance does not)
                check_database(db)
                return True
            except orm.Conflict:
                continue
    raise orm.DatabaseError(f"could not create the database at {db.path}: too many concurrent creators")


def open_database(path: str | os.PathLike[str] | None = None, *, readonly: bool = False,
                  maxsize: int = 2**28, sync: bool = True, check_version: bool = True) -> orm.Database:
    """Open (creating unless readonly) the database at path (default: default_path()): a directory or a URL.

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
    db = orm.Database(path, maxsize=maxsize, readonly=readonly, sync=sync)
    if check_version:
        try:
            check_database(db)
        except BaseException:
            db.close()
            raise
    return db
