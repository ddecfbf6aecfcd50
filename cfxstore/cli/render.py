"""Shared pieces of the cfxstore commands: database options, output, progress and errors.

Results go to stdout (a rich table, or JSON with --json); progress and
notes go to stderr, so ``--json`` output and dumps stay clean for pipes.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import functools
import json
import os
import time
import uuid
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

import cfxstore
import orm
from cfxstore.database import default_path
from cfxstore.node.paths import default_node_database, node_database, refuse_node_dir
from cfxstore.timeutil import NS_PER_SECOND, parse_time

F = TypeVar("F", bound=Callable[..., Any])

# -- options -------------------------------------------------------------------

def _remember_cbdir(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta["cfxstore.cbdir"] = value


def db_option(fn: F) -> F:
    """--db PATH and --cbdir DIR (the node whose database to use); db_path() reads both."""
    fn = click.option("--cbdir", metavar="DIR", default=None, expose_value=False, callback=_remember_cbdir,
                      help="Node directory: use the cfxstore database its config names.")(fn)
    return click.option("--db", "db", metavar="PATH", default=None,
                        help="Database directory (default: $CFXSTORE_DB, else the database of the node "
                             "in ./.crossbar or ., else ./.cfxstore/db).")(fn)


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def db_path(option: str | None, argument: str | None = None) -> str:
    """The database path from --db, the PATH argument (not both) or --cbdir, else the default."""
    if option and argument and os.path.realpath(option) != os.path.realpath(argument):
        raise click.UsageError(f"two database paths given: --db {option} and {argument}")
    given = argument or option
    ctx = click.get_current_context(silent=True)
    cbdir = ctx.meta.get("cfxstore.cbdir") if ctx is not None else None
    if cbdir is not None:
        if given:
            raise click.UsageError(f"give either a database path ({given}) or --cbdir {cbdir}, not both")
        return node_database(cbdir)
    if given:
        refuse_node_dir(given)
        return given
    if os.environ.get("CFXSTORE_DB"):
        return default_path()
    return default_node_database() or default_path()


class TimeType(click.ParamType):
    """A time option: int ns, ISO 8601 or a duration ago (1h, 7d); the value is int ns."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_time(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


TIME = TimeType()


def split_paths(paths: Sequence[str], db: str | None, last: str) -> tuple[str, str]:
    """[PATH] LAST arguments: (database path, LAST)."""
    if len(paths) == 1:
        return db_path(db), paths[0]
    if len(paths) == 2:
        return db_path(db, paths[0]), paths[1]
    raise click.UsageError(f"expected [PATH] {last}")


# -- errors --------------------------------------------------------------------

def handle_errors(fn: F) -> F:
    """Turn the errors a command expects into a one-line message and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (cfxstore.Error, orm.Error, OSError) as exc:
            raise click.ClickException(describe(exc)) from None

    return wrapper  # type: ignore[return-value]


def describe(exc: BaseException) -> str:
    """One line for an operator: errors of cfxstore, orm and the system speak for themselves; others get their kind."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    text = " ".join(str(exc).split())
    if isinstance(exc, (cfxstore.Error, orm.Error, OSError)) and text:
        return text
    return (f"unexpected {type(exc).__name__}: {text or 'no details'} "
            "(run with CFXSTORE_TRACEBACK=1 to see where it came from)")


# -- values --------------------------------------------------------------------

def jsonable(value: Any) -> Any:
    """value with UUIDs as strings and bytes as base64, ready for json.dumps."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def emit_json(data: Any) -> None:
    click.echo(json.dumps(jsonable(data), indent=2, sort_keys=False, ensure_ascii=False))


def fmt_time(ns: int | None) -> str:
    """int ns UTC as ISO 8601 (seconds precision); "-" for None."""
    if ns is None:
        return "-"
    dt = datetime.datetime.fromtimestamp(ns // NS_PER_SECOND, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def text(value: Any, width: int = 40) -> str:
    """A short one-line rendering of any value for a table cell."""
    if value is None:
        return "-"
    s = value if isinstance(value, str) else json.dumps(jsonable(value), ensure_ascii=False)
    return s if len(s) <= width else s[: width - 1] + "…"


# -- output --------------------------------------------------------------------

def stdout() -> Console:
    console = Console()
    # Pipes and logs have no width; 80 columns would fold every UUID and timestamp.
    return console if console.is_terminal else Console(width=max(console.width, 160))


class _StderrConsole(Console):
    """Goes quiet when stderr is closed: notes and progress must not abort the work they report on."""

    def on_broken_pipe(self) -> None:
        self.quiet = True


def stderr() -> Console:
    # Messages are lines: folding them at 80 columns would split paths in logs.
    return _StderrConsole(stderr=True, soft_wrap=True)


def note(message: str) -> None:
    """A remark for the operator, on stderr."""
    stderr().print(message, highlight=False)


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None) -> None:
    t = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*("-" if c is None else str(c) for c in row))
    stdout().print(t)


def fields(pairs: Iterable[tuple[str, Any]], *, title: str | None = None) -> None:
    """A two-column name/value table."""
    t = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2, 0, 0))
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    for name, value in pairs:
        t.add_row(name, "-" if value is None else str(value))
    stdout().print(t)


# -- progress ------------------------------------------------------------------

#: Without a terminal, tables smaller than this get no progress lines (unless slow).
PLAIN_MIN_ROWS = 1000
PLAIN_MIN_BYTES = 16 * 2**20


class RowProgress:
    """Progress of long work: bars on a terminal, a line per ~10% otherwise (logs)."""

    def __init__(self, enabled: bool = True) -> None:
        self.console = stderr()
        self.enabled = enabled
        self.live = enabled and self.console.is_terminal
        self._progress: Progress | None = None
        self._tasks: dict[str, Any] = {}
        self._last: dict[str, tuple[int, float]] = {}

    def __enter__(self) -> "RowProgress":
        if self.live:
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeRemainingColumn(), console=self.console, transient=False)
            self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def row(self, label: str, done: int, total: int, unit: str = "rows") -> None:
        """done of total units (rows, or bytes) of label are through."""
        if not self.enabled:
            return
        try:
            self._row(label, done, total, unit)
        except OSError:
            # Progress is a courtesy: a closed stderr must not abort the work it reports on.
            self.enabled = False

    def _row(self, label: str, done: int, total: int, unit: str) -> None:
        if self._progress is not None:
            task = self._tasks.get(label)
            if task is None:
                task = self._tasks[label] = self._progress.add_task(label, total=total)
            self._progress.update(task, completed=done, total=total)
            return
        now = time.monotonic()
        last_done, last_at = self._last.get(label, (0, now))
        if label not in self._last:
            self._last[label] = (0, now)
        # Small tables finish at once; a line each would only be noise in logs.
        if total < (PLAIN_MIN_BYTES if unit == "bytes" else PLAIN_MIN_ROWS) and now - last_at < 2:
            return
        step = max(total // 10, 1)
        if done == total or done - last_done >= step or now - last_at >= 5:
            self._last[label] = (done, now)
            amount = f"{fmt_bytes(done)} of {fmt_bytes(total)}" if unit == "bytes" else f"{done}/{total} rows"
            self.console.print(f"{label}: {amount}", highlight=False)

    def message(self, text_: str) -> None:
        if not self.enabled:
            return
        try:
            (self._progress.console if self._progress is not None else self.console).print(text_, highlight=False)
        except OSError:
            self.enabled = False


@contextlib.contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on stderr while work without row counts runs (a plain line when not a terminal)."""
    console = stderr()
    if console.is_terminal:
        with console.status(message):
            yield
    else:
        console.print(message, highlight=False)
        yield
