"""MigrationContext: what a migration's upgrade/downgrade sees.

A migration works on records as stored (CBOR maps as dicts), through
tables bound from the catalog, inside the one write transaction of its
step. Indexes are not maintained for it: a migration that changes an
indexed field rewrites that index's table itself (see docs/migrations.md).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import orm
from orm.evolve import table_entries

from . import rawtables
from .errors import MigrationError

#: Called as on_row(table, done, total) while a migration walks a table.
RowCallback = Callable[[str, int, int], None]
NoteCallback = Callable[[str], None]


class MigrationContext:
    """One migration step: the database, its write transaction and progress reporting."""

    def __init__(self, db: orm.Database, txn: Any, *, version: int, direction: str,
                 on_row: RowCallback | None = None, on_note: NoteCallback | None = None) -> None:
        self.db = db
        self.txn = txn
        self.version = version
        self.direction = direction
        self.rows_read = 0
        self.rows_written = 0
        self._on_row = on_row
        self._on_note = on_note
        self._catalog = {e["name"]: e for e in db.catalog().values()}
        self._tables: dict[str, orm.Table] = {}

    # -- tables ----------------------------------------------------------------

    def table_names(self) -> list[str]:
        """Names of every table in the database's catalog."""
        return sorted(self._catalog)

    def has_table(self, name: str) -> bool:
        return name in self._catalog and self.table_or_none(name) is not None

    def table_or_none(self, name: str) -> orm.Table | None:
        tab = self._tables.get(name)
        if tab is None and name in self._catalog:
            tab = rawtables.bind(self.db, self._catalog[name], self.txn)
            if tab is not None:
                self._tables[name] = tab
        return tab

    def table(self, name: str) -> orm.Table:
        """The raw table called name (keys and values as stored)."""
        tab = self.table_or_none(name)
        if tab is None:
            raise MigrationError(f"migration {self.version}: the database has no table {name!r}")
        return tab

    # -- evolving tables (orm.evolve, inside this step's transaction) -----------------

    def drop_table(self, name: str) -> int:
        """Remove table name with its records and index tables; returns the records removed."""
        removed = orm.drop_table(self.db, name, self.txn)
        self.rows_written += removed
        self._reload()
        return removed

    def rename_table(self, old: str, new: str) -> None:
        """Give table old the name new (the schema declaring it must use the new name)."""
        orm.rename_table(self.db, old, new, self.txn)
        self._reload()

    def retype_table(self, name: str, value: Any, *, convert: Callable[[Any], Any] | None = None,
                     marshal: Callable[[Any], Any] | None = None, build: Callable[..., Any] | None = None) -> int:
        """Re-encode every record of name with value codec value (see orm.retype_table); returns the count."""
        done = orm.retype_table(self.db, name, value, convert=convert, marshal=marshal, build=build,
                                txn=self.txn, on_row=lambda n, total: self._row(name, n, total))
        self.rows_read += done
        self.rows_written += done
        self._reload()
        return done

    def _reload(self) -> None:
        # The catalog as this step's transaction sees it (a new read would not see the change).
        self._catalog = table_entries(self.db, self.txn)
        self._tables.clear()

    # -- records -----------------------------------------------------------------

    def rows(self, name: str) -> Iterator[tuple[Any, Any]]:
        """Every (key, value) of a table, reporting progress; safe to put/delete while iterating.

        The keys are read first, so changes made during the walk do not
        disturb it. For a set table the pairs are (key, member).
        """
        tab = self.table(name)
        txn = self.txn
        if isinstance(tab, orm.SetMap):
            pairs = list(tab.select(txn))
            total = len(pairs)
            for done, pair in enumerate(pairs, start=1):
                self.rows_read += 1
                yield pair
                self._row(name, done, total)
            return
        keys = list(tab.select(txn, return_values=False))
        total = len(keys)
        for done, key in enumerate(keys, start=1):
            value = tab[txn, key]
            self.rows_read += 1
            if value is not None:
                yield key, value
            self._row(name, done, total)

    def get(self, name: str, key: Any) -> Any:
        return self.table(name)[self.txn, key]

    def put(self, name: str, key: Any, value: Any) -> None:
        """Write one record (for a set table: add member value to key)."""
        tab = self.table(name)
        if isinstance(tab, orm.SetMap):
            tab[self.txn, key].add(value)
        else:
            tab[self.txn, key] = value
        self.rows_written += 1

    def delete(self, name: str, key: Any, member: Any = None) -> bool:
        """Delete a record (for a set table: one member of key)."""
        tab = self.table(name)
        if isinstance(tab, orm.SetMap):
            view = tab[self.txn, key]
            if member not in view:
                return False
            view.discard(member)
            done = True
        else:
            done = tab.delete(self.txn, key)
        self.rows_written += int(done)
        return done

    # -- reporting -----------------------------------------------------------------

    def note(self, message: str) -> None:
        """A line for the operator (shown under the step)."""
        if self._on_note is not None:
            self._on_note(message)

    def _row(self, name: str, done: int, total: int) -> None:
        if self._on_row is not None:
            self._on_row(name, done, total)
