"""Finding and validating the numbered migration modules."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import site
import sys
import sysconfig
from types import ModuleType
from typing import Any, Callable

from .errors import MigrationError
from .versions import MODULE_NAME, migrations_dir


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


def _import(stem: str, path: str) -> ModuleType:
    # By file path under a private name, never by import name: a ``migrations``
    # package elsewhere on sys.path (a Django app, the cwd) cannot stand in.
    name = f"_cfxstore_migration_{hashlib.sha1(os.path.realpath(path).encode()).hexdigest()[:12]}_{stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise MigrationError(f"cannot load migration file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
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
    """Every migration in directory (default: this installation's scripts), ordered by version.

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
            module = _import(entry[:-3], path)
        except MigrationError:
            raise
        except Exception as exc:
            raise MigrationError(f"{path}: cannot import: {type(exc).__name__}: {exc}") from exc
        migrations.append(_validate(module, number, entry[:-3], path))
    return migrations


def _installed_dirs() -> list[str]:
    paths = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    paths.update(site.getsitepackages())
    paths.add(site.getusersitepackages())
    return [os.path.realpath(p) for p in paths if p]


def is_installed_location(directory: str) -> bool:
    """True if directory lies in an installation's site-packages (which pip owns, not the user)."""
    real = os.path.realpath(directory)
    parts = set(real.split(os.sep))
    if parts & {"site-packages", "dist-packages"}:
        return True
    return any(real == p or real.startswith(p + os.sep) for p in _installed_dirs())


def new_migration_dir(directory: str | None) -> str:
    """Where ``migrate new`` writes: directory if given, else the source checkout's scripts.

    Never site-packages: a script written there is lost on the next install
    and never reaches the project's sources.
    """
    if directory is None:
        scripts = migrations_dir()
        checkout = os.path.dirname(scripts)
        if is_installed_location(scripts) or not os.path.isfile(os.path.join(checkout, "pyproject.toml")):
            raise MigrationError(f"cfxstore is installed in {checkout}, not run from a source checkout; "
                                 "name the directory to write the migration into with --dir")
        directory = scripts
    if is_installed_location(directory):
        raise MigrationError(f"refusing to write a migration into {os.path.realpath(directory)}: it is inside "
                             "an installed site-packages; write it into the source checkout (--dir)")
    if not os.path.isdir(directory):
        raise MigrationError(f"migrations directory {directory} does not exist")
    return directory
