"""RealmStore: session history, publications and event deliveries of a realm.

Slots: tables 10-19, indexes 110-119.
"""

from __future__ import annotations

import orm

from cfxstore.tables import DeclaredSchema, index, plain_table, stored, unique

from .entities import Publication, Run, Session

# (subscription, timestamp, receiver, publication): the receiver and the
# publication make the key unique per delivery, so deliveries at the same
# instant (one publication to many receivers, or many publications within
# one clock tick) never overwrite each other.
DELIVERY_KEY = ("uint64", "timestamp", "uint64", "uint64")


def _live_run(session: Session) -> str | None:
    return session.run if session.left_at is None else None


class RealmStore(DeclaredSchema):
    """Sessions, publications and event deliveries."""

    sessions = stored(
        10, Session,
        # WAMP session ids can repeat over time; joined_at tells the sessions apart.
        unique("idx_sessions_by_session_id", 110, "session_id", "joined_at"),
        index("idx_sessions_by_authid", 111, "authid", "joined_at"),
        # Only sessions that have left are in here: the ones a purge may remove.
        index("idx_sessions_by_left_at", 112, "left_at"),
        # Sessions still joined, by the run that recorded them: what a stop or a crash leaves to close.
        index("idx_sessions_live_by_run", 115, "run", key=_live_run),
    )
    publications = stored(
        11, Publication,
        index("idx_publications_by_topic", 113, "topic", "timestamp"),
        index("idx_publications_by_timestamp", 114, "timestamp"),
        key="publication_id",
    )
    # A delivery is its key; the empty value keeps recording to one small put.
    deliveries = plain_table(12, key=DELIVERY_KEY, value="bytes")
    # Router runs (one per process and database) with their last heartbeat.
    runs = stored(13, Run, key="run")

    idx_sessions_by_session_id: orm.Map
    idx_sessions_by_authid: orm.SetMap
    idx_sessions_by_left_at: orm.SetMap
    idx_sessions_live_by_run: orm.SetMap
    idx_publications_by_topic: orm.SetMap
    idx_publications_by_timestamp: orm.SetMap
