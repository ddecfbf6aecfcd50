"""``cfxstore db copy SRC DST``: a whole database from LMDB to PostgreSQL or back."""

from __future__ import annotations

import click

from cfxstore.cli.render import emit_json, handle_errors, json_option, note
from cfxstore.migrate.copy_database import copy_database


@click.command("copy")
@click.argument("src")
@click.argument("dst")
@json_option
@handle_errors
def copy(src: str, dst: str, as_json: bool) -> None:
    """Copy the database SRC into the new or empty database DST, then verify every table's count.

    Each of SRC and DST is an LMDB directory or a postgresql:// URL
    (?schema=NAME picks the schema, default cfxstore). DST is written in one
    transaction: a copy that fails leaves it as it was.
    """
    def progress(table: str, done: int) -> None:
        if not as_json:
            note(f"{table}: {done} entries")

    counts = copy_database(src, dst, progress)
    if as_json:
        emit_json({"tables": counts, "entries": sum(counts.values())})
    else:
        note(f"copied {sum(counts.values())} entries in {len(counts)} tables; counts verified")
