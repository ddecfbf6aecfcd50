"""Errors of database maintenance (migrations, backups, dumps, imports).

Each message says what was wrong and, where there is one, what to do.
"""

from __future__ import annotations

from cfxstore.errors import Error


class MaintenanceError(Error):
    """Base class of the errors raised on purpose by cfxstore.migrate."""


class MigrationError(MaintenanceError):
    """A migration module is malformed, or a requested migration cannot run."""


class DumpFormatError(MaintenanceError):
    """A dump file is not a valid cfxstore dump; the message names the line."""


class ImportSourceError(MaintenanceError):
    """An import source is missing or is not the kind of cfxdb database expected."""


class NotADatabase(MaintenanceError):
    """A path holds no cfxstore database."""
