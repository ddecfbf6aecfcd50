"""Migration scripts on disk: where they are and which version numbers they carry.

The version a database is stamped with is cfxstore.schemaversion's.
"""

from __future__ import annotations

import os
import re

import cfxstore

from .errors import MigrationError

#: Directory name of the numbered migration scripts: inside the installed cfxstore package,
#: beside it in a source checkout.
MIGRATIONS_DIRNAME = "migrations"

MODULE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.py$")


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
