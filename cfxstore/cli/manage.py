"""What the realms, roles and permissions commands share: the service, errors and output."""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator, Sequence, TypeVar

import click

from cfxstore.cli.render import db_option, db_path, emit_json, fields, handle_errors, json_option, note, table
from cfxstore.management import Management
from cfxstore.management.errors import ManagementError
from cfxstore.management.wire import to_wire
from cfxstore.migrate.access import open_existing, open_or_create

F = TypeVar("F", bound=Callable[..., Any])

limit_option = click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000),
                            help="At most this many records.")
after_option = click.option("--after", default=None, metavar="CURSOR",
                            help="Continue after the cursor a previous --json listing returned as next.")


def management_errors(fn: F) -> F:
    """Refusals of the services as one-line messages (exit status 1), nothing written."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ManagementError as exc:
            raise click.ClickException(str(exc)) from None

    return handle_errors(wrapper)  # type: ignore[return-value]


@contextlib.contextmanager
def management(path: str | None, *, write: bool, create: bool = False) -> Iterator[Any]:
    """A Management on the database at path; only ``create`` makes a database where there is none
    (adding a first record), so a mistyped path fails every other command instead of creating one."""
    if create:
        database, created = open_or_create(db_path(path))
        if created:
            note(f"created a new database at {database.path}")
    else:
        database = open_existing(db_path(path), readonly=not write)
    with database:
        yield Management(database)


def emit_records(records: Sequence[Any], columns: Sequence[str], row: Callable[[Any], Sequence[Any]],
                 as_json: bool, next_cursor: str | None = None, what: str = "record") -> None:
    """A table of records, or their wire form as JSON ({"items", "next"} for listings)."""
    if as_json:
        emit_json({"items": [to_wire(r) for r in records], "next": next_cursor})
        return
    table(columns, [row(r) for r in records])
    note(f"{len(records)} {what}(s)" + (f"; more after --after {next_cursor}" if next_cursor else ""))


def report(as_json: bool, message: str, record: Any = None, data: dict[str, Any] | None = None) -> None:
    """What a change did: the record (or data) as JSON, or a line for people."""
    if not as_json:
        click.echo(message)
    elif record is not None:
        emit_record(record, True)
    else:
        emit_json(data)


def emit_record(record: Any, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    data = {**to_wire(record), **(extra or {})}
    if as_json:
        emit_json(data)
    else:
        fields((k, v) for k, v in data.items() if v is not None)


def add_named_commands(group: click.Group, attr: str, what: str, cascade: str) -> None:
    """``add NAME [--description]`` and ``remove NAME [--yes]`` for a collection of named records."""

    @group.command()
    @click.argument("name")
    @db_option
    @click.option("--description", default=None)
    @json_option
    @management_errors
    def add(name: str, db: str | None, description: str | None, as_json: bool) -> None:
        with management(db, write=True, create=True) as m:
            record = getattr(m, attr).create(name=name, description=description)
        report(as_json, f"added {what} {name!r}", record)

    add.help = f"Add the {what} NAME."

    @group.command()
    @click.argument("name")
    @db_option
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @json_option
    @management_errors
    def remove(name: str, db: str | None, yes: bool, as_json: bool) -> None:
        with management(db, write=True) as m:
            coll = getattr(m, attr)
            record = coll.get_by(name)  # a missing database or record is named before anything is asked
            if not yes and not as_json:
                click.confirm(f"remove {what} {name!r}?", abort=True)
            record = coll.delete(record.oid)
        report(as_json, f"removed {what} {name!r}", record)

    remove.help = f"Remove the {what} NAME ({cascade})."
