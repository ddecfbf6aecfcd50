"""What every cfxstore service shares: opening its database and closing it again."""

from __future__ import annotations

import os
from typing import Any, Self

import orm

# Keyword arguments of open() that go to the database rather than the service.
_DB_OPTIONS = ("readonly", "maxsize", "sync")


class Service:
    """A service on an orm.Database; it closes the database only if it opened it."""

    db: orm.Database
    _owns_db = False

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, **options: Any) -> Self:
        """Open (or create) the database at path (default: cfxstore.database.default_path()).

        ``readonly``, ``maxsize`` and ``sync`` go to the database, the rest to the service.
        """
        from cfxstore.database import open_database

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
