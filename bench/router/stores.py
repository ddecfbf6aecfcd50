"""Side-by-side benchmark: cfxstore's router stores vs Crossbar's.

    python -m bench.router.stores [--n 20000] [--rounds 3] [--sync both|on|off] [--receivers 10]
                                    [--postgres [URL]]

Cookie stores (same machine, same run, same LMDB sync setting, fresh
databases): Crossbar's CookieStoreDatabaseBacked vs cfxstore's store, driven
through the interface Crossbar calls. Every timing of cfxstore's store
includes committing its write-behind buffer, so ops/s are durable ops/s at the
chosen sync setting. With --postgres the same store (same write-behind and
cache, as in a router) also runs on PostgreSQL, in a schema ``bench_router``
it creates and drops; PostgreSQL commits with the server's own durability
settings whatever --sync says. URL defaults to CFXSTORE_TEST_PG or
postgresql://postgres@127.0.0.1:5432/test. Crossbar's stores run without log
output (in a router they also format an info line per call, so this favours
Crossbar).

Every cookie figure is the best of --rounds runs (each create round makes n
new cookies; each setAuth round writes a new authextra; each cold round uses a
freshly opened store; each warm round reads the cookies again 500 at a time,
each slice right after its first read, within the store's 1 s cache_ttl).
Every timing runs with the cyclic GC off, on both sides, as timeit does.

Realm stores: recording one publication with N deliveries, cfxstore (to disk,
including the final commit) vs Crossbar's memory store (RAM only).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import sys
import tempfile
from typing import Any, Callable

from bench.orm import timed
from bench.orm_postgres import default_url, drop_schema, in_schema, server_url

from cfxstore.node.config import CookieConfig, DatabaseConfig

PG_SCHEMA = "bench_router"
WARM_SLICE = 500  # cookies per warm pass: read within cache_ttl (1 s) of their first read on any engine


class _Call:
    def active(self) -> bool:
        return False

    def cancel(self) -> None:
        pass


class _NoReactor:
    """Stands in for the reactor: nothing runs later, so buffers commit when full and at the end."""

    def callLater(self, *args: Any, **kwargs: Any) -> _Call:  # noqa: N802
        return _Call()

    def addSystemEventTrigger(self, *args: Any, **kwargs: Any) -> None:  # noqa: N802
        pass


def _now(fn: Callable[..., Any], *args: Any) -> Any:
    """Stands in for deferToThread: a full buffer is committed at once, on this thread (there is no other)."""
    from twisted.internet import defer

    return defer.maybeDeferred(fn, *args)


def _rate(n: int, fn: Callable[[], Any]) -> float:
    """n / seconds of fn(), with the cyclic GC off while it runs (as timeit does)."""
    return n / timed(fn)


def _crossbar_cookie_store(path: str, sync: bool) -> Any:
    from crossbar.router.cookiestore import CookieStoreDatabaseBacked

    config = {"name": "cbtid", "length": 24, "max_age": 86400,
              "store": {"type": "database", "path": path, "sync": sync, "maxsize": 2**30}}
    return CookieStoreDatabaseBacked(path, config)


def _cfxstore_cookie_store(path: str, sync: bool, opened: list[Any] | None = None) -> Any:
    """cfxstore's store with the default settings (write-behind, cache_ttl 1 s), on a fresh backend.

    ``path`` is an LMDB directory or a PostgreSQL URL; the database handle is appended to ``opened``.
    """
    from cfxstore.router.cookiebackend import CookieBackend
    from cfxstore.router.cookiestore import CfxCookieStore
    from cfxstore.router.services import NodeServices

    config = CookieConfig(database=DatabaseConfig(path=path, sync=sync), max_age=86400)
    node = NodeServices(path, config.database)
    if opened is not None:
        opened.append(node.db)
    return CfxCookieStore(CookieBackend(node.cookies, config, _NoReactor(), defer_to_thread=_now), config)


def _bench_pg_cookies(base: str, sync: bool, n: int, rounds: int) -> dict[str, float]:
    """bench_cookies on PostgreSQL, in a fresh schema that is dropped afterwards."""
    url = in_schema(base, PG_SCHEMA)
    opened: list[Any] = []
    drop_schema(base, PG_SCHEMA)
    try:
        return bench_cookies(_cfxstore_cookie_store(url, sync, opened), n, rounds,
                             reopen=lambda: _cfxstore_cookie_store(url, sync, opened))
    finally:
        for db in opened:
            db.close()
        drop_schema(base, PG_SCHEMA)


def bench_cookies(store: Any, n: int, rounds: int, reopen: Callable[[], Any] | None = None) -> dict[str, float]:
    """Best ops/s over rounds of create, setAuth and the handshake pair exists+getAuth (cold, then warm)."""
    flush = getattr(getattr(store, "backend", None), "flush", lambda: None)
    values: list[str] = []

    def create() -> None:
        values.clear()
        for _ in range(n):
            values.append(store.create()[0])
        flush()

    def set_auth(tier: int) -> Callable[[], None]:
        def run() -> None:  # a new authextra each round, so every call writes
            for i, value in enumerate(values):
                store.setAuth(value, f"user{i}", "user", "ticket", {"tier": tier}, "realm1")
            flush()
        return run

    def handshake(reader: Any, some: list[str] | None = None) -> Callable[[], None]:
        def run() -> None:
            for value in values if some is None else some:
                if reader.exists(value):
                    reader.getAuth(value)
        return run

    rates = {"create": max(_rate(n, create) for _ in range(rounds)),
             "setAuth": max(_rate(n, set_auth(tier)) for tier in range(rounds))}
    # Cold: a store that has not seen the cookies (as after a restart), so every pair reads the database.
    readers = [reopen() if reopen else store for _ in range(rounds)]
    rates["exists+getAuth (cold)"] = max(_rate(n, handshake(reader)) for reader in readers)
    # Warm: the same cookies again at once (reconnects within cache_ttl), read a slice at a time right after
    # the slice was read once, so that no entry expires even where a cold pass over all n takes longer than it.
    def warm() -> float:
        reader, seconds = readers[-1], 0.0
        for i in range(0, n, WARM_SLICE):
            handshake(reader, values[i:i + WARM_SLICE])()
            seconds += timed(handshake(reader, values[i:i + WARM_SLICE]))
        return n / seconds

    rates["exists+getAuth (warm)"] = max(warm() for _ in range(rounds))
    return rates


class _Session:
    def __init__(self, session_id: int) -> None:
        self._session_id = session_id
        self._authid = f"user{session_id}"
        self._authrole = "user"
        self._realm = "realm1"


def _realm_stores(tmp: str, sync: bool) -> tuple[Any, Any, Any]:
    """Crossbar's memory store, cfxstore's with the same never-reached limit, and cfxstore's at its default."""
    from crossbar.router.realmstore import RealmStoreMemory

    from cfxstore.router.realmstore import CfxRealmStore

    history = [{"uri": "com.example.topic", "match": "exact"}]
    # A limit above the number of deliveries: Crossbar's memory store raises KeyError when it
    # purges a publication that was delivered to several receivers. cfxstore gets the same limit, so
    # both keep everything; the third store keeps its default limit and trims its history as it goes.
    unbounded = [{**rule, "limit": 10**9} for rule in history]
    memory = RealmStoreMemory(None, None, {"type": "memory", "event-history": history, "limit": 10**9})

    def cfx(name: str, rules: list[dict[str, Any]]) -> Any:
        return CfxRealmStore(None, None, {"type": "cfxstore", "path": os.path.join(tmp, name), "sync": sync,
                                          "event-history": rules}, reactor=_NoReactor(),
                             defer_to_thread=_now)

    return memory, cfx("realm", unbounded), cfx("trimmed", history)


def bench_deliveries(store: Any, publications: int, receivers: int) -> float:
    from autobahn.wamp.message import Publish

    from crossbar.router.observation import UriObservationMap

    subscriptions = UriObservationMap()
    store.attach_subscription_map(subscriptions)
    sub_id = subscriptions.get_observation("com.example.topic", "exact").id
    publisher = _Session(1)
    sessions = [_Session(100 + i) for i in range(receivers)]
    flush = getattr(store, "flush", lambda: None)

    def run() -> None:
        for pid in range(1, publications + 1):
            store.store_event(publisher, pid, Publish(1, "com.example.topic", args=[pid, "payload"]))
            for receiver in sessions:
                store.store_event_history(pid, sub_id, receiver)
        flush()

    return _rate(publications * receivers, run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.router.stores", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20000, help="cookies per operation (default 20000)")
    parser.add_argument("--rounds", type=int, default=3, help="each figure is the best of this many runs")
    parser.add_argument("--sync", choices=["both", "on", "off"], default="both")
    parser.add_argument("--publications", type=int, default=5000)
    parser.add_argument("--receivers", type=int, default=10)
    parser.add_argument("--postgres", nargs="?", type=server_url, const=default_url(), default=None, metavar="URL",
                        help="also run cfxstore's cookie store on PostgreSQL at URL")
    args = parser.parse_args(argv)

    import crossbar  # noqa: F401  (Crossbar's import-time shims)

    getattr(crossbar, "_import_serializers_quietly", lambda: None)()
    print(f"# cfxstore router bench: python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} cpu(s), n={args.n}, best of {args.rounds}")
    syncs = {"both": [True, False], "on": [True], "off": [False]}[args.sync]
    for sync in syncs:
        tmp = tempfile.mkdtemp(prefix="cfxstore-bench-")
        try:
            print(f"\n## cookie store, LMDB sync={'on' if sync else 'off'}")
            cb_path, cfx_path = os.path.join(tmp, "cb"), os.path.join(tmp, "cfx")
            crossbar_rates = bench_cookies(_crossbar_cookie_store(cb_path, sync), args.n, args.rounds)
            cfx_rates = bench_cookies(_cfxstore_cookie_store(cfx_path, sync), args.n, args.rounds,
                                      reopen=lambda: _cfxstore_cookie_store(cfx_path, sync))
            pg_rates = _bench_pg_cookies(args.postgres, sync, args.n, args.rounds) if args.postgres else {}
            print(f"{'op':<24}{'crossbar ops/s':>16}{'cfxstore ops/s':>16}{'ratio':>8}"
                  + (f"{'on postgres ops/s':>19}{'/crossbar':>10}{'/lmdb':>8}" if pg_rates else ""))
            for op, cb in crossbar_rates.items():
                cfx = cfx_rates[op]
                line = f"{op:<24}{cb:>16,.0f}{cfx:>16,.0f}{cfx / cb:>7.1f}x"
                if pg_rates:
                    pg = pg_rates[op]
                    line += f"{pg:>19,.0f}{pg / cb:>9.2f}x{pg / cfx:>7.2f}x"
                print(line)

            del crossbar_rates, cfx_rates, pg_rates
            gc.collect()  # the cookie runs leave many objects behind; keep GC pauses out of the next run
            print(f"\n## realm store: {args.publications} publications x {args.receivers} receivers, "
                  f"LMDB sync={'on' if sync else 'off'}")
            memory, cfx, trimmed = _realm_stores(tmp, sync)
            mem_rate = bench_deliveries(memory, args.publications, args.receivers)
            cfx_rate = bench_deliveries(cfx, args.publications, args.receivers)
            trim_rate = bench_deliveries(trimmed, args.publications, args.receivers)
            print(f"crossbar memory store (RAM only):   {mem_rate:>12,.0f} deliveries/s")
            print(f"cfxstore (LMDB, committed):         {cfx_rate:>12,.0f} deliveries/s  ({cfx_rate / mem_rate:.2f}x)")
            print(f"cfxstore, default limit (trimming): {trim_rate:>12,.0f} deliveries/s  "
                  f"({trim_rate / mem_rate:.2f}x)")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
