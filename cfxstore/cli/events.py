"""``cfxstore events``: stored event history, by topic or by history subscription."""

from __future__ import annotations

from typing import Any

import click

from cfxstore.cli import eventhistory
from cfxstore.cli.render import (TIME, db_option, db_path, emit_json, fmt_time, handle_errors, json_option, note,
                                 table, text)
from cfxstore.migrate.access import open_existing
from cfxstore.realmstore.service import SessionHistory


@click.group()
def events() -> None:
    """Event history (publications on history topics and the sessions they reached)."""


def _history(path: str) -> Any:
    """The SessionHistory of the database at path (None if it has no realm store), and the open database."""
    database = open_existing(path, readonly=True)
    if not any(e["name"] == "deliveries" for e in database.catalog().values()):
        return database, None
    return database, SessionHistory(database)


@events.command("list")
@db_option
@click.option("--topic", default=None, metavar="URI", help="Publications on this topic.")
@click.option("--subscription", type=click.IntRange(0, 2**64 - 1), default=None,
              help="Publications recorded by this history subscription (see `events subscriptions`).")
@click.option("--since", type=TIME, default=None, help="At or after this time (ISO 8601, 1h, 7d or int ns).")
@click.option("--until", type=TIME, default=None, help="Before this time (ISO 8601, 1h, 7d or int ns).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many publications.")
@json_option
@handle_errors
def list_(db: str | None, topic: str | None, subscription: int | None, since: int | None, until: int | None,
          limit: int, as_json: bool) -> None:
    """Stored publications, newest first, each once with the sessions that received it."""
    if (topic is None) == (subscription is None):
        raise click.UsageError("give --topic URI or --subscription ID (one of them)")
    database, history = _history(db_path(db))
    with database:
        if history is None:
            found = []
        elif topic is not None:
            found = eventhistory.by_topic(history, topic, since, until, limit)
        elif subscription is not None:  # exactly one of the two, checked above
            found = eventhistory.by_subscription(history, subscription, since, until, limit)
    if as_json:
        emit_json([e.marshal() for e in found])
        return
    rows = []
    for e in found:
        p = e.publication
        rows.append((fmt_time(e.timestamp), e.publication_id, p.topic if p else "(purged)",
                     p.publisher if p else None, " ".join(map(str, sorted(e.receivers))) or "-",
                     text(p.args) if p else "-", text(p.kwargs) if p else "-"))
    table(["time", "publication", "topic", "publisher", "receivers", "args", "kwargs"], rows)
    note(f"{len(found)} publication(s)")


@events.command("subscriptions")
@db_option
@json_option
@handle_errors
def subscriptions_(db: str | None, as_json: bool) -> None:
    """History subscription ids (stable across router restarts) with what they recorded."""
    database, history = _history(db_path(db))
    with database:
        found = [] if history is None else eventhistory.subscriptions(history)
    if as_json:
        emit_json([{"subscription": s, "deliveries": n, "latest": t, "topic": topic} for s, n, t, topic in found])
        return
    table(["subscription", "deliveries", "latest", "a recorded topic"],
          [(s, n, fmt_time(t), topic) for s, n, t, topic in found])
    note(f"{len(found)} history subscription(s)")
