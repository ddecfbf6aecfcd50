"""PostgreSQL engine vs raw psycopg running the same statements on the same server, side by side.

    python -m orm.bench_postgres [URL] [N]

Each figure is the best of three alternating runs, in operations per second inside one transaction (put: N upserts
then commit; get: N point reads; range: one ordered scan of N rows), so the
ratio is the engine's own cost over the statements it sends. URL defaults to
CFXSTORE_TEST_PG or postgresql://postgres@127.0.0.1:5432/test; it uses (and
drops) the schema ``bench_orm``.
"""

from __future__ import annotations

import os
import sys
import time

import psycopg

import orm
from orm.engine.postgres import _Statements

SCHEMA = "bench_orm"


def _rate(n: int, fn) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def raw(base: str, n: int, values: list[bytes]) -> dict[str, float]:
    sql = _Statements(SCHEMA)
    with psycopg.connect(base, autocommit=True) as conn:
        cur = conn.cursor(binary=True)
        keys = [i.to_bytes(8, "big") for i in range(n)]
        tab = "slot:00001"

        def put() -> None:
            conn.execute(b"BEGIN ISOLATION LEVEL SERIALIZABLE")
            for k, v in zip(keys, values):
                cur.execute(sql.put, (tab, k, v))
            conn.execute(b"COMMIT")

        def get() -> None:
            conn.execute(b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1")
            for k in keys:
                cur.execute(sql.get, (tab, k)).fetchone()
            conn.execute(b"COMMIT")

        def scan() -> None:
            conn.execute(b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1")
            last, page = None, 64
            while True:
                if last is None:
                    rows = cur.execute(sql.page("", "", False), (tab, page)).fetchall()
                else:
                    rows = cur.execute(sql.page(">", "", False), (tab, last, page)).fetchall()
                if rows:
                    last = rows[-1][0]
                if len(rows) < page:
                    break
                page = min(page * 4, 4096)
            conn.execute(b"COMMIT")

        return {"put": _rate(n, put), "get": _rate(n, get), "range": _rate(n, scan)}


class Bench(orm.Schema):
    def attach(self, db: orm.Database) -> None:
        self.t = orm.Map(1, key="uint64", value="bytes")


def engine(url: str, n: int, values: list[bytes]) -> dict[str, float]:
    with orm.Database(url) as db:
        s = Bench.attach(db)

        def put() -> None:
            with db.begin(write=True) as txn:
                for i, v in enumerate(values):
                    s.t[txn, i] = v

        def get() -> None:
            with db.begin() as txn:
                for i in range(n):
                    s.t[txn, i]

        def scan() -> None:
            with db.begin() as txn:
                for _ in s.t.select(txn):
                    pass

        return {"put": _rate(n, put), "get": _rate(n, get), "range": _rate(n, scan)}


def main() -> None:
    base = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CFXSTORE_TEST_PG",
                                                                 "postgresql://postgres@127.0.0.1:5432/test")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    values = [os.urandom(100) for _ in range(n)]
    url = f"{base}{'&' if '?' in base else '?'}schema={SCHEMA}"
    try:
        engine(url, n, values)  # creates the schema and table the raw run uses, warms the server
        mine: dict[str, float] = {}
        theirs: dict[str, float] = {}
        for _ in range(3):  # alternate, best of three each: the machine is shared and noisy
            for best, run in ((mine, engine(url, n, values)), (theirs, raw(base, n, values))):
                for op, rate in run.items():
                    best[op] = max(best.get(op, 0.0), rate)
        print(f"{'op':8} {'orm postgres/s':>15} {'raw psycopg/s':>15} {'ratio':>7}")
        for op in ("put", "get", "range"):
            print(f"{op:8} {mine[op]:15,.0f} {theirs[op]:15,.0f} {mine[op] / theirs[op]:7.2f}")
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


if __name__ == "__main__":
    main()
