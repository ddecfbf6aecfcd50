"""The .fbs tables in fbs/ match the records they describe: flatc accepts every
schema, each record's table has exactly its fields, and holds every value."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from bench import fbsgen
from cfxstore.cookies.entities import Cookie
from cfxstore.realmstore.entities import Event, Publication, Session

TABLES = {"Cookie", "Event", "NodeLog", "NodeState", "Publication", "Session", "WorkerLog", "WorkerState",
          "WorkerType"}


@pytest.fixture(scope="module")
def generated() -> None:
    fbsgen.load()


def test_flatc_generates_every_table_of_the_schemas(tmp_path):
    package = fbsgen.generate(tmp_path)
    assert {p.stem for p in Path(package).glob("*.py")} == TABLES | {"__init__"}


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


_HELPERS = ("Length", "AsNumpy", "IsNone")


def accessors(table: str) -> set[str]:
    cls = getattr(importlib.import_module(f"fbsgen.{table}"), table)
    return {name for name in vars(cls)
            if name[:1].isupper() and not name.startswith(("GetRootAs", "Init"))
            and not name.endswith(_HELPERS)}


@pytest.mark.parametrize("entity", [Cookie, Session, Publication, Event], ids=lambda e: e.__name__)
def test_fbs_table_has_exactly_the_fields_of_its_record(generated, entity):
    assert accessors(entity.__name__) == {_camel(f) for f in entity._fields()}


@pytest.mark.parametrize("table", ["NodeLog", "WorkerLog"])
def test_log_tables_are_generated(generated, table):
    assert "Timestamp" in accessors(table) and "NodeId" in accessors(table)


@pytest.mark.parametrize("entity", [Cookie, Session, Publication, Event], ids=lambda e: e.__name__)
def test_fbs_table_holds_every_value_of_its_record(entity):
    from bench.services import FlatCodec, sample_records

    record = sample_records()[entity]
    codec = FlatCodec(entity)
    assert codec.decode(codec.encode(record)) == record
