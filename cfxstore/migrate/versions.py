"""Schema versions: what the code supports and what a database is stamped with.

This module stays light (no migration is imported) because every
``open_database`` call runs :func:`check_database`.
"""

from __future__ import annotations

import os
import re
from typing import Any

import cfxstore
import orm

from .errors import MigrationError

#: Meta key under which a database stores its schema version.
VERSION_KEY = "schema_version"
#: Meta key of the list of migration steps applied to a database.
HISTORY_KEY = "schema_history"
#: The schema version this code writes: the number of the newest migration script
#: (a test ties the two together; raise it with every new script).
SCHEMA_VERSION = 2
#: Directory name of the numbered migration scripts: inside the installed cfxstore package,
#: beside it in a source checkout.
MIGRATIONS_DIRNAME = "migrations"

MODULE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.py$")


class SchemaVersionError(cfxstore.Error, orm.DatabaseError):
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


def migrations_dir() -> str:
    """Directory of this installation's migration scripts, found by file path.

    A wheel installs them inside the package (``cfxstore/migrations``); a
    source checkout, also installed editable, keeps them beside it
    (``migrations/``). They are never looked up by import name, so another
    ``migrations`` package in the working directory or on sys.path cannot
    stand in for them.
    """
    package = os.path.dirname(os.path.abspath(cfxstore.__file__))
    installed, checkout = (os.path.join(root, MIGRATIONS_DIRNAME) for root in (package, os.path.dirname(package)))
    for path in (installed, checkout):
        if os.path.isdir(path):
            return path
    raise MigrationError(f"cfxstore's migration scripts are missing: no directory {installed} or {checkout}; "
                         "reinstall cfxstore")


def versions_in(directory: str) -> list[int]:
    """Version numbers of the migration files in directory (from their names), sorted."""
    found = []
    for name in os.listdir(directory):
        m = MODULE_NAME.match(name)
        if m:
            found.append(int(m.group(1)))
    return sorted(found)


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
