"""RealmStore: session history, publications and event deliveries of a realm.

Slots: tables 10-19, indexes 110-119.
"""

from __future__ import annotations

import orm

from .entities import Publication, Run, Session

# (subscription, timestamp, receiver, publication): the receiver and the
# publication make the key unique per delivery, so deliveries at the same
# instant (one publication to many receivers, or many publications within
# one clock tick) never overwrite each other.
DELIVERY_KEY = ("uint64", "timestamp", "uint64", "uint64")


class RealmStore(orm.Schema):
    """Sessions, publications and event deliveries."""

    sessions: orm.Map
    publications: orm.Map
    deliveries: orm.Map
    idx_sessions_by_session_id: orm.Map
    idx_sessions_by_authid: orm.SetMap
    idx_sessions_by_left_at: orm.SetMap
    idx_publications_by_topic: orm.SetMap
    idx_publications_by_timestamp: orm.SetMap
    runs: orm.Map
    idx_sessions_live_by_run: orm.SetMap

    def attach(self, db: orm.Database) -> None:
        self.sessions = orm.MapUuidCbor(10, marshal=Session.marshal, unmarshal=Session.parse)
        self.publications = orm.Map(11, key="uint64", value="cbor",
                                    marshal=Publication.marshal, unmarshal=Publication.parse)
        # A delivery is its key; the empty value keeps recording to one small put.
        self.deliveries = orm.Map(12, key=DELIVERY_KEY, value="bytes")

        # WAMP session ids can repeat over time; joined_at tells the sessions apart.
        self.idx_sessions_by_session_id = orm.MapUint64TimestampUuid(110)
        self.sessions.attach_index("idx_sessions_by_session_id", self.idx_sessions_by_session_id,
                                   lambda s: (s.session_id, s.joined_at))

        self.idx_sessions_by_authid = orm.SetMap(111, key=("str", "timestamp"), member="uuid")
        self.sessions.attach_index("idx_sessions_by_authid", self.idx_sessions_by_authid,
                                   lambda s: None if s.authid is None else (s.authid, s.joined_at),
                                   unique=False, nullable=True)

        # Only sessions that have left are in here: the ones a purge may remove.
        self.idx_sessions_by_left_at = orm.SetMap(112, key="timestamp", member="uuid")
        self.sessions.attach_index("idx_sessions_by_left_at", self.idx_sessions_by_left_at,
                                   lambda s: s.left_at, unique=False, nullable=True)

        self.idx_publications_by_topic = orm.SetMap(113, key=("str", "timestamp"), member="uint64")
        self.publications.attach_index("idx_publications_by_topic", self.idx_publications_by_topic,
                                       lambda p: (p.topic, p.timestamp), unique=False)

        self.idx_publications_by_timestamp = orm.SetMap(114, key="timestamp", member="uint64")
        self.publications.attach_index("idx_publications_by_timestamp", self.idx_publications_by_timestamp,
                                       lambda p: p.timestamp, unique=False)

        # Router runs (one per process and database) with their last heartbeat.
        self.runs = orm.Map(13, key="str", value="cbor", marshal=Run.marshal, unmarshal=Run.parse)
        # Sessions still joined, by the run that recorded them: what a stop or a crash leaves to close.
        self.idx_sessions_live_by_run = orm.SetMap(115, key="str", member="uuid")
        self.sessions.attach_index("idx_sessions_live_by_run", self.idx_sessions_live_by_run,
                                   lambda s: s.run if s.left_at is None else None, unique=False, nullable=True)
