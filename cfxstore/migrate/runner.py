"""The migration runner: plans steps between versions and runs each in one write transaction.

A step runs its migration and stamps the new version in the same
transaction, so a crash or kill at any point leaves the database at the
old version with its old records; nothing is half-migrated. Before the
first step the caller takes a backup (see backup.py).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Protocol, Sequence

import cfxstore
import orm
from cfxstore.schemaversion import HISTORY_KEY, effective_version, stamp
from cfxstore.timeutil import now_ns

from .context import MigrationContext
from .discovery import Migration
from .errors import MigrationError


class Reporter(Protocol):
    """How the runner tells the operator what it is doing (the CLI renders it)."""

    def step_started(self, migration: Migration, direction: str, from_version: int, to_version: int) -> None: ...
    def row(self, table: str, done: int, total: int) -> None: ...
    def note(self, message: str) -> None: ...
    def step_finished(self, result: "StepResult") -> None: ...


class SilentReporter:
    def step_started(self, migration: Migration, direction: str, from_version: int, to_version: int) -> None:
        pass

    def row(self, table: str, done: int, total: int) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def step_finished(self, result: "StepResult") -> None:
        pass


@dataclasses.dataclass(frozen=True)
class Plan:
    """Steps to take from version current to version target (in order)."""

    current: int
    target: int
    direction: str            # "up" or "down"
    steps: tuple[Migration, ...]

    @property
    def empty(self) -> bool:
        return not self.steps


@dataclasses.dataclass(frozen=True)
class StepResult:
    version: int              # the migration's VERSION
    direction: str
    from_version: int
    to_version: int
    description: str
    rows_read: int
    rows_written: int
    seconds: float


class _Rollback(Exception):
    """Ends a dry run: aborts the transaction holding its changes."""


def head(migrations: Sequence[Migration]) -> int:
    return migrations[-1].version if migrations else 0


def plan_up(current: int, migrations: Sequence[Migration], to: int | None = None) -> Plan:
    latest = head(migrations)
    target = latest if to is None else to
    if current > latest:
        raise MigrationError(f"the database is at schema version {current}, newer than this cfxstore "
                             f"knows (up to {latest}); upgrade cfxstore instead")
    if not 0 <= target <= latest:
        raise MigrationError(f"no schema version {target}: this cfxstore knows versions 1 to {latest}")
    if target < current:
        try:  # suggest going down only where that is possible
            plan_down(current, migrations, target)
            hint = f"use `cfxstore migrate down --to {target}` to go back"
        except MigrationError as exc:
            hint = f"going back is not possible either: {exc}"
        raise MigrationError(f"the database is already at version {current}, above {target}; {hint}")
    return Plan(current, target, "up", tuple(m for m in migrations if current < m.version <= target))


def plan_down(current: int, migrations: Sequence[Migration], to: int) -> Plan:
    latest = head(migrations)
    if current > latest:
        raise MigrationError(f"the database is at schema version {current}, newer than this cfxstore "
                             f"knows (up to {latest}); only a cfxstore that knows it can migrate it down")
    if not 0 <= to <= latest:
        raise MigrationError(f"no schema version {to}: this cfxstore knows versions 0 to {latest}")
    if to > current:
        raise MigrationError(f"the database is at version {current}, below {to}; use `cfxstore migrate up`")
    steps = tuple(m for m in reversed(migrations) if to < m.version <= current)
    blocked = [m for m in steps if not m.reversible]
    if blocked:
        names = ", ".join(f"{m.version:04d} ({m.description})" for m in blocked)
        raise MigrationError(f"cannot migrate down to {to}: migration {names} has no downgrade; "
                             "restore a backup taken before it instead")
    return Plan(current, to, "down", steps)


class Runner:
    """Runs a plan against one database."""

    def __init__(self, db: orm.Database, reporter: Reporter | None = None) -> None:
        self.db = db
        self.reporter: Reporter = reporter or SilentReporter()

    def current_version(self) -> int:
        with self.db.begin() as txn:
            version = effective_version(self.db, txn)
        return 0 if version is None else version

    def run(self, plan: Plan, *, dry_run: bool = False) -> list[StepResult]:
        """Run every step; a dry run runs them all in one transaction and rolls it back."""
        if plan.empty:
            return []
        if dry_run:
            results: list[StepResult] = []
            try:
                with self.db.begin(write=True) as txn:
                    for migration in plan.steps:
                        results.append(self._step(txn, plan, migration))
                    raise _Rollback()
            except _Rollback:
                pass
            for result in results:
                self.reporter.step_finished(result)
            return results
        out = []
        for migration in plan.steps:
            with self.db.begin(write=True) as txn:
                result = self._step(txn, plan, migration)
            # Reported once committed: "done" must mean durable.
            self.reporter.step_finished(result)
            out.append(result)
        return out

    def _step(self, txn: Any, plan: Plan, migration: Migration) -> StepResult:
        up = plan.direction == "up"
        from_version = migration.version - 1 if up else migration.version
        to_version = migration.version if up else migration.version - 1
        found = effective_version(self.db, txn)
        found = 0 if found is None else found
        if found != from_version:
            raise MigrationError(f"database {self.db.path} is at version {found}, expected {from_version} "
                                 "before this step; was it migrated by another process meanwhile?")
        self.reporter.step_started(migration, plan.direction, from_version, to_version)
        ctx = MigrationContext(self.db, txn, version=migration.version, direction=plan.direction,
                               on_row=self.reporter.row, on_note=self.reporter.note)
        started = time.monotonic()
        fn = migration.upgrade if up else migration.downgrade
        try:
            fn(ctx)  # type: ignore[misc]
        except MigrationError:
            raise
        except Exception as exc:
            what = str(exc) if isinstance(exc, (cfxstore.Error, orm.Error)) else f"{type(exc).__name__}: {exc}"
            raise MigrationError(f"migration {migration.name} ({plan.direction}) failed: {what}; "
                                 f"the database stays at version {from_version}") from exc
        stamp(self.db, txn, to_version)
        result = StepResult(migration.version, plan.direction, from_version, to_version, migration.description,
                            ctx.rows_read, ctx.rows_written, time.monotonic() - started)
        history = list(self.db.get_meta(txn, HISTORY_KEY, []) or [])
        history.append({"version": migration.version, "name": migration.name, "direction": plan.direction,
                        "from": from_version, "to": to_version, "at": now_ns(),
                        "rows_read": result.rows_read, "rows_written": result.rows_written})
        self.db.set_meta(txn, HISTORY_KEY, history)
        return result


__all__ = ["Plan", "Reporter", "Runner", "SilentReporter", "StepResult", "head", "plan_down", "plan_up"]
