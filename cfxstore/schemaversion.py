"""The schema version record: what the code supports and what a database is stamped with.

Every ``open_database`` call runs :func:`check_database`, so this module
stays light and low: it knows the version numbers, not the migrations.
"""

from __future__ import annotations

from typing import Any

import orm
from cfxstore.errors import Error

#: Meta key under which a database stores its schema version.
VERSION_KEY = "schema_version"
#: Meta key of the list of migration steps applied to a database.
HISTORY_KEY = "schema_history"
#: The schema version this code writes: the number of the newest migration script
#: (a test ties the two together; raise it with every new script).
SCHEMA_VERSION = 2


class SchemaVersionError(Error, orm.DatabaseError):
    """A database's schema version does not match what this code supports."""

    def __init__(self, message: str, *, path: str, version: int | None, supported: int) -> None:
        super().__init__(message)
        self.path = path
        self.version = version
        self.supported = supported


class DatabaseTooOld(SchemaVersionError):
    """The database needs ``cfxstore migrate up`` before this code can use it."""


class DatabaseTooNew(SchemaVersionError):
    """The database was migrated by a newer cfxstore than this one."""


def latest_version() -> int:
    """The schema version this code writes (SCHEMA_VERSION)."""
    return SCHEMA_VERSION


def stored_version(db: orm.Database, txn: Any) -> int | None:
    """The version stamped on db, or None if it has never been stamped."""
    value = db.get_meta(txn, VERSION_KEY)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise orm.DatabaseError(f"database {db.path} has an invalid schema version {value!r} in its metadata")
    return value


def effective_version(db: orm.Database, txn: Any) -> int | None:
    """The version a database is at: its stamp; 0 for an unstamped one with tables; None if empty."""
    version = stored_version(db, txn)
    if version is None and db.catalog():
        return 0
    return version


def stamp(db: orm.Database, txn: Any, version: int) -> None:
    db.set_meta(txn, VERSION_KEY, version)


def migrate_hint(path: str) -> str:
    return f"back it up and run `cfxstore migrate up --db {path}`"


def check_database(db: orm.Database) -> int:
    """Refuse a database this code cannot use; stamp a brand-new one. Returns its version.

    A database without tables and without a stamp is new: it gets the
    latest version (unless read-only). One with tables but no stamp was
    written before versions were tracked and counts as version 0.
    """
    latest = latest_version()
    with db.begin() as txn:
        version = effective_version(db, txn)
    if version is None:
        if db.readonly:
            return latest
        with db.begin(write=True) as txn:
            # Re-read inside the write lock: another process may have stamped it meanwhile.
            version = effective_version(db, txn)
            if version is None:
                stamp(db, txn, latest)
                return latest
    if version < latest:
        what = "has no schema version (it predates versioned cfxstore databases)" if version == 0 \
            else f"is at schema version {version}"
        raise DatabaseTooOld(f"database {db.path} {what}; this cfxstore needs version {latest}: "
                             f"{migrate_hint(db.path)}", path=db.path, version=version, supported=latest)
    if version > latest:
        raise DatabaseTooNew(f"database {db.path} is at schema version {version}, newer than this cfxstore "
                             f"supports (up to {latest}); upgrade cfxstore to use it",
                             path=db.path, version=version, supported=latest)
    return version
