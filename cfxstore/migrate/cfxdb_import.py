"""Importing a stock Crossbar cookie store and realm store into a cfxstore database.

Cookies keep their ids and their values keep working: each raw value is
hashed on the way in (only the hash is stored), so CookieService.lookup
finds an imported cookie by the value the browser still holds. Sessions,
publications and events are mapped onto the RealmStore records; transport
details lose their cookie values and credential headers.

Records are written in batches, each in one transaction together with
their entries in the import ledger (import_ledger.py). Running the import
again (after a kill, or later) imports only the records new in the source:
a cookie revoked or logged out in cfxstore since, or history removed by
retention, never comes back.

Event history is re-keyed under the node's "event-history" rules (the
stable ids the router reads), so ``wamp.subscription.get_events`` returns
imported events; without rules events keep their stock subscription ids.
Stock Crossbar never records when a session left: such sessions are marked
as ended at an unknown time (``left_at`` the source's last write, which
bounds it, ``left_approximate`` and ``left_unknown``), not as still joined.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Callable

import orm
from orm import crashpoint

from cfxstore.audit.entities import AuditEvent
from cfxstore.audit.service import AuditLog
from cfxstore.cookies.entities import Cookie
from cfxstore.cookies.service import DEFAULT_MAX_AGE, CookieService, guessable
from cfxstore.credentials.service import CredentialService
from cfxstore.realmstore.entities import Publication, Session
from cfxstore.realmstore.rules import UriRule, history_id, matching
from cfxstore.realmstore.service import SessionHistory
from cfxstore.timeutil import NS_PER_SECOND, now_ns
from cfxstore.transport import scrub_transport

from .cfxdb_source import COOKIES, EVENTS, PUBLICATIONS, SESSIONS, CfxdbSource
from .errors import ImportSourceError
from .import_ledger import Ledger, cookie_key, event_key, publication_key, session_key

BATCH = 5000
RowCallback = Callable[[str, int, int], None]

# Session fields of cfxdb without a cfxstore counterpart: kept in the
# record (Entity keeps unknown keys) rather than dropped.
_SESSION_EXTRAS = ("arealm_oid", "node_oid", "node_authid", "worker_name", "worker_pid",
                   "proxy_node_oid", "proxy_node_authid", "proxy_worker_name", "proxy_worker_pid")
# Publication fields of cfxdb kept the same way (E2E-encrypted payloads among them).
_PUBLICATION_EXTRAS = ("payload", "enc_algo", "enc_key", "enc_serializer", "acknowledge", "retain",
                       "exclude_me", "exclude", "exclude_authid", "exclude_authrole",
                       "eligible", "eligible_authid", "eligible_authrole")


@dataclasses.dataclass
class TableResult:
    read: int = 0
    imported: int = 0
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    changed: dict[str, int] = dataclasses.field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def change(self, what: str) -> None:
        self.changed[what] = self.changed.get(what, 0) + 1


Put = Callable[[Any], bool]


def once(ledger: Ledger, key: bytes, result: TableResult, write: Callable[[Any], bool]) -> Put:
    """A put that writes the record and its ledger entry together, unless an earlier run did."""
    def put(txn: Any) -> bool:
        if ledger.seen(txn, key):
            result.skip("imported before")
            return False
        if not write(txn):
            return False
        ledger.enter(txn, key)
        return True
    return put


def _cfxdb() -> Any:
    try:
        # cfxdb is optional: only an import from a cfxdb database needs it.
        import cfxdb.cookiestore
        import cfxdb.realmstore
    except ImportError:
        raise ImportSourceError("importing a Crossbar database needs the cfxdb package (installed with "
                                "Crossbar): pip install cfxdb") from None
    return cfxdb


def _ns(value: Any) -> int | None:
    """A cfxdb timestamp (numpy datetime64 or int ns) as int ns; None when unset (0)."""
    if value is None:
        return None
    if hasattr(value, "astype"):
        value = value.astype("datetime64[ns]").astype("int64").item()
    value = int(value)
    return value or None


def _plain(value: Any) -> Any:
    """uuid.UUID as str, empty containers as None: what the cfxstore records hold."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (dict, list)) and not value:
        return None
    if isinstance(value, memoryview):
        return bytes(value)
    return value


class _Writer:
    """Batches puts into write transactions of BATCH records; each batch that imports anything records
    an import event in the audit log, in its transaction."""

    def __init__(self, db: orm.Database, name: str) -> None:
        self.db = db
        self.name = name
        self._audit = AuditLog(db)
        self._pending: list[Callable[[Any], bool]] = []

    def add(self, put: Callable[[Any], bool]) -> None:
        self._pending.append(put)

    def __len__(self) -> int:
        return len(self._pending)

    def flush(self, result: TableResult) -> None:
        if not self._pending:
            return
        with self.db.begin(write=True) as txn:
            imported = sum(1 for put in self._pending if put(txn))
            if imported:
                self._audit.record(txn, AuditEvent(kind="import", action="cfxdb import",
                                                   detail={"table": self.name, "records": imported}))
            result.imported += imported
        self._pending = []
        crashpoint.reached("import-batch-committed")


def _walk(source: CfxdbSource, table: uuid.UUID, name: str, cast: Callable[[bytes], Any], db: orm.Database,
          convert: Callable[[Any, TableResult], Callable[[Any], bool] | None],
          on_row: RowCallback | None) -> TableResult:
    result = TableResult()
    total = source.count(table)
    writer = _Writer(db, name)
    for raw in source.values(table):
        result.read += 1
        try:
            put = convert(cast(raw), result)
        except Exception as exc:  # a record Crossbar wrote that does not decode or validate
            result.skip(f"invalid ({type(exc).__name__})")
            put = None
        if put is not None:
            writer.add(put)
        if len(writer) >= BATCH:
            writer.flush(result)
        if on_row is not None:
            on_row(name, result.read, total)
    writer.flush(result)
    return result


# -- cookies -------------------------------------------------------------------

#: Seconds an imported cookie whose value carries under 128 bits may live on (from the import).
SHORT_COOKIE_LIFE = 86400


def _cookie_put(store: CookieService, ledger: Ledger, now: int, short_life: int, credentials: CredentialService
                ) -> Callable[[Any, TableResult], Callable[[Any], bool] | None]:
    def convert(c: Any, result: TableResult) -> Callable[[Any], bool] | None:
        value = c.value
        if not value or c.oid is None:
            result.skip("no value or id")
            return None
        if not c.authid:
            result.skip("anonymous (no login): never stored")
            return None
        # A login the store's principal no longer allows: its role there differs.
        principal = credentials.get_principal(c.authrealm, c.authid) if c.authrealm else None
        if principal is not None and principal.role != c.authrole:
            result.skip("its principal's role in the store differs")
            return None
        created = _ns(c.created) or now
        max_age = c.max_age or DEFAULT_MAX_AGE
        expires = created + max_age * NS_PER_SECOND
        if expires <= now:
            result.skip("expired")
            return None
        if guessable(value) and expires > now + short_life * NS_PER_SECOND:
            # A stock value can be 6 characters (36 bits): guessable, and its unsalted hash recoverable
            # from a copied database. It keeps working, for a bounded time only.
            max_age = max(1, (now - created) // NS_PER_SECOND + short_life)
            expires = created + max_age * NS_PER_SECOND
            result.change(f"short value (under 128 bits): life cut to {short_life} s")
        authenticated = _ns(c.authenticated)
        cookie = Cookie(
            oid=c.oid, created=created, modified=max(authenticated or created, created), max_age=max_age,
            expires=expires, name=c.name or "cbtid", value_hash=CookieService.hash_value(value),
            authid=c.authid, authrole=c.authrole, authmethod=c.authmethod, authrealm=c.authrealm,
            authextra=_plain(c.authextra), node=_plain(c.authenticated_on_node),
            worker=c.authenticated_on_worker, session=c.authenticated_session or None,
            transport=_plain(scrub_transport(c.authenticated_transport_info)))

        def write(txn: Any) -> bool:
            try:
                store.schema.cookies[txn, cookie.oid] = cookie  # checked: the value may be taken
            except orm.UniqueViolation:  # another cookie already has this value
                result.skip("value already used by another cookie")
                return False
            return True
        return once(ledger, cookie_key(cookie.oid), result, write)
    return convert


def import_cookies(path: str, db: orm.Database, on_row: RowCallback | None = None,
                   short_life: int = SHORT_COOKIE_LIFE) -> TableResult:
    """Import the cookies of the Crossbar cookie store at path into db.

    A cookie whose value carries under 128 bits lives at most ``short_life`` seconds from now.
    """
    cfxdb = _cfxdb()
    with CfxdbSource(path, "cookie store") as source:
        source.require(COOKIES, kind="cookie store")
        store = CookieService(db)
        return _walk(source, COOKIES, "cookies", cfxdb.cookiestore.Cookie.cast, db,
                     _cookie_put(store, Ledger(db), now_ns(), short_life, CredentialService(db)), on_row)


# -- realm store ---------------------------------------------------------------

def _session_put(store: SessionHistory, ledger: Ledger, ended: int
                 ) -> Callable[[Any, TableResult], Callable[[Any], bool] | None]:
    def convert(s: Any, result: TableResult) -> Callable[[Any], bool] | None:
        joined_at = _ns(s.joined_at)
        if s.oid is None or s.session is None or not s.realm or joined_at is None:
            result.skip("no id, realm or join time")
            return None
        left_at = _ns(s.left_at)
        data: dict[str, Any] = {
            "oid": s.oid, "session_id": s.session, "realm": s.realm, "authid": s.authid,
            "authrole": s.authrole, "authmethod": s.authmethod, "authprovider": s.authprovider,
            "authextra": _plain(s.authextra), "transport": _plain(scrub_transport(s.transport)),
            "joined_at": joined_at, "left_at": left_at if left_at and left_at >= joined_at else None,
        }
        if data["left_at"] is None:
            # Ended before the import, at a time stock Crossbar did not record.
            # The source's last write bounds it: a stopped node has no joined sessions.
            data.update(left_at=max(ended, joined_at), left_approximate=True, left_unknown=True)
            result.change("marked ended (leave time unknown)")
        for name in _SESSION_EXTRAS:
            value = _plain(getattr(s, name, None))
            if value is not None:
                data[name] = value
        proxy = _plain(scrub_transport(getattr(s, "proxy_transport", None)))
        if proxy is not None:
            data["proxy_transport"] = proxy
        session = Session.parse(data)

        def write(txn: Any) -> bool:
            try:
                store.put_session(txn, session)
            except orm.UniqueViolation:
                result.skip("another session has the same id and join time")
                return False
            return True
        return once(ledger, session_key(session.oid), result, write)
    return convert


def _publication_put(store: SessionHistory, ledger: Ledger, rules: tuple[UriRule, ...], topics: dict[int, str]
                     ) -> Callable[[Any, TableResult], Callable[[Any], bool] | None]:
    def convert(p: Any, result: TableResult) -> Callable[[Any], bool] | None:
        if p.publication is None or not p.topic or not p.timestamp:
            result.skip("no id, topic or time")
            return None
        data: dict[str, Any] = {
            "publication_id": p.publication, "topic": p.topic, "publisher": p.publisher or None,
            "args": list(p.args) if p.args is not None else None, "kwargs": p.kwargs,
            "timestamp": _ns(p.timestamp),
        }
        for name in _PUBLICATION_EXTRAS:
            value = _plain(getattr(p, name, None))
            if value is not None and value is not False:
                data[name] = value
        publication = Publication.parse(data)
        topics[publication.publication_id] = publication.topic
        # As the router records it: one delivery to receiver 0 per matching rule.
        keys = [(hid, publication.timestamp, 0, publication.publication_id)
                for hid in _history_ids(rules, publication.topic)]

        def write(txn: Any) -> bool:
            store.put_publication(txn, publication)
            store.put_deliveries(txn, keys)
            return True
        return once(ledger, publication_key(publication.publication_id), result, write)
    return convert


def _history_ids(rules: tuple[UriRule, ...], topic: str | None) -> list[int]:
    if not rules or topic is None:
        return []
    return [history_id(rule) for rule in matching(rules, topic)]


def _event_put(store: SessionHistory, ledger: Ledger, rules: tuple[UriRule, ...], topics: dict[int, str]
               ) -> Callable[[Any, TableResult], Callable[[Any], bool] | None]:
    def convert(e: Any, result: TableResult) -> Callable[[Any], bool] | None:
        timestamp = _ns(e.timestamp)  # None when unset
        if timestamp is None or e.subscription is None or e.receiver is None or e.publication is None:
            result.skip("no time, subscription, receiver or publication")
            return None
        source = (e.subscription, timestamp, e.receiver, e.publication)
        ids = _history_ids(rules, topics.get(e.publication))
        if ids:
            result.change("moved to the history of a rule")
        keys = [(hid, *source[1:]) for hid in ids] or [source]

        def write(txn: Any) -> bool:
            store.put_deliveries(txn, keys)
            return True
        return once(ledger, event_key(*source), result, write)
    return convert


def import_realmstore(path: str, db: orm.Database, on_row: RowCallback | None = None,
                      history: tuple[UriRule, ...] = ()) -> dict[str, TableResult]:
    """Import sessions, publications and events of the Crossbar realm store at path into db.

    history: the realm's "event-history" rules; events on a matching topic
    are stored under the rule's stable id, where the router reads them.
    """
    cfxdb = _cfxdb()
    rs = cfxdb.realmstore
    with CfxdbSource(path, "realm store") as source:
        source.require(SESSIONS, PUBLICATIONS, EVENTS, kind="realm store")
        store, ledger = SessionHistory(db), Ledger(db)
        topics: dict[int, str] = {}  # publication id -> topic, for re-keying its events
        return {
            "sessions": _walk(source, SESSIONS, "sessions", rs.Session.cast, db,
                              _session_put(store, ledger, source.last_write()), on_row),
            "publications": _walk(source, PUBLICATIONS, "publications", rs.Publication.cast, db,
                                  _publication_put(store, ledger, history, topics), on_row),
            "events": _walk(source, EVENTS, "events", rs.Event.cast, db,
                            _event_put(store, ledger, history, topics), on_row),
        }


def check_sources(cookies: str | None, realmstore: str | None) -> None:
    """Open and identify each source before anything is written (clear errors for wrong paths)."""
    if cookies is None and realmstore is None:
        raise ImportSourceError("nothing to import: give --cookies PATH and/or --realmstore PATH")
    if cookies is not None:
        with CfxdbSource(cookies, "cookie store") as source:
            source.require(COOKIES, kind="cookie store")
    if realmstore is not None:
        with CfxdbSource(realmstore, "realm store") as source:
            source.require(SESSIONS, PUBLICATIONS, EVENTS, kind="realm store")
