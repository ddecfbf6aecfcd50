"""ORM vs raw py-lmdb + cbor2, side by side in one process and one run.

    python -m bench.orm [--records 100000] [--rounds 5]

Prints ops/s for put (one transaction; ``tab[txn, k] = v`` and ``put_many``),
get, full range select and put into a table with one unique index, and the
ORM/raw ratios. Each figure is the best of --rounds runs. The ORM database
is opened with its defaults (the map reserved at its ceiling), raw py-lmdb
with a 2 GiB map; sync is off on both sides.

    python -m bench.orm --processes [--records 20000]

runs the multi-process benchmark instead (bench/orm_processes.py).
"""

from __future__ import annotations

import argparse
import gc
import shutil
import tempfile
import time
import uuid
from typing import Any, Callable

import cbor2
import lmdb

import orm
from bench import orm_processes
from bench.records import make_records

TARGETS = {"put": 0.9, "put_many": 0.9, "get": 0.9, "select": 0.9, "indexed put": 0.55}


class Bench(orm.Schema):
    def attach(self, db: orm.Database) -> None:
        self.plain = orm.MapUuidCbor(1)
        self.indexed = orm.MapUuidCbor(2)
        self.by_email = orm.MapStringUuid(3)
        self.indexed.attach_index("by_email", self.by_email, lambda r: r["email"])


def timed(fn: Callable[[], Any]) -> float:
    """Seconds fn() takes, with the cyclic GC off while it runs (as timeit does):
    its full passes over every object in the process would otherwise land at
    random in one side's run. The cfxstore benchmarks time with this too."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def best_pair(raw: Callable[[], None], orm_: Callable[[], None], rounds: int) -> tuple[float, float]:
    """Best time of each side, alternating them so both see the same machine load."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for side, fn in enumerate((raw, orm_)):
            times[side].append(timed(fn))
    return min(times[0]), min(times[1])


def run(n: int, rounds: int) -> dict[str, tuple[float, float]]:
    records = make_records(n)
    keys = [k for k, _ in records]
    tmp = tempfile.mkdtemp(prefix="orm-bench-")
    try:
        env = lmdb.open(f"{tmp}/raw", map_size=2**31, max_dbs=4, sync=False, metasync=False)
        raw = env.open_db(b"raw")
        db = orm.Database(f"{tmp}/orm", sync=False)
        s = Bench.attach(db)

        def raw_put() -> None:
            with env.begin(write=True) as txn:
                txn.drop(raw, delete=False)
            with env.begin(write=True) as txn:
                for k, v in records:
                    txn.put(k.bytes, cbor2.dumps(v), db=raw)

        def put_on(db: orm.Database, tab: orm.Map) -> Callable[[], None]:
            def put() -> None:
                with db.begin(write=True) as txn:
                    tab.truncate(txn)
                with db.begin(write=True) as txn:
                    for k, v in records:
                        tab[txn, k] = v
            return put

        def orm_put_many() -> None:
            with db.begin(write=True) as txn:
                s.plain.truncate(txn)
            with db.begin(write=True) as txn:
                s.plain.put_many(txn, records)

        def raw_get() -> None:
            with env.begin() as txn:
                for k in keys:
                    cbor2.loads(txn.get(k.bytes, db=raw))

        def orm_get() -> None:
            with db.begin() as txn:
                tab = s.plain
                for k in keys:
                    tab[txn, k]

        def raw_select() -> None:
            with env.begin() as txn:
                for k, v in txn.cursor(db=raw):
                    (uuid.UUID(bytes=k), cbor2.loads(v))

        def orm_select() -> None:
            with db.begin() as txn:
                for _ in s.plain.select(txn):
                    pass

        results = {
            "put": best_pair(raw_put, put_on(db, s.plain), rounds),
            "put_many": best_pair(raw_put, orm_put_many, rounds),
            "get": best_pair(raw_get, orm_get, rounds),
            "select": best_pair(raw_select, orm_select, rounds),
            "indexed put": best_pair(raw_put, put_on(db, s.indexed), rounds),
        }
        with db.begin() as txn:
            if s.plain.count(txn) != n or s.by_email.count(txn) != n:
                raise RuntimeError("benchmark wrote the wrong number of records")
        db.close()
        env.close()
        return results
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--processes", action="store_true", help="run the multi-process benchmark instead")
    args = ap.parse_args(argv)
    if args.processes:
        return orm_processes.main(["--records", str(args.records)])
    results = run(args.records, args.rounds)
    n = args.records
    print(f"{n} records, best of {args.rounds} rounds, sync off on both sides, gc off while timing")
    print(f"{'operation':<15}{'raw ops/s':>12}{'orm ops/s':>12}{'orm/raw':>9}{'target':>8}")
    for op, (raw_t, orm_t) in results.items():
        ratio, target = raw_t / orm_t, TARGETS[op]
        verdict = "" if target is None else f"{target:>7.2f} {'ok' if ratio >= target else 'MISS'}"
        print(f"{op:<15}{n / raw_t:>12,.0f}{n / orm_t:>12,.0f}{ratio:>9.2f}{verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
