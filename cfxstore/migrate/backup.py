"""Compact, consistent copies of a database."""

from __future__ import annotations

import datetime
import os

import orm


def backup_path(db_path: str, version: int | None, now: datetime.datetime | None = None) -> str:
    """A fresh sibling path PATH.backup-<version>-<UTC timestamp>[-n]."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    base = f"{db_path.rstrip(os.sep)}.backup-{version if version is not None else 'new'}-{now:%Y%m%dT%H%M%SZ}"
    path, n = base, 1
    while os.path.exists(path):
        n += 1
        path = f"{base}-{n}"
    return path


def backup(db: orm.Database, dest: str) -> str:
    """Copy db into the new or empty directory dest (compacted; consistent while writers run)."""
    return db.backup(dest, compact=True)


def backup_beside(db: orm.Database, version: int | None) -> str:
    """Back db up next to itself (see backup_path); returns the backup's path."""
    return backup(db, backup_path(db.path, version))
