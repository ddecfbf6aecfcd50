"""Finding and validating the numbered migration modules."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any, Callable

from .errors import MigrationError
from .versions import MIGRATIONS_PACKAGE, MODULE_NAME, migrations_dir


@dataclasses.dataclass(frozen=True)
class Migration:
    """One migration module: upgrade from VERSION-1 to VERSION (and back, if it can)."""

    version: int
    name: str
    description: str
    upgrade: Callable[[Any], None]
    downgrade: Callable[[Any], None] | None
    path: str

    @property
    def reversible(self) -> bool:
        return self.downgrade is not None


def _import(directory: str, stem: str, path: str) -> ModuleType:
    if os.path.realpath(directory) == os.path.realpath(migrations_dir()):
        return importlib.import_module(f"{MIGRATIONS_PACKAGE}.{stem}")
    # A directory outside the package (tests, `migrate new --dir`): load by file.
    name = f"_cfxstore_migration_{abs(hash(os.path.realpath(path)))}_{stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise MigrationError(f"cannot load migration file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _validate(module: ModuleType, number: int, stem: str, path: str) -> Migration:
    version = getattr(module, "VERSION", None)
    if isinstance(version, bool) or not isinstance(version, int) or version != number:
        raise MigrationError(f"{path}: VERSION must be {number} to match the file name, got {version!r}")
    description = getattr(module, "DESCRIPTION", None)
    if not isinstance(description, str) or not description.strip():
        raise MigrationError(f"{path}: DESCRIPTION must be a non-empty string")
    upgrade = getattr(module, "upgrade", None)
    if not callable(upgrade):
        raise MigrationError(f"{path}: needs an upgrade(ctx) function")
    downgrade = getattr(module, "downgrade", None)
    if downgrade is not None and not callable(downgrade):
        raise MigrationError(f"{path}: downgrade must be a function if it is defined")
    return Migration(version, stem, description.strip(), upgrade, downgrade, path)


def load_migrations(directory: str | None = None) -> list[Migration]:
    """Every migration in directory (default: the migrations package), ordered by version.

    Versions must run 1, 2, 3, ... without gaps or duplicates.
    """
    directory = directory or migrations_dir()
    if not os.path.isdir(directory):
        raise MigrationError(f"migrations directory {directory} does not exist")
    found: dict[int, str] = {}
    for entry in sorted(os.listdir(directory)):
        m = MODULE_NAME.match(entry)
        if not m:
            continue
        number = int(m.group(1))
        if number in found:
            raise MigrationError(f"two migrations have version {number}: {found[number]} and {entry}")
        found[number] = entry
    migrations = []
    for expected, number in enumerate(sorted(found), start=1):
        if number != expected:
            raise MigrationError(f"migration versions must be consecutive from 1; {directory} has no "
                                 f"{expected:04d}_*.py before {found[number]}")
        entry = found[number]
        path = os.path.join(directory, entry)
        try:
            module = _import(directory, entry[:-3], path)
        except MigrationError:
            raise
        except Exception as exc:
            raise MigrationError(f"{path}: cannot import: {type(exc).__name__}: {exc}") from exc
        migrations.append(_validate(module, number, entry[:-3], path))
    return migrations
