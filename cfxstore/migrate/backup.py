"""Compact, consistent copies of a database that appear whole or not at all.

The copy is written into a hidden temporary sibling of the destination,
synced, then renamed to the destination: a backup that is cut short (an
error, a full disk, a kill) never carries the final name, and its
temporary is removed by the next backup to the same place.
"""

from __future__ import annotations

import datetime
import os
import re

import orm
from orm import atomic

from .errors import MaintenanceError

#: The <purpose> part of a backup's temporary name (see orm.atomic).
TEMP_PURPOSE = orm.database.BACKUP_PURPOSE


class BackupError(MaintenanceError):
    """A backup could not be written; nothing carries the destination's name."""


def backup_path(db_path: str, version: int | None, now: datetime.datetime | None = None) -> str:
    """A fresh sibling path PATH.backup-<version>-<UTC timestamp>[-n]."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    base = f"{db_path.rstrip(os.sep)}.backup-{version if version is not None else 'new'}-{now:%Y%m%dT%H%M%SZ}"
    path, n = base, 1
    while os.path.exists(path):
        n += 1
        path = f"{base}-{n}"
    return path


def backup(db: orm.Database, dest: str | os.PathLike[str]) -> str:
    """Copy db into the new or empty directory dest (compacted; consistent while writers run).

    Returns dest's real path. On any failure dest is left as it was (see orm.Database.backup).
    """
    try:
        return db.backup(dest, compact=True)
    except orm.Error as exc:
        raise BackupError(str(exc)) from None


def backup_beside(db: orm.Database, version: int | None) -> str:
    """Back db up next to itself (see backup_path); returns the backup's path.

    Temporaries of earlier automatic backups of db that were killed are removed
    first (each had its own timestamped name).
    """
    dest = backup_path(db.path, version)
    atomic.clean_stale(dest, TEMP_PURPOSE, re.escape(os.path.basename(db.path.rstrip(os.sep))) + r"\.backup-[^/]+")
    return backup(db, dest)
