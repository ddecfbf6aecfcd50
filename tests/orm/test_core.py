"""The C accelerator (orm._core) and its Python twin behave the same."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import orm.core

HERE = Path(__file__).parent


def pure_env() -> dict[str, str]:
    return {**os.environ, "ORM_PURE_PYTHON": "1"}


@pytest.mark.skipif(os.environ.get("ORM_PURE_PYTHON") is not None, reason="the Python version was asked for")
@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no C compiler here")
def test_the_c_core_is_built_where_a_compiler_exists():
    assert orm.core.ACCELERATED, "orm._core was not built; pip install -e . with a C compiler builds it"


def test_the_environment_switch_selects_the_python_version():
    out = subprocess.run([sys.executable, "-c", "import orm.core; print(orm.core.ACCELERATED)"],
                         env=pure_env(), capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.skipif(not orm.core.ACCELERATED, reason="this run already uses the Python version")
def test_the_orm_suite_passes_on_the_python_version():
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", str(HERE),
                           "--deselect", f"{HERE / 'test_core.py'}::test_the_orm_suite_passes_on_the_python_version"],
                          env=pure_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout
