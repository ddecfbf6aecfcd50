"""What a built wheel installs: the packages cfxstore and orm and nothing else at the top
level, with the migration steps inside cfxstore, where ``cfxstore migrate`` finds them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import orm
from cfxstore.schemaversion import SCHEMA_VERSION, stamp

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("orm", "cfxstore", "migrations", "pyproject.toml", "setup.py", "README.md")
PACKAGES = {"cfxstore", "orm"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the sources (the checkout's own build files stay untouched)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        else:
            shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(out), str(src)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    [path] = out.glob("*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel unpacked as an installer lays it out in site-packages."""
    target = tmp_path_factory.mktemp("site-packages")
    with zipfile.ZipFile(wheel) as whl:
        whl.extractall(target)
    return target


def names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as whl:
        return whl.namelist()


def test_the_wheel_adds_no_top_level_module_but_cfxstore_and_orm(wheel):
    top = {name.split("/")[0] for name in names(wheel)}
    dist_info = {name for name in top if name.endswith(".dist-info")}
    assert len(dist_info) == 1 and top - dist_info == PACKAGES
    [info] = dist_info
    with zipfile.ZipFile(wheel) as whl:
        listed = whl.read(f"{info}/top_level.txt").decode().split()
    assert set(listed) == PACKAGES


def test_the_wheel_carries_the_migration_steps_and_no_benchmarks(wheel):
    shipped = set(names(wheel))
    steps = {f"cfxstore/migrations/{p.name}" for p in (ROOT / "migrations").glob("[0-9]*.py")}
    assert len(steps) == SCHEMA_VERSION and steps <= shipped
    assert not [name for name in shipped if "bench" in name or "fbsgen" in name]


def test_type_markers_in_the_sources_ship(wheel):
    markers = {p.relative_to(ROOT).as_posix() for package in PACKAGES for p in (ROOT / package).rglob("py.typed")}
    assert markers <= set(names(wheel))


PROBE = """
import json, sys
import cfxstore
from cfxstore.migrate.discovery import load_migrations
from cfxstore.migrate.versions import migrations_dir
try:
    import migrations
    top_level = migrations.__file__
except ImportError:
    top_level = None
print(json.dumps({"package": cfxstore.__file__, "dir": migrations_dir(),
                  "versions": [m.version for m in load_migrations()], "top_level_migrations": top_level}))
"""


def _run(installed: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    # The unpacked wheel comes first on sys.path, ahead of this checkout's editable install.
    env = {**os.environ, "PYTHONPATH": str(installed)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_installed_wheel_finds_its_steps_inside_the_package(installed, tmp_path):
    done = _run(installed, "-c", PROBE, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["package"] == str(installed / "cfxstore" / "__init__.py")
    assert seen["dir"] == str(installed / "cfxstore" / "migrations")
    assert seen["versions"] == list(range(1, SCHEMA_VERSION + 1))
    assert seen["top_level_migrations"] is None


def test_cfxstore_migrate_up_runs_from_the_installed_wheel(installed, tmp_path):
    path = str(tmp_path / "db")
    db = orm.Database(path)
    with db.begin(write=True) as txn:
        stamp(db, txn, 1)
    db.close()
    done = _run(installed, "-m", "cfxstore.cli.main", "migrate", "up", path, "--no-backup", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    status = _run(installed, "-m", "cfxstore.cli.main", "migrate", "status", path, "--json", cwd=tmp_path)
    assert json.loads(status.stdout)["state"] == "current", status.stderr
