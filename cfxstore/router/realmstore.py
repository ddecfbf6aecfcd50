"""Crossbar's IRealmStore on cfxstore's SessionHistory.

Writes (sessions joining and leaving, publications, deliveries) are staged on
the database's one write-behind (writebehind.py, shared with the cookie
stores) and committed in batches off the reactor thread; a read waits for
the writes staged before it to commit (still off the reactor), so it sees
everything the router has acknowledged, and then reads: in a bounded pool of
threads on PostgreSQL (dbcalls.py), inline on LMDB. Reads answer Deferreds,
which Crossbar's meta API (``wamp.session.get``,
``wamp.subscription.get_events``) hands to the caller. ``start()``
registers the node's run in a thread (on PostgreSQL after opening the
database there). A record that could never be stored (a topic or authid too long for its index, a payload the
codec cannot encode) is refused when it arrives: logged, and that event or
session is not recorded; nothing else is held up. While the database is
unreachable at most ``outage_max`` writes wait (writebehind.py ``admit``):
history records beyond are left out, counted and logged once per interval (a
session whose leave was left out is closed by the run's end, end_run).

Session history: each session is recorded once (the realm's service agent
not at all) with the id of this process's run (noderun.py), and written once
if it leaves before its join is committed (a short session: its record as
it ended, instead of a join and then a leave); a clean stop
marks the sessions still joined as left at the stop time, and the next start
after a crash closes them at the crashed run's last heartbeat, marked
approximate.

Event history: for every configured "event-history" URI the store observes a
subscription. Crossbar numbers subscriptions at random on every start, so the
history is stored under a stable id derived from the rule's (match, uri) and
survives restarts. Each publication on it is recorded once per matching
subscription (receiver 0, so history exists even when nobody was subscribed)
and each delivery once per receiver. Reading history returns each publication
once, newest first, in the format of Crossbar's memory store plus
"subscription".

As in Crossbar, a rule's "limit" (else the store's) is how many events its
history keeps: after every quarter of the limit recorded here, the rule's
history is trimmed to it in a staged write, and every retention interval every
rule's is (what several nodes recording the same rule leave above the limit,
or a lowered limit). Reads never return more than the limit meanwhile.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable

from autobahn.wamp.exception import ApplicationError
from twisted.internet import task, threads
from twisted.internet.defer import Deferred, succeed
from txaio import make_logger  # type: ignore[attr-defined]  # txaio defines it once a framework is chosen

from crossbar.interfaces import IRealmStore
from crossbar.router.service import RouterServiceAgent

from cfxstore.node.config import RealmStoreConfig, parse_realm_store, resolve_path
from cfxstore.realmstore.entities import Event, Session
from cfxstore.realmstore.rules import UriRule, history_id
from cfxstore.router.callqueue import CallQueue
from cfxstore.router.committed import committed
from cfxstore.router.dbcalls import DatabaseCalls, database_calls
from cfxstore.router.noderun import NodeRun, node_run
from cfxstore.router.reactorguard import guard_reactor
from cfxstore.router.services import node_services
from cfxstore.router.transportinfo import stored_transport
from cfxstore.router.writebehind import each
from cfxstore.timeutil import NS_PER_SECOND, now_ns
from orm.engine.pgurl import is_url, shown

log = make_logger()
STORE = "history store"  # how errors name it (availability.py)
# A rule's history is trimmed after every 1/TRIM_EVERY of its limit recorded. A trim reads the whole
# history (every delivery's key), so this trades that work per event (about 5 key reads per delivery)
# against how far the history may grow above its limit meanwhile (a quarter).
TRIM_EVERY = 4


def _node_dir(factory: Any) -> str:
    try:
        return factory._worker.config.extra.cbdir
    except AttributeError:
        return os.getcwd()  # Crossbar workers run in the node directory


def _session_id(session: Any) -> int | None:
    details = getattr(session, "_session_details", None)
    sid = getattr(details, "session", None) if details is not None else None
    return sid or getattr(session, "_session_id", None) or getattr(session, "_previous_session_id", None)


class CfxRealmStore:
    """A realm's session and event history in the cfxstore database."""

    STORE_TYPE = "cfxstore"

    def __init__(self, personality: Any, factory: Any, config: dict[str, Any], *, reactor: Any = None,
                 defer_to_thread: Any = None) -> None:
        """Crossbar passes (personality, factory, config); reactor and defer_to_thread are for tools."""
        if reactor is None:
            # The reactor Crossbar installed: imported earlier, this would install Twisted's default one.
            from twisted.internet import reactor

        self._personality = personality
        self._factory = factory
        self._config: RealmStoreConfig = parse_realm_store(config)
        # A store serves one realm; Crossbar does not pass its name, sessions and publishers carry it.
        self._realm: str | None = None
        self._path = resolve_path(self._config.database.path, _node_dir(factory))
        self._reactor = reactor
        self._defer_to_thread = defer_to_thread or threads.deferToThread
        self._history: Any = None
        self._writer: Any = None
        self._run: NodeRun | None = None
        self._calls: DatabaseCalls | None = None
        # Sessions recorded as joined by this store and not yet left, by WAMP session id (a leave
        # writes the record it knows, reading nothing).
        self._joined: dict[int, Session] = {}
        self._calls_queue = CallQueue(self._config.call_queue, self._config.limit)
        self._subscription_map: Any = None
        # Crossbar's subscription id -> (stable history id, rule)
        self._tracked: dict[int, tuple[int, UriRule]] = {}
        # Events recorded per history id since this process last staged a trim of it.
        self._untrimmed: dict[int, int] = {}
        self._trim = each(self._trim_rule)
        self._retention: task.LoopingCall | None = None
        self._running = False
        if not is_url(self._path):
            # A local file opens in microseconds: the store is usable at once (tools use it without start()).
            self._opened(self._open())

    def _open(self) -> Any:
        """The database and its history service (round trips on PostgreSQL: then called in a thread)."""
        node = node_services(self._path, self._config.database)
        node.history  # attaches the schema
        return node

    def _opened(self, node: Any) -> None:
        """The store's writer and run on the opened database (reactor thread)."""
        self._history = history = node.history
        self._writer = writer = node.writer(
            delay=self._config.buffer_flush_ms / 1000.0, max_items=self._config.max_buffer,
            reactor=self._reactor, defer_to_thread=self._defer_to_thread)
        self._put_session, self._put_left = history.put_joined, history.put_left
        self._put_publications, self._put_deliveries = history.put_publications, history.put_deliveries
        if self._config.session_history:
            self._run = node_run(self._path, history, writer, self._reactor)
        log.info("cfxstore realm store active (database {path})", path=shown(self._path))

    # -- lifecycle -------------------------------------------------------------

    def type(self) -> str:
        return self.STORE_TYPE

    def is_running(self) -> bool:
        return self._running

    def start(self) -> Deferred:
        """Register the node's run and start retention (a Deferred: Crossbar waits for it before the realm's
        sessions join). The run's writes are made in a thread: on LMDB they may wait for another process's
        write lock; on PostgreSQL the database is opened there first."""
        if self._running:
            raise RuntimeError("cfxstore realm store is already running")
        self._running = True
        guard_reactor()
        if self._history is not None:
            d: Deferred = succeed(None)
        else:
            d = threads.deferToThread(self._open)
            d.addCallback(self._opened)
        d.addCallback(lambda _: None if self._run is None else threads.deferToThread(self._run.begin))
        d.addCallback(lambda _: self._begun())
        return d

    def _begun(self) -> None:
        if self._run is not None:
            self._run.beat()
        self._retain()

    def _retain(self) -> None:
        retention = self._config.retention
        if retention.max_age is not None or retention.keep_last is not None or self._config.event_history:
            self._retention = task.LoopingCall(self._purge)
            self._retention.start(retention.interval, now=False)

    def stop(self) -> Deferred:
        """Stop retention and commit everything staged, off the reactor thread: a Deferred that fires once
        it is committed (at once for a store made without a reactor, which commits on the calling thread)."""
        if not self._running:
            raise RuntimeError("cfxstore realm store is not running")
        self._running = False
        if self._retention is not None and self._retention.running:
            self._retention.stop()
        return self._writer.drain()

    def flush(self) -> None:
        """Commit everything staged now (on this thread)."""
        self._writer.flush()

    def _purge(self) -> Any:
        """Retention, then every rule's limit."""
        config, retention = self._config, self._config.retention
        older_than = None if retention.max_age is None else now_ns() - int(retention.max_age * NS_PER_SECOND)

        def purge() -> int:
            with self._writer.lock:
                deleted = 0
                if older_than is not None or retention.keep_last is not None:
                    deleted += self._history.purge(older_than=older_than, keep_last=retention.keep_last)
                if config.event_history:
                    deleted += self._history.apply_limits(config.event_history, config.limit)
                return deleted

        d = threads.deferToThread(purge)
        d.addErrback(lambda f: log.failure("cfxstore: applying event retention failed", failure=f))
        return d

    # -- sessions --------------------------------------------------------------

    def store_session_joined(self, session: Any, details: Any) -> None:
        if details is None or not details.session:
            return
        self._realm = details.realm or self._realm
        sid = details.session
        if self._run is None or sid in self._joined or isinstance(session, RouterServiceAgent):
            return  # history off; already recorded; the meta API's agent (joins anew on every start)
        try:
            record = self._history.new_session(
                session_id=sid, realm=details.realm or self._realm_name(), authid=details.authid,
                authrole=details.authrole, authmethod=details.authmethod, authprovider=details.authprovider,
                authextra=details.authextra if isinstance(details.authextra, dict) else None,
                transport=stored_transport(details.transport), run=self._run.id)
        except ValueError as exc:
            log.warn("cfxstore: session {sid} not recorded: {error}", sid=sid, error=str(exc)[:300])
            return
        if self._writer.admit("session joined"):
            self._joined[sid] = record
            self._writer.stage(self._put_session, record, ("session", record.oid))

    def store_session_left(self, session: Any, details: Any) -> None:
        sid = _session_id(session)
        record = self._joined.pop(sid, None) if sid is not None else None
        if record is None:
            return
        at = now_ns()
        # A session that leaves before its join is committed is written once, as it ended.
        if not self._writer.restage(("session", record.oid), self._put_session, self._history.left(record, at)):
            if self._writer.admit("session left"):
                self._writer.append(self._put_left, (record, at))

    def get_session_by_session_id(self, session_id: int, joined_at: int | None = None) -> Deferred:
        """A Deferred of the stored session's details; NO_SUCH_SESSION (as Crossbar's meta API answers)
        if there is none."""
        def found(session: Session | None) -> dict[str, Any]:
            if session is None:
                raise ApplicationError(ApplicationError.NO_SUCH_SESSION,
                                       f"no session with ID {session_id} exists on this router")
            return _session_info(session)
        return self._read(lambda: self._history.get_session(session_id, joined_at)).addCallback(found)

    def get_sessions_by_authid(self, authid: str) -> Deferred:
        """A Deferred of the (session id, joined at) of authid's stored sessions, None if there are none."""
        return self._read(lambda: self._history.sessions_by_authid(authid)).addCallback(
            lambda sessions: [(s.session_id, s.joined_at) for s in sessions] or None)

    def _read(self, fn: Callable[[], Any]) -> Deferred:
        """fn() once everything staged before now is committed (reads see every acknowledged write):
        off the reactor on PostgreSQL, an LMDB read inline. StoreUnavailable at once while the database
        is unreachable."""
        self._writer.availability.check(STORE)
        if self._calls is None:
            self._calls = database_calls(self._writer.db, self._reactor)
        calls = self._calls
        return committed(self._writer, self._reactor).addCallback(lambda _: calls.deferred(STORE, fn))

    def _realm_name(self) -> str:
        return self._realm or "unknown"

    # -- events ----------------------------------------------------------------

    def attach_subscription_map(self, subscription_map: Any) -> None:
        self._subscription_map = subscription_map
        for rule in self._config.event_history:
            observation, _, _ = subscription_map.add_observer(self, uri=rule.uri, match=rule.match)
            self._tracked[observation.id] = (history_id(rule), rule)

    def store_event(self, session: Any, publication_id: int, publish: Any) -> None:
        """Called once per publication that matches a tracked subscription."""
        now = now_ns()
        args = publish.args
        realm = getattr(session, "_realm", None)
        if isinstance(realm, str):
            self._realm = realm
        try:
            publication = self._history.new_publication(
                publication_id=publication_id, topic=publish.topic, publisher=getattr(session, "_session_id", None),
                args=list(args) if isinstance(args, tuple) else args, kwargs=publish.kwargs,
                publisher_authid=getattr(session, "_authid", None),
                publisher_authrole=getattr(session, "_authrole", None), timestamp=now)
        except ValueError as exc:
            log.warn("cfxstore: publication {pid} not recorded: {error}", pid=publication_id, error=str(exc)[:300])
            return
        if not self._writer.admit("event"):
            return
        append, put = self._writer.append, self._put_deliveries
        # Keyed: the batch's publications are written first, together (one read for all of them).
        self._writer.stage(self._put_publications, publication, ("publication", publication_id))
        if self._subscription_map is not None:
            for observation in self._subscription_map.match_observations(publish.topic):
                tracked = self._tracked.get(observation.id)
                if tracked is not None:
                    append(put, (tracked[0], now, 0, publication_id))
                    self._recorded(*tracked)

    def _recorded(self, hid: int, rule: UriRule) -> None:
        """Count an event of rule's history; stage a trim after every quarter of its limit."""
        n = self._untrimmed.get(hid, 0) + 1
        if n >= max(1, rule.keeps(self._config.limit) // TRIM_EVERY):
            self._writer.append(self._trim, rule)
            n = 0
        self._untrimmed[hid] = n

    def _trim_rule(self, txn: Any, rule: UriRule) -> None:
        self._history.trim(txn, rule, rule.keeps(self._config.limit), self._config.event_history)

    def store_event_history(self, publication_id: int, subscription_id: int, receiver: Any) -> None:
        """Called for every delivery while the realm has a store: keep it lean."""
        tracked = self._tracked.get(subscription_id)
        if tracked is not None:
            receiver_id = getattr(receiver, "_session_id", None)
            if receiver_id and self._writer.admit("delivery"):
                self._writer.append(self._put_deliveries, (tracked[0], now_ns(), receiver_id, publication_id))

    def get_events(self, subscription_id: int, limit: int | None = None) -> Deferred | None:
        """A Deferred of the newest events of a tracked subscription (None: not tracked)."""
        return self._query(subscription_id, limit, lambda hid, n: self._history.events(hid, limit=n))

    def get_event_history(self, subscription_id: int, from_ts: int, until_ts: int, reverse: bool | None = None,
                          limit: int | None = None) -> Deferred | None:
        return self._query(subscription_id, limit, lambda hid, n: self._history.event_history(
            hid, from_ts, until_ts, reverse=bool(reverse), limit=n))

    def _query(self, subscription_id: int, limit: int | None,
               fetch: Callable[[int, int], list[Any]]) -> Deferred | None:
        """A Deferred of the history of a tracked subscription through fetch(history id, count); None if untracked."""
        tracked = self._tracked.get(subscription_id)
        if tracked is None:
            return None
        hid, rule = tracked
        cap = self._cap(rule, limit)
        return self._read(lambda: self._distinct(lambda n: fetch(hid, n), cap, subscription_id))

    def _cap(self, rule: UriRule, limit: int | None) -> int:
        cap = rule.keeps(self._config.limit)
        return cap if limit is None else max(0, min(cap, limit))

    def _distinct(self, fetch: Any, cap: int, subscription_id: int) -> list[dict[str, Any]]:
        """Up to ``cap`` events, one per publication, fetching more deliveries as needed."""
        n = max(cap * 4, 16)
        while True:
            events: list[Event] = fetch(n)
            result = _one_per_publication(events, cap)
            if len(result) >= cap or len(events) < n:
                return [self._event_info(e, subscription_id) for e in result]
            n *= 4

    def _event_info(self, event: Event, subscription_id: int) -> dict[str, Any]:
        return {
            "time_ns": event.timestamp,
            "realm": self._realm_name(),
            "session_id": event.publisher,
            "authid": event.publisher_authid,
            "authrole": event.publisher_authrole,
            "publication": event.publication_id,
            "subscription": subscription_id,
            "topic": event.topic,
            "args": event.args,
            "kwargs": event.kwargs,
        }

    # -- call queue ------------------------------------------------------------

    def maybe_queue_call(self, session: Any, call: Any, registration: Any, authorization: Any) -> bool:
        return self._calls_queue.maybe_queue(session, call, registration, authorization)

    def get_queued_call(self, registration: Any) -> Any:
        return self._calls_queue.peek(registration)

    def pop_queued_call(self, registration: Any) -> Any:
        return self._calls_queue.pop(registration)


def _one_per_publication(events: Iterable[Event], cap: int) -> list[Event]:
    seen: set[int] = set()
    result = []
    for event in events:
        if event.publication_id not in seen:
            seen.add(event.publication_id)
            result.append(event)
            if len(result) >= cap:
                break
    return result


def _session_info(session: Session) -> dict[str, Any]:
    """A stored session in the shape of Crossbar's session details, plus join/leave times
    (``left_approximate`` True: closed at the last heartbeat of a router that crashed)."""
    return {
        "realm": session.realm,
        "session": session.session_id,
        "authid": session.authid,
        "authrole": session.authrole,
        "authmethod": session.authmethod,
        "authprovider": session.authprovider,
        "authextra": session.authextra,
        "transport": session.transport,
        "joined_at": session.joined_at,
        "left_at": session.left_at,
        "left_approximate": session.left_approximate,
    }


IRealmStore.register(CfxRealmStore)
