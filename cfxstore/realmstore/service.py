"""SessionHistory: the session and event history of a realm.

Deliveries are the high-volume part: each is one key
(subscription, timestamp, receiver, publication) with an empty value, and
reading them back joins each delivery with its stored publication.

Event history is bounded twice: store-wide retention (``purge``: age, and
deliveries per subscription) and each "event-history" rule's limit
(``trim``: the newest events of the rule's history, as reads return them).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Iterable, Iterator, Sequence

import orm

from cfxstore.errors import InvalidArgument
from cfxstore.plaindata import require_plain
from cfxstore.service import Service, attached
from cfxstore.timeutil import now_ns
from cfxstore.transport import scrub_transport

from .entities import Event, Publication, Run, Session
from .rules import UriRule, history_id, matching
from .schema import RealmStore

_UINT64_MAX = 2**64 - 1
# A purge reads every delivery key, so on PostgreSQL it conflicts with other nodes' purges and writes;
# Database.transact runs it again, after a random pause that doubles per conflict.
PURGE_RETRIES = 20
_PUBLICATION_ARGS = frozenset({"publication_id", "topic", "publisher", "args", "kwargs", "publisher_authid",
                               "publisher_authrole", "timestamp"})


class SessionHistory(Service):
    """Sessions, publications and event deliveries of a realm on an orm.Database."""

    def __init__(self, db: orm.Database) -> None:
        self.db = db
        self.schema = attached(RealmStore, db)
        self._sessions = self.schema.sessions
        self._publications = self.schema.publications
        self._deliveries = self.schema.deliveries

    # -- sessions ------------------------------------------------------------

    def session_joined(self, *, session_id: int, realm: str, authid: str | None, authrole: str | None,
                       authmethod: str | None, authprovider: str | None = None,
                       authextra: dict[str, Any] | None = None, transport: dict[str, Any] | None = None,
                       joined_at: int | None = None, run: str | None = None) -> Session:
        """Record a session that joined; raises orm.UniqueViolation for a repeated (session_id, joined_at).

        Credentials in ``transport`` (cookie values, Authorization headers)
        are dropped, whoever the caller (see cfxstore.transport).
        """
        session = self.new_session(session_id=session_id, realm=realm, authid=authid, authrole=authrole,
                                   authmethod=authmethod, authprovider=authprovider, authextra=authextra,
                                   transport=transport, joined_at=joined_at, run=run)
        self.transact(lambda txn: self.put_session(txn, session))
        return session

    def new_session(self, *, transport: Any = None, joined_at: int | None = None, **fields: Any) -> Session:
        """A validated Session (not stored) whose transport details hold no credentials;
        ValueError (or orm.KeyTooLong) if it could never be stored."""
        session = Session(oid=uuid.uuid4(), transport=scrub_transport(transport),
                          joined_at=now_ns() if joined_at is None else joined_at, **fields)
        self._sessions.check_put(session.oid, session)
        return session

    def put_session(self, txn: Any, session: Session) -> None:
        """Store a session inside the caller's write transaction."""
        self._sessions[txn, session.oid] = session

    def put_joined(self, txn: Any, sessions: list[Session]) -> None:
        """Store new sessions (from ``new_session``, joined now: no other record has their session id
        and join time) inside the caller's write transaction, reading nothing."""
        self._sessions.write_known(txn, ((s.oid, None, s) for s in sessions))

    def put_left(self, txn: Any, left: list[tuple[Session, int]]) -> None:
        """Record that sessions left, inside the caller's write transaction: ``left`` holds (the session
        as stored by ``put_session``, left_at). Reads nothing; a session deleted meanwhile stays deleted."""
        self._sessions.write_known(txn, ((s.oid, s, self.left(s, at)) for s, at in left), existing=True)

    @staticmethod
    def left(session: Session, at: int) -> Session:
        """session as it is once it left at ``at`` (never before it joined), not stored yet."""
        return dataclasses.replace(session, left_at=max(at, session.joined_at))

    def session_left(self, session_id: int, left_at: int | None = None) -> Session | None:
        """Record that the latest session with session_id left; None if there is none.

        A session that has already left keeps its first left_at. Without
        left_at, now is used (but never earlier than joined_at, so a clock
        step backwards cannot make the record invalid).
        """
        return self.transact(lambda txn: self.leave(txn, (session_id, left_at)))

    def leave(self, txn: Any, left: tuple[int, int | None]) -> Session | None:
        """session_left inside the caller's write transaction; ``left`` is (session_id, left_at)."""
        session_id, left_at = left
        oid = self._latest(txn, session_id)
        if oid is None:
            return None
        session = self._sessions[txn, oid]
        if session.left_at is not None:
            return session
        at = max(now_ns(), session.joined_at) if left_at is None else left_at
        session = dataclasses.replace(session, left_at=at)
        self._sessions[txn, oid] = session
        return session

    # -- runs: closing what a stop or a crash left joined ---------------------

    def start_run(self, run: Run) -> None:
        def write(txn: Any) -> None:
            self.schema.runs[txn, run.run] = run

        self.transact(write)

    def heartbeat(self, run: str, alive: int | None = None) -> None:
        """Stamp the run as alive now (or at ``alive``)."""
        at = now_ns() if alive is None else alive

        def write(txn: Any) -> None:
            record = self.schema.runs[txn, run]
            if record is not None:
                self.schema.runs[txn, run] = dataclasses.replace(record, alive=at)

        # Not run again: the next beat makes up for a missed one, and retrying a lost connection
        # would hold the beat (and the outage warning) for every attempt's connection timeout.
        self.transact(write, retries=0)

    def runs(self) -> list[Run]:
        with self.db.begin() as txn:
            return list(self.schema.runs.select(txn, return_keys=False))

    def end_run(self, run: str, left_at: int | None = None, approximate: bool = False) -> int:
        """Mark every session the run left joined as left at ``left_at`` (default now) and
        forget the run; returns how many sessions were closed."""
        at = now_ns() if left_at is None else left_at

        def write(txn: Any) -> int:
            oids = list(self.schema.idx_sessions_live_by_run[txn, run])
            for oid in oids:
                session = self._sessions[txn, oid]
                if session is not None and session.left_at is None:
                    self._sessions[txn, oid] = dataclasses.replace(
                        session, left_at=max(at, session.joined_at), left_approximate=approximate or None)
            self.schema.runs.delete(txn, run)
            return len(oids)

        return self.transact(write)

    def get_session(self, session_id: int, joined_at: int | None = None) -> Session | None:
        """The session with session_id that joined at joined_at, or the latest one."""
        with self.db.begin() as txn:
            if joined_at is None:
                oid = self._latest(txn, session_id)
            else:
                oid = self.schema.idx_sessions_by_session_id[txn, (session_id, joined_at)]
            return None if oid is None else self._sessions[txn, oid]

    def sessions_by_authid(self, authid: str, limit: int | None = None) -> list[Session]:
        """Sessions of authid, newest first."""
        with self.db.begin() as txn:
            oids = self.schema.idx_sessions_by_authid.select(txn, prefix=(authid,), reverse=True,
                                                             limit=limit, return_keys=False)
            return [self._sessions[txn, oid] for oid in oids]

    def _latest(self, txn: Any, session_id: int) -> uuid.UUID | None:
        for oid in self.schema.idx_sessions_by_session_id.select(txn, prefix=(session_id,), reverse=True,
                                                                 limit=1, return_keys=False):
            return oid
        return None

    # -- publications and deliveries -----------------------------------------

    def store_publication(self, *, publication_id: int, topic: str, publisher: int | None, args: Any = None,
                          kwargs: dict[str, Any] | None = None, publisher_authid: str | None = None,
                          publisher_authrole: str | None = None, timestamp: int | None = None) -> Publication:
        """Record a publication whose events are kept."""
        publication = Publication(publication_id=publication_id, topic=topic, publisher=publisher,
                                  args=list(args) if isinstance(args, tuple) else args, kwargs=kwargs,
                                  publisher_authid=publisher_authid, publisher_authrole=publisher_authrole,
                                  timestamp=now_ns() if timestamp is None else timestamp)
        self.transact(lambda txn: self.put_publication(txn, publication))
        return publication

    def new_publication(self, **fields: Any) -> Publication:
        """A validated Publication (not stored) whose payload is plain data; ValueError
        (or orm.KeyTooLong: a topic too long for its index) if it could never be stored."""
        publication = self._publication_of(0, fields)
        require_plain("args", publication.args)
        require_plain("kwargs", publication.kwargs)
        self._publications.check_put(publication.publication_id, publication, encode=False)
        return publication

    def put_publication(self, txn: Any, publication: Publication) -> None:
        """Store a publication inside the caller's write transaction."""
        self.put_publications(txn, [publication])

    def put_publications(self, txn: Any, publications: list[Publication]) -> None:
        """Store publications inside the caller's write transaction. The ones already stored under their ids
        (ids are random: another run's, rarely) are read in one go, so that their index entries are replaced
        too: a batch of publications costs one read, not one per publication."""
        latest = self._publications.get_many(txn, (p.publication_id for p in publications))

        def changes() -> Iterator[tuple[int, Publication | None, Publication]]:
            for publication in publications:
                pid = publication.publication_id
                yield pid, latest.get(pid), publication
                latest[pid] = publication

        self._publications.write_known(txn, changes())

    def put_deliveries(self, txn: Any, keys: list[tuple[int, int, int, int]]) -> None:
        """Store deliveries (subscription, timestamp, receiver, publication) inside the caller's transaction."""
        self._deliveries.put_many(txn, ((key, b"") for key in keys))

    def store_delivery(self, publication_id: int, subscription_id: int, receiver: int,
                       timestamp: int | None = None) -> None:
        """Record that publication_id was delivered to receiver on subscription_id."""
        ts = now_ns() if timestamp is None else timestamp
        self.transact(lambda txn: self.put_deliveries(txn, [(subscription_id, ts, receiver, publication_id)]))

    def store_batch(self, publications: list[dict[str, Any]],
                    deliveries: Iterable[tuple[int, int, int, int]]) -> None:
        """Store publications (store_publication keyword dicts) and deliveries
        (subscription, timestamp, receiver, publication) in one transaction:
        all of them or, on any bad item, none."""
        records = [self._publication_of(i, p) for i, p in enumerate(publications)]
        keys = list(deliveries)

        def write(txn: Any) -> None:
            self.put_publications(txn, records)
            self.put_deliveries(txn, keys)

        self.transact(write)

    def _publication_of(self, i: int, item: Any) -> Publication:
        if not isinstance(item, dict):
            raise InvalidArgument(f"publications[{i}]: expected a dict, got {type(item).__name__}")
        unknown = item.keys() - _PUBLICATION_ARGS
        if unknown:
            raise InvalidArgument(f"publications[{i}]: unknown keys {sorted(unknown)}")
        fields = dict(item)
        if fields.get("timestamp") is None:
            fields["timestamp"] = now_ns()
        if isinstance(fields.get("args"), tuple):
            fields["args"] = list(fields["args"])
        try:
            return Publication(**fields)
        except TypeError as exc:  # a required key is missing
            raise InvalidArgument(f"publications[{i}]: {exc}") from None

    # -- history -------------------------------------------------------------

    def events(self, subscription_id: int, limit: int | None = None) -> list[Event]:
        """Events of subscription_id, newest first."""
        with self.db.begin() as txn:
            keys = self._deliveries.select(txn, prefix=(subscription_id,), reverse=True, limit=limit,
                                           return_values=False)
            return self._join(txn, keys)

    def event_history(self, subscription_id: int, from_ts: int, until_ts: int, reverse: bool = False,
                      limit: int | None = None) -> list[Event]:
        """Events of subscription_id with from_ts <= timestamp < until_ts, oldest first (newest if reverse)."""
        with self.db.begin() as txn:
            # Partial keys: (sub, ts) sorts before every delivery at ts, so
            # from_ts is included and until_ts excluded whatever follows.
            keys = self._deliveries.select(txn, from_key=(subscription_id, from_ts),
                                           to_key=(subscription_id, until_ts), reverse=bool(reverse),
                                           limit=limit, return_values=False)
            return self._join(txn, keys)

    def publications_by_topic(self, topic: str, limit: int | None = None) -> list[Publication]:
        """Stored publications on topic, newest first."""
        with self.db.begin() as txn:
            ids = self.schema.idx_publications_by_topic.select(txn, prefix=(topic,), reverse=True,
                                                               limit=limit, return_keys=False)
            return [self._publications[txn, pid] for pid in ids]

    def events_by_topic(self, topic: str, limit: int | None = None) -> list[Event]:
        """Stored events on topic, one per publication, newest first, whatever the subscription.

        Reaches history under any key: the router's rule ids, and imported
        history that kept stock subscription ids. subscription_id and
        receiver are 0 (the topic, not one delivery, was asked for).
        """
        return [Event.of(0, p.timestamp, 0, p.publication_id, p) for p in self.publications_by_topic(topic, limit)]

    def _join(self, txn: Any, keys: Iterable[tuple[int, int, int, int]]) -> list[Event]:
        cache: dict[int, Publication | None] = {}
        events = []
        for sub, ts, receiver, pid in keys:
            if pid in cache:
                publication = cache[pid]
            else:
                publication = cache[pid] = self._publications[txn, pid]
            events.append(Event.of(sub, ts, receiver, pid, publication))
        return events

    # -- retention -----------------------------------------------------------

    def purge(self, *, older_than: int | None = None, keep_last: int | None = None) -> int:
        """Apply retention; returns how many records were deleted.

        older_than (int ns): deletes deliveries and publications stored
        before it and sessions that left before it (joined sessions stay).
        keep_last: keeps only the newest keep_last deliveries per subscription.
        A publication is deleted only once no remaining delivery refers to
        it, so every event read back keeps its topic and payload; checking
        that reads every remaining delivery key once. Purges running at once
        (several router nodes on one PostgreSQL database) conflict with each
        other and with writers; the loser runs again on the winner's result.
        """
        if older_than is None and keep_last is None:
            raise InvalidArgument("purge: give older_than and/or keep_last")
        if keep_last is not None and (isinstance(keep_last, bool) or not isinstance(keep_last, int)
                                      or keep_last < 0):
            raise InvalidArgument(f"keep_last: expected an int >= 0, got {keep_last!r}")
        return self.transact(lambda txn: self._purge(txn, older_than, keep_last), PURGE_RETRIES)

    def _purge(self, txn: Any, older_than: int | None, keep_last: int | None) -> int:
        deleted = 0
        candidates: set[int] = set()
        for sub in self._subscriptions(txn):
            doomed = self._expired_deliveries(txn, sub, older_than, keep_last)
            for key in doomed:
                self._deliveries.delete(txn, key)
                candidates.add(key[3])
            deleted += len(doomed)
        if older_than is not None:
            candidates.update(self.schema.idx_publications_by_timestamp.select(
                txn, to_key=older_than, return_keys=False))
            left = list(self.schema.idx_sessions_by_left_at.select(txn, to_key=older_than, return_keys=False))
            for oid in left:
                self._sessions.delete(txn, oid)
            deleted += len(left)
        if candidates:
            candidates -= {key[3] for key in self._deliveries.select(txn, return_values=False)}
            for pid in candidates:
                deleted += self._publications.delete(txn, pid)
        return deleted

    def _subscriptions(self, txn: Any) -> list[int]:
        """Every subscription id with deliveries: one seek per subscription."""
        subs: list[int] = []
        start: tuple[int] | None = None
        while True:
            first = next(iter(self._deliveries.select(txn, from_key=start, limit=1, return_values=False)), None)
            if first is None:
                return subs
            sub = first[0]
            subs.append(sub)
            if sub == _UINT64_MAX:
                return subs
            start = (sub + 1,)

    def _expired_deliveries(self, txn: Any, sub: int, older_than: int | None,
                            keep_last: int | None) -> list[tuple[int, int, int, int]]:
        # Both rules cut an oldest-first run off the subscription's
        # deliveries, so together they remove the longer of the two runs.
        select = self._deliveries.select
        by_age: list[Any] = []
        by_count: list[Any] = []
        if older_than is not None:
            by_age = list(select(txn, prefix=(sub,), to_key=(sub, older_than), return_values=False))
        if keep_last == 0:
            by_count = list(select(txn, prefix=(sub,), return_values=False))
        elif keep_last is not None:
            kept = list(select(txn, prefix=(sub,), reverse=True, limit=keep_last, return_values=False))
            if len(kept) == keep_last:
                by_count = list(select(txn, prefix=(sub,), to_key=kept[-1], return_values=False))
        return by_age if len(by_age) >= len(by_count) else by_count

    # -- a rule's limit --------------------------------------------------------

    def trim(self, txn: Any, rule: UriRule, keep: int, rules: Sequence[UriRule] = ()) -> int:
        """Keep only the newest ``keep`` events of rule's history, inside the caller's write transaction;
        returns how many records were deleted.

        Events rank as reads return them: one per publication, by its newest delivery. Every delivery of
        an older one is deleted, and its publication unless another of ``rules`` still keeps it: rules
        whose patterns both match a topic share its publications, each keeping its delivery to receiver
        0 stamped with the publication's time (as the router and the import record them).
        """
        hid = history_id(rule)
        kept: set[int] = set()
        doomed = []
        for key in self._deliveries.select(txn, prefix=(hid,), reverse=True, return_values=False):
            if key[3] in kept:
                continue
            if len(kept) < keep:
                kept.add(key[3])
            else:
                doomed.append(key)
        for key in doomed:
            self._deliveries.delete(txn, key)
        deleted = len(doomed)
        for pid in {key[3] for key in doomed}:
            publication = self._publications[txn, pid]
            if publication is not None and not self._kept_by_another(txn, publication, hid, rules):
                deleted += self._publications.delete(txn, pid)
        return deleted

    def _kept_by_another(self, txn: Any, publication: Publication, hid: int, rules: Sequence[UriRule]) -> bool:
        others = {history_id(r) for r in matching(rules, publication.topic)} - {hid}
        return any(self._deliveries[txn, (other, publication.timestamp, 0, publication.publication_id)] is not None
                   for other in others)

    def apply_limits(self, rules: Sequence[UriRule], default: int) -> int:
        """Trim every rule's history to its limit (``default`` for a rule without one); returns how many
        records were deleted. Each rule is trimmed in a transaction of its own, run again on conflicts
        like ``purge``: a short one, so that writers to other rules' histories do not make it lose."""
        if isinstance(default, bool) or not isinstance(default, int) or default < 1:
            raise InvalidArgument(f"default: expected an int >= 1, got {default!r}")
        deleted = 0
        for rule in rules:
            keep = rule.keeps(default)
            deleted += self.transact(lambda txn: self.trim(txn, rule, keep, rules), PURGE_RETRIES)
        return deleted
