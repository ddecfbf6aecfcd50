"""ORM vs raw py-lmdb + cbor2 with several processes on one database.

    python -m bench.orm_processes [--records 20000] [--rounds 3] [--batch 100]
    (or: python -m bench.orm --processes)

With 2 and 4 processes, each process writes --records records of its own
(transactions of --batch puts, as writers sharing a database commit often)
and then reads them back one get at a time. A round's figure is all
processes' operations over the wall time from a common start to the last
one done; each figure is the best of --rounds rounds, ORM and raw rounds
alternating. Sync is off on both sides; each side gets a fresh database
per round.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from typing import Any

import cbor2
import lmdb

from bench.records import make_records

SIDES = ("raw", "orm")


def _worker(side: str, path: str, n: int, batch: int, start: Any, done: Any) -> None:
    records = make_records(n)
    keys = [k for k, _ in records]
    if side == "raw":
        env = lmdb.open(path, map_size=2**31, max_dbs=4, sync=False, metasync=False)
        h = env.open_db(b"raw")
        start.wait()
        for i in range(0, n, batch):
            with env.begin(write=True) as txn:
                for k, v in records[i:i + batch]:
                    txn.put(k.bytes, cbor2.dumps(v), db=h)
        with env.begin() as txn:
            for k in keys:
                cbor2.loads(txn.get(k.bytes, db=h))
        env.close()
    else:
        import orm

        db = orm.Database(path, sync=False)
        tab = orm.MapUuidCbor(1)
        db.attach_tables([("records", tab)])
        start.wait()
        for i in range(0, n, batch):
            with db.begin(write=True) as txn:
                for k, v in records[i:i + batch]:
                    tab[txn, k] = v
        with db.begin() as txn:
            for k in keys:
                tab[txn, k]
        db.close()
    done.put(os.getpid())


def one_round(side: str, processes: int, n: int, batch: int) -> float:
    """Seconds from the common start until every process is done."""
    ctx = mp.get_context("spawn")
    tmp = tempfile.mkdtemp(prefix="orm-bench-mp-")
    try:
        path = os.path.join(tmp, side)
        if side == "orm":  # created up front, so no process times the catalog's creation
            import orm
            with orm.Database(path) as db:
                db.attach_tables([("records", orm.MapUuidCbor(1))])
        else:
            lmdb.open(path, map_size=2**31, max_dbs=4).close()
        start, done = ctx.Barrier(processes + 1), ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(side, path, n, batch, start, done)) for _ in range(processes)]
        for p in procs:
            p.start()
        start.wait(timeout=120)
        t0 = time.perf_counter()
        for _ in procs:
            done.get(timeout=600)
        elapsed = time.perf_counter() - t0
        for p in procs:
            p.join(60)
            if p.exitcode != 0:
                raise RuntimeError(f"a {side} benchmark process failed (exit code {p.exitcode})")
        return elapsed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(n: int, rounds: int, batch: int, counts: tuple[int, ...] = (2, 4)) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    for processes in counts:
        best = {side: float("inf") for side in SIDES}
        for _ in range(rounds):
            for side in SIDES:
                best[side] = min(best[side], one_round(side, processes, n, batch))
        out[processes] = {side: 2 * n * processes / best[side] for side in SIDES}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20_000, help="records per process")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=100, help="puts per write transaction")
    args = ap.parse_args(argv)
    results = run(args.records, args.rounds, args.batch)
    print(f"{args.records} records per process written ({args.batch} per transaction) and read back; "
          f"best of {args.rounds} rounds, sync off on both sides")
    print(f"{'processes':<11}{'raw ops/s':>12}{'orm ops/s':>12}{'orm/raw':>9}")
    for processes, rates in results.items():
        print(f"{processes:<11}{rates['raw']:>12,.0f}{rates['orm']:>12,.0f}{rates['orm'] / rates['raw']:>9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
