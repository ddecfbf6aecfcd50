"""``cfxstore events``: stored event history of subscriptions."""

from __future__ import annotations

import click

from cfxstore.cli.render import db_option, db_path, emit_json, fmt_time, handle_errors, json_option, note, table, text


@click.group()
def events() -> None:
    """Event history (publications delivered to subscribers)."""


@events.command("list")
@db_option
@click.option("--subscription", type=click.IntRange(0, 2**64 - 1), required=True, help="The subscription id.")
@click.option("--since", type=int, default=None, help="Only events at or after this time (int ns).")
@click.option("--until", type=int, default=None, help="Only events before this time (int ns).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
@handle_errors
def list_(db: str | None, subscription: int, since: int | None, until: int | None, limit: int,
          as_json: bool) -> None:
    """Events of a subscription, newest first."""
    from cfxstore.migrate.access import open_existing
    from cfxstore.realmstore.service import SessionHistory

    found = []
    with open_existing(db_path(db), readonly=True) as database:
        if any(e["name"] == "deliveries" for e in database.catalog().values()):
            history = SessionHistory(database)
            if since is None and until is None:
                found = history.events(subscription, limit=limit)
            else:
                found = history.event_history(subscription, since if since is not None else -2**63,
                                              until if until is not None else 2**63 - 1, reverse=True,
                                              limit=limit)
    if as_json:
        emit_json([e.marshal() for e in found])
        return
    table(["time", "publication", "receiver", "topic", "publisher", "args", "kwargs"],
          [(fmt_time(e.timestamp), e.publication_id, e.receiver, e.topic, e.publisher, text(e.args),
            text(e.kwargs)) for e in found])
    note(f"{len(found)} event(s)")
