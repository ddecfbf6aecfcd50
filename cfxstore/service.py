"""What every cfxstore service shares: opening its database and closing it again."""

from __future__ import annotations

import os
from typing import Any, Callable, Self, TypeVar

import orm
from cfxstore.database import open_database

T = TypeVar("T")

# Keyword arguments of open() that go to the database rather than the service.
_DB_OPTIONS = ("readonly", "maxsize", "sync")
S = TypeVar("S", bound=orm.Schema)


def attached(schema: type[S], db: orm.Database) -> S:
    """``schema.attach(db)``, typed as what it returns: called on the class, orm.Schema.attach returns
    the attached schema, but type checkers read the subclass's ``attach(self, db)`` method."""
    attach: Callable[[orm.Database], S] = schema.attach  # type: ignore[assignment]
    return attach(db)


class Service:
    """A service on an orm.Database; it closes the database only if it opened it."""

    db: orm.Database
    _owns_db = False
    #: How often a write that conflicted with a concurrent writer (another process or router node
    #: on the same PostgreSQL database) is run again before the conflict reaches the caller.
    write_retries = 10

    def __init__(self, db: orm.Database) -> None:
        """A service on db (subclasses take their own options after it)."""
        self.db = db

    def transact(self, fn: Callable[[orm.Transaction], T], retries: int | None = None, *,
                 conflicts_only: bool = False) -> T:
        """fn(txn) in a write transaction of the service's database, run again on a retryable error
        (see orm.Database.transact): the one way services write (a failed attempt wrote nothing)."""
        return self.db.transact(fn, self.write_retries if retries is None else retries, conflicts_only=conflicts_only)

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, **options: Any) -> Self:
        """Open (or create) the database at path (default: cfxstore.database.default_path()).

        ``readonly``, ``maxsize`` and ``sync`` go to the database, the rest to the service.
        """
        db = open_database(path, **{k: options.pop(k) for k in _DB_OPTIONS if k in options})
        try:
            service = cls(db, **options)
        except BaseException:
            db.close()
            raise
        service._owns_db = True
        return service

    def close(self) -> None:
        """Close the database if this service opened it."""
        if self._owns_db:
            self._owns_db = False
            self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
