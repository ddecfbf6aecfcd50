"""``cfxstore db``: inspect, check, back up, dump and load a database."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from typing import Any, TextIO

import click

from cfxstore.cli.render import (RowProgress, db_option, db_path, emit_json, fields, fmt_bytes, handle_errors,
                                 json_option, note, split_paths, status, table)
from cfxstore.database import open_database
from cfxstore.migrate.access import open_existing, open_or_create
from cfxstore.migrate.backup import backup as run_backup
from cfxstore.migrate.check import check as run_check
from cfxstore.migrate.dump import dump as run_dump
from cfxstore.migrate.info import database_info
from cfxstore.migrate.load import load as run_load, validate
from orm.engine.pgurl import is_url, shown


@click.group()
def db() -> None:
    """Inspect, check, back up, dump and load databases."""


@db.command()
@click.argument("path", required=False)
@db_option
@click.option("--all", "show_all", is_flag=True, help="List index tables on their own rows too.")
@json_option
@handle_errors
def info(path: str | None, db: str | None, show_all: bool, as_json: bool) -> None:
    """Schema version, size and tables of the database at PATH."""
    with open_existing(db_path(db, path), readonly=True, check_version=False) as database:
        data = database_info(database)
    if as_json:
        emit_json(data)
        return
    state = {"current": "current", "new": "new (not stamped yet)",
             "needs-migration": "[yellow]needs `cfxstore migrate up`[/yellow]",
             "newer-than-code": "[red]newer than this cfxstore[/red]"}[data["state"]]
    version = data["schema_version"] if data["schema_version"] is not None else "-"
    head = [("path", data["path"]),
            ("schema version", f"{version} (this cfxstore: {data['code_schema_version']}) - {state}")]
    if is_url(data["path"]):  # no file and no map: the server's size of the schema's tables is what there is
        head.append(("used", f"{fmt_bytes(data['used_bytes'])} (PostgreSQL tables and indexes of the schema)"))
    else:
        head += [("file size", fmt_bytes(data["file_bytes"])),
                 ("used", fmt_bytes(data["used_bytes"])),
                 ("free", f"{fmt_bytes(data['free_bytes'])} (of a {fmt_bytes(data['map_size'])} map, "
                          "reserved up to its ceiling)")]
    fields(head)
    tables = data["tables"]
    estimated = any(not t["bytes_exact"] for t in tables)

    def size(n: int, exact: bool) -> str:
        return fmt_bytes(n) if exact else "~" + fmt_bytes(n)

    if show_all:
        rows = [(t["slot"], t["name"], f"index of {t['index_of']}" if t["index_of"] else (t["schema"] or "?"),
                 t["records"], size(t["bytes"], t["bytes_exact"])) for t in tables]
        table(["slot", "table", "kind", "records", "bytes"], rows)
    else:
        indexes: dict[str, list[dict]] = {}
        for t in tables:
            if t["index_of"]:
                indexes.setdefault(t["index_of"], []).append(t)
        rows = []
        for t in tables:
            if t["index_of"]:
                continue
            idx = indexes.get(t["name"], [])
            rows.append((t["slot"], t["name"], t["records"], size(t["bytes"], t["bytes_exact"]),
                         size(sum(i["bytes"] for i in idx), all(i["bytes_exact"] for i in idx)) if idx else "-"))
        table(["slot", "table", "records", "bytes", "index bytes"], rows)
    if estimated:
        note("~ estimated from a sample of the table (keys + values)")


@db.command()
@click.argument("path", required=False)
@db_option
@click.option("--repair", is_flag=True, help="Rebuild indexes that disagree with their tables.")
@json_option
@handle_errors
def check(path: str | None, db: str | None, repair: bool, as_json: bool) -> None:
    """Check catalog, records and indexes; exit status 1 if problems remain."""
    with open_existing(db_path(db, path), readonly=not repair, check_version=False) as database:
        with RowProgress(enabled=not as_json) as progress:
            report = run_check(database, repair=repair, on_row=progress.row)
    if as_json:
        emit_json({"ok": report.ok, "problems": report.problems, "repaired": report.repaired,
                   "notes": report.notes, "tables": report.tables, "records": report.records})
    else:
        for line in report.notes:
            note(f"note: {line}")
        for line in report.repaired:
            click.echo(f"repaired: {line}")
        for line in report.problems:
            click.echo(f"problem: {line}")
        verdict = "OK" if report.ok else f"{len(report.problems)} problem(s)"
        click.echo(f"{verdict}: checked {report.tables} tables, {report.records} records"
                   + (f", repaired {len(report.repaired)} index problem(s)" if report.repaired else ""))
    if not report.ok:
        sys.exit(1)


@db.command()
@click.argument("paths", nargs=-1, metavar="[PATH] DEST")
@db_option
@json_option
@handle_errors
def backup(paths: tuple[str, ...], db: str | None, as_json: bool) -> None:
    """Write a compact, consistent copy of the database to DEST (a new or empty directory).

    Safe while routers and services keep writing: the copy is one snapshot.
    The copy is always an LMDB database. Of a postgresql:// URL it is the
    whole schema read in one REPEATABLE READ transaction; `cfxstore db copy
    DEST URL` puts it back into PostgreSQL. For a PostgreSQL-level backup
    use pg_dump --schema=NAME instead.
    """
    if len(paths) == 1 and db is None and click.get_current_context().meta.get("cfxstore.cbdir") is None \
            and (is_url(paths[0]) or os.path.isfile(os.path.join(paths[0], "data.mdb"))):
        raise click.UsageError(f"{shown(paths[0])} is a database: give where to write the backup too "
                               f"(cfxstore db backup {shown(paths[0])} DEST)")
    source, dest = split_paths(paths, db, "DEST")
    if is_url(dest):
        raise click.UsageError(f"a backup is written to a directory, not to {shown(dest)}; "
                               "to copy a database into PostgreSQL use `cfxstore db copy SRC URL`")
    parent = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(parent):
        raise click.ClickException(f"the directory {parent} for the backup {dest} does not exist; create it first")
    with open_existing(source, readonly=True, check_version=False) as database:
        with status(f"backing up {database.path} ..."):
            out = run_backup(database, dest)
    size = os.path.getsize(os.path.join(out, "data.mdb"))
    if as_json:
        emit_json({"source": database.path, "backup": out, "bytes": size})
    else:
        click.echo(f"backup written to {out} ({fmt_bytes(size)})")


@db.command()
@click.argument("path", required=False)
@db_option
@click.option("--out", "out_path", metavar="FILE", default=None, help="Write to FILE instead of stdout.")
@click.option("--include-secrets", is_flag=True,
              help="Also dump credentials, cookie value hashes and activation code hashes.")
@handle_errors
def dump(path: str | None, db: str | None, out_path: str | None, include_secrets: bool) -> None:
    """Write every record as JSON lines (a versioned, streaming format; see docs/cli.md).

    Secrets are left out unless --include-secrets is given; a dump without
    them restores everything but logins (credentials) and browser cookies.
    """
    if out_path is not None and is_url(out_path):
        raise click.UsageError(f"--out takes a file, not {shown(out_path)}; "
                               "to copy a database into PostgreSQL use `cfxstore db copy SRC URL`")
    if out_path is not None and os.path.exists(out_path):
        raise click.ClickException(f"{out_path} already exists; refusing to overwrite it")
    with open_existing(db_path(db, path), readonly=True, check_version=False) as database:
        if out_path is None:
            try:
                summary = run_dump(database, sys.stdout, include_secrets=include_secrets)
                sys.stdout.flush()
            except BrokenPipeError:
                # The reader went away (`| head`): stop quietly, as other Unix tools do.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                sys.exit(1)
        else:
            tmp = out_path + ".partial"
            try:
                with _private_file(tmp) as f, RowProgress() as progress:
                    summary = run_dump(database, f, include_secrets=include_secrets, on_row=progress.row)
                os.replace(tmp, out_path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
    total = sum(summary.rows.values())
    note(f"dumped {total} records from {len(summary.rows)} tables"
         + (f" to {out_path}" if out_path else "")
         + (f"; left out secret table(s) {', '.join(summary.omitted)} (use --include-secrets)"
            if summary.omitted else "")
         + (f"; skipped unknown table(s) {', '.join(summary.skipped)}" if summary.skipped else ""))


def _private_file(path: str) -> TextIO:
    """A new file readable by the owner only from its first byte (a dump holds what the database holds)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    return os.fdopen(fd, "w", encoding="utf-8")


@db.command()
@click.argument("paths", nargs=-1, metavar="[PATH] FILE")
@db_option
@json_option
@handle_errors
def load(paths: tuple[str, ...], db: str | None, as_json: bool) -> None:
    """Load a dump FILE into a new (or empty) database.

    The whole file is validated before anything is written, then loaded in
    one transaction: a bad file leaves no trace.
    """
    target, file = split_paths(paths, db, "FILE")
    if is_url(file):
        raise click.UsageError(f"{shown(file)} is a database, not a dump file: give the FILE to load too "
                               f"(cfxstore db load {shown(file)} FILE)")
    with RowProgress(enabled=not as_json) as progress:
        info = validate(file, on_progress=lambda done, total: progress.row("validating", done, total, "bytes"))
    existed = os.path.exists(target)
    if is_url(target):
        # A schema made here stays after a failed load: empty and stamped, which a rerun loads into.
        database, created = open_database(target), False
    else:
        database, created = open_or_create(target)
    try:
        with RowProgress(enabled=not as_json) as progress:
            written = run_load(database, info, on_progress=lambda done, total: progress.row("loading", done, total, "bytes"))
    except BaseException:
        database.close()
        if created:  # leave no trace of the database this command made
            if existed:
                for name in ("data.mdb", "lock.mdb"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(target, name))
            else:
                shutil.rmtree(target, ignore_errors=True)
        raise
    database.close()
    result: dict[str, Any] = {"database": database.path, "rows": written,
                              "left_out_without_secrets": info.without_secrets}
    if as_json:
        emit_json(result)
        return
    click.echo(f"loaded {sum(written.values())} records into {result['database']}")
    for name, n in info.without_secrets.items():
        note(f"left out {n} {name} record(s): the dump was made without their secret fields")


from cfxstore.cli.copy import copy  # noqa: E402  (the command lives in its own file)

db.add_command(copy)
