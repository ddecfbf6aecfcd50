"""``cfxstore router adopt``: switch a stock Crossbar node directory to cfxstore in one command."""

from __future__ import annotations

import os

import click

from cfxstore.cli.migrate import short_cookie_life_option
from cfxstore.cli.render import emit_json, handle_errors, json_option, note, table
from cfxstore.router.adopt import adopt as run


@click.command()
@click.option("--cbdir", default=".crossbar", show_default=True, type=click.Path(file_okay=False),
              help="The stock node directory (stop the node first).")
@short_cookie_life_option
@json_option
@handle_errors
def adopt(cbdir: str, short_cookie_life: int, as_json: bool) -> None:
    """Convert a stopped stock Crossbar node to cfxstore, keeping its users, cookies and history.

    Backs up config.json (config.json.stock-<digest>, owner-only: it holds
    the stock secrets), imports the `database` cookie stores and `cfxdb`
    realm stores into <cbdir>/cfxstore-db, moves static ticket and WAMP-CRA
    principals into the credential store (hashed) and out of the config,
    and switches cookie stores, realm stores and authenticators to
    cfxstore. Imported cookies whose values carry under 128 bits live at
    most --short-cookie-life seconds. Safe to run again: a converted node is
    left as it is.

    Converted transports share one credential store, so a config whose
    transports list different static principals (or one authid with two
    tickets or roles) is refused, naming each conflict, and left unchanged.
    """
    report = run(os.path.abspath(cbdir), short_cookie_life)
    imported = {name: r.__dict__ for name, r in report.imported.items()}
    if as_json:
        emit_json({"backup": report.backup, "changes": report.changes, "principals": report.principals,
                   "imported": imported})
        return
    if not report.changes:
        click.echo(f"{cbdir}: no stock cookie store, realm store or static principals left; nothing to do")
        return
    click.echo(f"backed up the stock config to {report.backup}")
    for change in report.changes:
        click.echo(f"changed {change}")
    for principal in report.principals:
        click.echo(f"stored {principal}")
    if imported:
        table(["imported", "read", "imported", "skipped", "changed"],
              [(name, r["read"], r["imported"], ", ".join(f"{n} {why}" for why, n in r["skipped"].items()) or "-",
                ", ".join(f"{n} {what}" for what, n in r["changed"].items()) or "-")
               for name, r in imported.items()])
    note(f"start the node with: cfxstore router start --cbdir {cbdir}")
    note("the backup holds the stock secrets in clear: delete it once you no longer need to go back")
