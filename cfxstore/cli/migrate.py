"""``cfxstore migrate``: schema versions, upgrades and the import from stock Crossbar."""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import click

from cfxstore.cli.inuse import require_alone
from cfxstore.cli.render import (RowProgress, db_option, db_path, emit_json, fmt_time, handle_errors, json_option,
                                 note, status, table)
from cfxstore.migrate.access import open_existing, open_or_create, require_database
from cfxstore.migrate.backup import backup, backup_beside, backup_path
from cfxstore.migrate.cfxdb_import import SHORT_COOKIE_LIFE, check_sources, import_cookies, import_realmstore
from cfxstore.migrate.discovery import load_migrations, new_migration_dir
from cfxstore.migrate.fx_import import fx_sources, import_global, import_mrealm
from cfxstore.migrate.info import version_state
from cfxstore.migrate.runner import Runner, head, plan_down, plan_up
from cfxstore.migrate.versions import migrations_dir, versions_in
from cfxstore.node.history_rules import load_rules
from cfxstore.realmstore.rules import UriRule
from cfxstore.schemaversion import HISTORY_KEY, effective_version, stamp as write_stamp
from orm.engine import pgurl

TEMPLATE = '''"""Version {version}: {description}

Say why this change is needed and what it does to stored records.
"""

from cfxstore.migrate.context import MigrationContext

VERSION = {version}
DESCRIPTION = "{description}"


def upgrade(ctx: MigrationContext) -> None:
    # Records are as stored (dicts for CBOR tables). Example:
    #     for key, record in ctx.rows("sessions"):
    #         record["new_name"] = record.pop("old_name", None)
    #         ctx.put("sessions", key, record)
    raise NotImplementedError(f"migration {{VERSION}} ({{DESCRIPTION}}) is still the template: "
                              f"write its upgrade() in {{__file__}}")


# Define downgrade(ctx) if version {previous} code can be given its records back;
# without it, `cfxstore migrate down` past this version is refused.
'''


@click.group()
def migrate() -> None:
    """Upgrade databases to this cfxstore's schema version, or import from Crossbar."""


class _Reporter:
    """Renders the runner's events: a line per step and a bar per table walked."""

    def __init__(self, progress: RowProgress, dry_run: bool) -> None:
        self.progress = progress
        self.dry_run = dry_run

    def step_started(self, migration: Any, direction: str, from_version: int, to_version: int) -> None:
        self.progress.message(f"{'trying' if self.dry_run else 'migrating'} {from_version} -> {to_version}: "
                              f"{migration.name} ({migration.description})")

    def row(self, table_: str, done: int, total: int) -> None:
        self.progress.row(f"  {table_}", done, total)

    def note(self, message: str) -> None:
        self.progress.message(f"  {message}")

    def step_finished(self, result: Any) -> None:
        if self.dry_run:
            self.progress.message(f"  would write {result.rows_written} of {result.rows_read} rows read "
                                  f"({result.seconds:.2f}s, rolled back)")
        else:
            self.progress.message(f"  wrote {result.rows_written} of {result.rows_read} rows read "
                                  f"in {result.seconds:.2f}s; now at version {result.to_version}")


def _backup(database: Any, version: int) -> str:
    """The backup taken before migrating: beside an LMDB database; for a PostgreSQL one, an LMDB copy
    named after its schema in the current directory (it has no directory of its own)."""
    if not pgurl.is_url(database.path):
        return backup_beside(database, version)
    return backup(database, backup_path(os.path.abspath(pgurl.parse(database.path).schema), version))


def _require_alone(path: str, what: str, force: bool) -> None:
    real = require_database(path)
    if not force:
        require_alone(real, what)


_FORCE = click.option("--force", is_flag=True,
                      help="Run even while another process has the database open (or, on PostgreSQL, is connected).")


def _open(path: str) -> Any:
    return open_existing(path, readonly=False, check_version=False)


@migrate.command("status")
@click.argument("path", required=False)
@db_option
@click.option("--check", "check_", is_flag=True, help="Exit with status 1 unless the database is current.")
@json_option
@handle_errors
def status_(path: str | None, db: str | None, check_: bool, as_json: bool) -> None:
    """The database's schema version and the migrations applied or pending."""
    migrations = load_migrations()
    with open_existing(db_path(db, path), readonly=True, check_version=False) as database:
        with database.begin() as txn:
            version = effective_version(database, txn)
            history = database.get_meta(txn, HISTORY_KEY, []) or []
        where = database.path
    latest = head(migrations)
    state = version_state(version, latest)
    applied_at: dict[int, int] = {}
    for h in history:
        if h.get("direction") == "up":
            applied_at[h["version"]] = h["at"]
        else:
            applied_at.pop(h.get("version"), None)
    current = 0 if version is None else version
    steps: list[dict[str, Any]] = [{"version": m.version, "name": m.name, "description": m.description,
              "applied": m.version <= current,
              "applied_at": applied_at.get(m.version) if m.version <= current else None,
              "reversible": m.reversible} for m in migrations]
    if as_json:
        emit_json({"path": where, "schema_version": version, "code_schema_version": latest, "state": state,
                   "migrations": steps, "pending": [s["version"] for s in steps if not s["applied"]]})
    else:
        click.echo(f"{where}: schema version {version if version is not None else '-'}, "
                   f"this cfxstore: {latest} ({state})")
        table(["version", "migration", "state", "applied", "down"],
              [(f"{s['version']:04d}", s["description"], "applied" if s["applied"] else "pending",
                fmt_time(s["applied_at"]) if s["applied_at"] else "-", "yes" if s["reversible"] else "no")
               for s in steps])
        if state == "needs-migration":
            note(f"run `cfxstore migrate up --db {where}` (stop routers and services using it first)")
        elif state == "newer-than-code":
            note("this database was migrated by a newer cfxstore; upgrade cfxstore to use it")
    if check_ and state not in ("current", "new"):
        sys.exit(1)


def _run(path: str, direction: str, to: int | None, dry_run: bool, no_backup: bool, as_json: bool,
         force: bool = False) -> None:
    migrations = load_migrations()
    _require_alone(path, direction, force or dry_run)
    with _open(path) as database:
        with RowProgress(enabled=True) as progress:
            runner = Runner(database, _Reporter(progress, dry_run))
            current = runner.current_version()
            if direction == "down" and to is not None and to < 0:  # relative: -1 is one step down
                to = max(current + to, 0)
            if direction == "up":
                plan = plan_up(current, migrations, to)
            else:
                assert to is not None, "migrate down requires --to"
                plan = plan_down(current, migrations, to)
            result: dict[str, Any] = {"path": database.path, "from": current, "to": plan.target,
                                      "dry_run": dry_run, "backup": None, "steps": []}
            if plan.empty:
                progress.message(f"{database.path} is already at version {current}; nothing to do")
            else:
                if not dry_run and not no_backup:
                    with status(f"backing up {database.path} before migrating ..."):
                        result["backup"] = _backup(database, current)
                    progress.message(f"backup written to {result['backup']}")
                results = runner.run(plan, dry_run=dry_run)
                result["steps"] = [r.__dict__ for r in results]
                if dry_run:
                    progress.message(f"dry run: {database.path} is unchanged at version {current}")
                else:
                    progress.message(f"{database.path} is now at version {plan.target}")
    if as_json:
        emit_json(result)


@migrate.command()
@click.argument("path", required=False)
@db_option
@click.option("--to", "to", type=int, default=None, help="Stop at this version (default: the newest).")
@click.option("--dry-run", is_flag=True, help="Run the steps in a transaction that is rolled back.")
@click.option("--no-backup", is_flag=True, help="Skip the backup taken before the first step.")
@_FORCE
@json_option
@handle_errors
def up(path: str | None, db: str | None, to: int | None, dry_run: bool, no_backup: bool, force: bool,
       as_json: bool) -> None:
    """Upgrade the database to this cfxstore's schema version.

    A compact backup is written beside the database first
    (PATH.backup-<version>-<time>). Each step runs in one transaction
    together with its version bump: an interrupted run leaves the database
    at the last completed version. Refused while another process (a router
    or service) has the database open, unless --force.
    """
    _run(db_path(db, path), "up", to, dry_run, no_backup, as_json, force)


@migrate.command()
@click.argument("path", required=False)
@db_option
@click.option("--to", "to", type=int, required=True,
              help="The version to go back to; negative counts back from the current one (-1: one step).")
@click.option("--dry-run", is_flag=True, help="Run the steps in a transaction that is rolled back.")
@click.option("--no-backup", is_flag=True, help="Skip the backup taken before the first step.")
@_FORCE
@json_option
@handle_errors
def down(path: str | None, db: str | None, to: int, dry_run: bool, no_backup: bool, force: bool,
         as_json: bool) -> None:
    """Downgrade the database to version --to (for going back to an older cfxstore)."""
    _run(db_path(db, path), "down", to, dry_run, no_backup, as_json, force)


@migrate.command()
@click.argument("path", required=False)
@db_option
@json_option
@handle_errors
def current(path: str | None, db: str | None, as_json: bool) -> None:
    """The database's schema version alone ("-" for an empty, unstamped database)."""
    with open_existing(db_path(db, path), readonly=True, check_version=False) as database:
        with database.begin() as txn:
            version = effective_version(database, txn)
    if as_json:
        emit_json({"path": database.path, "schema_version": version})
    else:
        click.echo("-" if version is None else str(version))


@migrate.command()
@click.argument("path", required=False)
@db_option
@json_option
@handle_errors
def history(path: str | None, db: str | None, as_json: bool) -> None:
    """Every migration step run on the database, oldest first."""
    with open_existing(db_path(db, path), readonly=True, check_version=False) as database:
        with database.begin() as txn:
            steps = list(database.get_meta(txn, HISTORY_KEY, []) or [])
    if as_json:
        emit_json(steps)
        return
    table(["at", "direction", "from", "to", "migration", "rows read", "rows written"],
          [(fmt_time(s.get("at")), s.get("direction"), s.get("from"), s.get("to"), s.get("name"),
            s.get("rows_read"), s.get("rows_written")) for s in steps])
    note(f"{len(steps)} step(s)" + ("" if steps else "; stamps at creation and by `migrate stamp` are not steps"))


@migrate.command()
@click.argument("version", type=click.IntRange(min=0))
@click.argument("path", required=False)
@db_option
@_FORCE
@handle_errors
def stamp(version: int, path: str | None, db: str | None, force: bool) -> None:
    """Mark the database as being at VERSION without running any migration.

    For a database whose records are known to be at VERSION already (made
    by hand or restored); `migrate up` otherwise.
    """
    latest = head(load_migrations())
    if version > latest:
        raise click.ClickException(f"no schema version {version}: this cfxstore knows versions 0 to {latest}")
    target = db_path(db, path)
    _require_alone(target, "stamp", force)
    with _open(target) as database:
        with database.begin(write=True) as txn:
            before = effective_version(database, txn)
            write_stamp(database, txn, version)
    click.echo(f"{database.path}: schema version {before if before is not None else '-'} -> {version} "
               "(stamped; no migration ran)")


@migrate.command()
@click.argument("name")
@click.option("--dir", "directory", default=None, type=click.Path(file_okay=False),
              help="Directory to write into (default: the migrations of the source checkout cfxstore runs from).")
@handle_errors
def new(name: str, directory: str | None) -> None:
    """Write a template for the next migration, NNNN_NAME.py."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not slug:
        raise click.UsageError("NAME needs letters or digits")
    directory = new_migration_dir(directory)
    existing = versions_in(directory)
    version = (existing[-1] if existing else 0) + 1
    path = os.path.join(directory, f"{version:04d}_{slug}.py")
    description = " ".join(name.split()).replace("\\", "/").replace('"', "'")
    with open(path, "x", encoding="utf-8") as f:
        f.write(TEMPLATE.format(version=version, previous=version - 1, description=description))
    click.echo(f"wrote {path}")
    if os.path.realpath(directory) == os.path.realpath(migrations_dir()):
        note(f"raise SCHEMA_VERSION in cfxstore/schemaversion.py to {version}")


short_cookie_life_option = click.option(
    "--short-cookie-life", "short_cookie_life", metavar="SECONDS", type=click.IntRange(1), default=SHORT_COOKIE_LIFE,
    show_default=True, help="Imported cookies whose values carry under 128 bits live at most this long.")


@migrate.command("import-cfxdb")
@click.option("--cookies", "cookies", metavar="PATH", default=None, help="A Crossbar cookie store database.")
@click.option("--realmstore", "realmstore", metavar="PATH", default=None, help="A Crossbar realm store database.")
@click.option("--fx", "fx", metavar="PATH", multiple=True,
              help="A Crossbar FX controller or management-realm database (repeatable).")
@click.option("--node-config", "node_config", metavar="FILE", default=None, type=click.Path(dir_okay=False),
              help="The stock node's config.json: its event-history rules key the imported history.")
@short_cookie_life_option
@click.argument("dest", required=False)
@db_option
@json_option
@handle_errors
def import_cfxdb(cookies: str | None, realmstore: str | None, fx: tuple[str, ...], node_config: str | None,
                 short_cookie_life: int, dest: str | None, db: str | None, as_json: bool) -> None:
    """Import stock Crossbar / Crossbar FX databases into the cfxstore database DEST.

    --cookies: a `database` cookie store; --realmstore: a `cfxdb` realm
    store (with --node-config, its history is keyed by the node's
    event-history rules); --fx: FX controller or management-realm databases.

    Cookie values and FX secrets are hashed on the way in, so browsers keep
    their sessions. The sources are only read. Running it again imports
    only records new in the source; nothing revoked or deleted here since
    comes back.
    """
    target = db_path(db, dest)
    for source in (cookies, realmstore, *fx):
        if source is not None and os.path.realpath(source) == os.path.realpath(target):
            raise click.UsageError(f"the destination {target} is also a source")
    fx_kinds = fx_sources(fx)
    if not fx_kinds or cookies is not None or realmstore is not None:
        check_sources(cookies, realmstore)
    history: tuple[UriRule, ...] = ()
    if node_config is not None and realmstore is not None:
        history = load_rules(node_config, realmstore)
    database, created = open_or_create(target)
    results: dict[str, Any] = {}
    with database, RowProgress(enabled=True) as progress:
        if cookies is not None:
            results["cookies"] = import_cookies(cookies, database, on_row=progress.row,
                                                short_life=short_cookie_life)
        if realmstore is not None:
            results.update(import_realmstore(realmstore, database, on_row=progress.row, history=history))
        for path, kind in fx_kinds:
            imported = (import_global if kind == "global" else import_mrealm)(path, database)
            results.update({f"{name} ({os.path.basename(path)})": r for name, r in imported.items()})
    out = {name: r.__dict__ for name, r in results.items()}
    if as_json:
        emit_json({"database": database.path, "created": created, "tables": out})
        return
    click.echo(f"imported into {database.path}" + (" (new database)" if created else ""))
    table(["table", "read", "imported", "skipped", "changed"],
          [(name, r["read"], r["imported"],
            ", ".join(f"{n} {why}" for why, n in r["skipped"].items()) or "-",
            ", ".join(f"{n} {what}" for what, n in r["changed"].items()) or "-") for name, r in out.items()])
