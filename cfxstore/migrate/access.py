"""Opening an existing database for maintenance, with clear errors for wrong paths.

Maintenance commands must never create a database by accident (a typo in
a path would otherwise yield a fresh empty one) nor add cfxstore's
catalog to some other LMDB file, so a path is checked, then probed
read-only, before any writable open.
"""

from __future__ import annotations

import os

import orm
from cfxstore.database import can_create_in, open_database
from cfxstore.lmdbfile import check_whole

from .errors import NotADatabase

#: Initial map size of maintenance opens; the map grows on demand.
MAINTENANCE_MAXSIZE = 2**28


def require_database(path: str) -> str:
    """The real path of an existing database directory at path, else NotADatabase."""
    if not os.path.exists(path):
        raise NotADatabase(f"no database at {path} (the path does not exist)")
    if not os.path.isdir(path):
        raise NotADatabase(f"{path} is a file, not a database directory")
    if not os.path.isfile(os.path.join(path, "data.mdb")):
        raise NotADatabase(f"{path} is not a cfxstore database (the directory has no data.mdb)")
    check_whole(path)
    return os.path.realpath(path)


def _probe(path: str) -> None:
    try:
        orm.Database(path, readonly=True).close()
    except orm.DatabaseError as exc:
        if "no catalog" in str(exc):
            raise NotADatabase(f"{path} is an LMDB database but not a cfxstore one (it has no catalog); "
                               "for a Crossbar cookie or realm store use `cfxstore migrate import-cfxdb`") from None
        raise NotADatabase(f"{path} is not a usable database: {exc}") from None


def open_existing(path: str, *, readonly: bool, check_version: bool = True,
                  maxsize: int = MAINTENANCE_MAXSIZE) -> orm.Database:
    """Open the existing cfxstore database at path (see the module docstring)."""
    real = require_database(path)
    _probe(real)
    return open_database(real, readonly=readonly, maxsize=maxsize, check_version=check_version)


def open_or_create(path: str, *, maxsize: int = MAINTENANCE_MAXSIZE) -> tuple[orm.Database, bool]:
    """Open the database at path for writing, creating it if there is none; returns (db, created)."""
    if os.path.exists(path) and os.path.isdir(path) and os.path.isfile(os.path.join(path, "data.mdb")):
        return open_existing(path, readonly=False, maxsize=maxsize), False
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotADatabase(f"{path} is a file, not a database directory")
    if os.path.isdir(path) and not can_create_in(path):
        raise NotADatabase(f"{path} is a directory with other files in it and no database; "
                           "give a new or empty directory")
    return open_database(path, maxsize=maxsize), True
