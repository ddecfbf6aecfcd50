"""Behaviour every domain index shows: lookups, enforced uniqueness, upkeep on update and delete.

A schema's index test module imports this module's tests, lists its indexes
as ``Case`` objects in UNIQUE and NON_UNIQUE (``with_factories`` attaches its
record factories), provides the ``schema`` fixture, and parametrizes with
``pytest_generate_tests = cases(UNIQUE, NON_UNIQUE)``.
"""

import dataclasses
from typing import Any, Callable

import orm
import pytest

from table_contract import pk


@dataclasses.dataclass(frozen=True)
class Case:
    table: str
    index: str
    shared: tuple[str, ...] | None       # fields copied from another record to share its index key
    ikey: Callable[[Any], Any]
    move: tuple[str, Callable[[int], Any]] | None  # (field, new value) that changes only the index key
    factory: Callable[[int], Any] | None = dataclasses.field(compare=False, default=None)

    def __str__(self) -> str:
        return self.index

    def make(self, n: int):
        return self.factory(n)

    def share(self, record, other):
        return dataclasses.replace(record, **{f: getattr(other, f) for f in self.shared})


def with_factories(tables: dict[str, Callable[[int], Any]], group: list[Case]) -> list[Case]:
    return [dataclasses.replace(c, factory=tables[c.table]) for c in group]


def cases(unique: list[Case], non_unique: list[Case]) -> Callable[[Any], None]:
    """A pytest_generate_tests hook that feeds the contract tests their cases."""
    groups = {
        "unique_case": unique,
        "movable_case": [c for c in unique + non_unique if c.move is not None],
        "any_case": unique + non_unique,
        "shareable_case": [c for c in non_unique if c.shared is not None],
    }

    def pytest_generate_tests(metafunc: Any) -> None:
        for name, group in groups.items():
            if name in metafunc.fixturenames:
                metafunc.parametrize(name, group, ids=str)

    return pytest_generate_tests


def put(db, schema, table, *records):
    with db.begin(write=True) as txn:
        tab = getattr(schema, table)
        for r in records:
            tab[txn, pk(r)] = r


def index_counts(txn, schema, table):
    return {name: ix.table.count(txn) for name, ix in getattr(schema, table).indexes.items()}


def test_unique_index_finds_record(db, schema, unique_case):
    case = unique_case
    a, b = case.make(1), case.make(2)
    put(db, schema, case.table, a, b)
    with db.begin() as txn:
        assert getattr(schema, case.table).get_by_index(txn, case.index, case.ikey(b)) == b


def test_unique_violation_on_insert_writes_nothing(db, schema, unique_case):
    case = unique_case
    a, b = case.make(1), case.make(2)
    put(db, schema, case.table, a, b)
    intruder = case.share(case.make(3), a)
    tab = getattr(schema, case.table)
    with db.begin(write=True) as txn:
        before = index_counts(txn, schema, case.table)
        with pytest.raises(orm.UniqueViolation):
            tab[txn, pk(intruder)] = intruder
        # The transaction goes on and commits: the failed put must have left no trace.
    with db.begin() as txn:
        assert tab[txn, pk(intruder)] is None
        assert tab.count(txn) == 2
        assert index_counts(txn, schema, case.table) == before
        assert tab.get_by_index(txn, case.index, case.ikey(a)) == a
        assert tab.check_indexes(txn) == []


def test_unique_violation_on_update_keeps_old_record(db, schema, unique_case):
    case = unique_case
    a, b = case.make(1), case.make(2)
    put(db, schema, case.table, a, b)
    tab = getattr(schema, case.table)
    with db.begin(write=True) as txn:
        with pytest.raises(orm.UniqueViolation):
            tab[txn, pk(b)] = case.share(b, a)
    with db.begin() as txn:
        assert tab[txn, pk(b)] == b
        assert tab.get_by_index(txn, case.index, case.ikey(b)) == b
        assert tab.get_by_index(txn, case.index, case.ikey(a)) == a
        assert tab.check_indexes(txn) == []


def test_update_moves_index_entry(db, schema, movable_case):
    case = movable_case
    a = case.make(1)
    put(db, schema, case.table, a)
    field, new_value = case.move
    moved = dataclasses.replace(a, **{field: new_value(1)})
    put(db, schema, case.table, moved)
    tab = getattr(schema, case.table)
    with db.begin() as txn:
        assert tab.keys_by_index(txn, case.index, case.ikey(a)) == []
        assert tab.keys_by_index(txn, case.index, case.ikey(moved)) == [pk(moved)]


def test_delete_removes_index_entry(db, schema, any_case):
    case = any_case
    a, b = case.make(1), case.make(2)
    put(db, schema, case.table, a, b)
    tab = getattr(schema, case.table)
    with db.begin(write=True) as txn:
        del tab[txn, pk(a)]
    with db.begin() as txn:
        assert tab.keys_by_index(txn, case.index, case.ikey(a)) == []
        assert tab.keys_by_index(txn, case.index, case.ikey(b)) == [pk(b)]


def test_non_unique_index_lists_every_record_sharing_a_key(db, schema, shareable_case):
    case = shareable_case
    a = case.make(1)
    sibling = case.share(case.make(2), a)
    put(db, schema, case.table, a, sibling, case.make(3))
    with db.begin() as txn:
        keys = getattr(schema, case.table).keys_by_index(txn, case.index, case.ikey(a))
    assert sorted(keys) == sorted([pk(a), pk(sibling)])
