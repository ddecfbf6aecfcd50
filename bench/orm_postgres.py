"""PostgreSQL engine vs raw psycopg running the same statements on the same server, side by side.

    python -m bench.orm_postgres [URL] [N] [--counts 1000,10000,100000,1000000]

Each figure is the best of three alternating runs, in operations per second inside one transaction (put: N puts
then commit, which the engine sends as one multi-row upsert, and so does the raw side; get: N point reads; range: one ordered scan of N rows), so the
ratio is the engine's own cost over the statements it sends. URL defaults to
CFXSTORE_TEST_PG or postgresql://postgres@127.0.0.1:5432/test; it uses (and
drops) the schema ``bench_orm``.

Then ``count`` of a whole table as it grows through the --counts sizes, on
PostgreSQL (``count(*)``, O(n)) and on LMDB (a stored entry count, O(1)):
the best of five counts, each in its own read transaction, right after the
rows were written and again after ``VACUUM`` (which lets PostgreSQL answer
from the primary key index alone). --counts "" leaves this out.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import psycopg

import orm
from orm.engine.postgres import _Statements  # the engine's own SQL: the raw side sends exactly that

SCHEMA = "bench_orm"


def default_url() -> str:
    """The server the benchmarks use unless told: CFXSTORE_TEST_PG, else the local test database."""
    return os.environ.get("CFXSTORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def server_url(value: str) -> str:
    """An argparse type: a postgresql:// URL (anything else would name an LMDB directory)."""
    if not value.startswith(("postgresql://", "postgres://")):
        raise argparse.ArgumentTypeError("not a postgresql:// URL")  # the value may hold a password
    return value


def _sizes(value: str) -> list[int]:
    try:
        sizes = [int(size) for size in value.split(",") if size.strip()]
    except ValueError:
        sizes = [0]
    if any(size < 1 for size in sizes) or sizes != sorted(sizes):
        raise argparse.ArgumentTypeError(f"not positive row counts in ascending order, separated by commas: {value!r}")
    return sizes


def in_schema(base: str, schema: str) -> str:
    """The orm URL of ``schema`` on the server at ``base``."""
    return f"{base}{'&' if '?' in base else '?'}schema={schema}"


def drop_schema(base: str, schema: str) -> None:
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


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

        def put() -> None:  # what the engine sends: the puts of a transaction as one upsert
            conn.execute(b"BEGIN ISOLATION LEVEL SERIALIZABLE")
            cur.execute(sql.put_many, ([tab] * n, keys, values))
            conn.execute(b"COMMIT")

        def put_each() -> None:  # one upsert per put: the round trips the engine saves
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

        return {"put": _rate(n, put), "get": _rate(n, get), "range": _rate(n, scan), "put_each": _rate(n, put_each)}


class Bench(orm.Schema):
    def attach(self, db: orm.Database) -> None:
        self.t = orm.Map(1, key="uint64", value="bytes")
        self.c = orm.Map(2, key="uint64", value="bytes")


def _count_seconds(db: orm.Database, table: orm.Map, rows: int) -> float:
    """Best of five: seconds for one whole-table count in its own read transaction (checked equal to rows)."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        with db.begin() as txn:
            got = table.count(txn)
        best = min(best, time.perf_counter() - start)
        if got != rows:
            raise RuntimeError(f"count returned {got}, expected {rows}")
    return best


def _grow(db: orm.Database, table: orm.Map, have: int, rows: int) -> None:
    """Add keys have..rows-1 with 100-byte values, in transactions of 10,000."""
    for low in range(have, rows, 10_000):
        with db.begin(write=True) as txn:
            table.put_many(txn, [(i, os.urandom(100)) for i in range(low, min(low + 10_000, rows))])


def _plan(base: str, handle: str) -> str:
    """The scan PostgreSQL chooses to count the table with this engine handle."""
    with psycopg.connect(base, autocommit=True) as conn:
        plan = conn.execute(f"EXPLAIN (FORMAT JSON) {_Statements(SCHEMA).count}", (handle,)).fetchone()[0]
    node = plan[0]["Plan"]
    while node.get("Plans") and node["Node Type"] in ("Aggregate", "Gather", "Finalize Aggregate",
                                                      "Partial Aggregate"):
        node = node["Plans"][0]
    return node["Node Type"]


def counts(url: str, base: str, sizes: list[int]) -> None:
    """Print ms per whole-table count on PostgreSQL and µs per count on LMDB as the table grows."""
    print(f"\n{'count rows':>10} {'pg ms':>9} {'µs/1k rows':>11} {'pg ms vacuumed':>15} {'µs/1k rows':>11} "
          f"{'pg scan (vacuumed)':>20} {'lmdb µs':>8} {'pg/lmdb vacuumed':>17}")
    tmp = tempfile.TemporaryDirectory(prefix="bench-count-")
    with orm.Database(url) as pg, orm.Database(os.path.join(tmp.name, "db")) as lm, tmp:
        pg_table, lm_table = Bench.attach(pg).c, Bench.attach(lm).c
        empty_pg, empty_lm = _count_seconds(pg, pg_table, 0), _count_seconds(lm, lm_table, 0)
        print(f"{0:>10} {empty_pg * 1e3:>9.2f} {'-':>11} {'':>15} {'':>11} {'':>20} {empty_lm * 1e6:>8.1f}"
              "   (an empty table: the transaction's round trips)")
        have = 0
        for rows in sizes:
            _grow(pg, pg_table, have, rows)
            _grow(lm, lm_table, have, rows)
            have = rows
            fresh = _count_seconds(pg, pg_table, rows)
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f"VACUUM ANALYZE {SCHEMA}.kv")
            vacuumed = _count_seconds(pg, pg_table, rows)
            lmdb = _count_seconds(lm, lm_table, rows)
            per_k = 1e6 / (rows / 1000)
            print(f"{rows:>10,} {fresh * 1e3:>9.2f} {fresh * per_k:>11.1f} {vacuumed * 1e3:>15.2f} "
                  f"{vacuumed * per_k:>11.1f} {_plan(base, pg_table._h):>20} {lmdb * 1e6:>8.1f} "
                  f"{vacuumed / lmdb:>16,.0f}x")


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
    parser = argparse.ArgumentParser(prog="python -m bench.orm_postgres", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", type=server_url, default=default_url())
    parser.add_argument("n", nargs="?", type=int, default=5000, help="operations per put/get/range run")
    parser.add_argument("--counts", type=_sizes, default="1000,10000,100000,1000000",
                        help="ascending table sizes to count at")
    args = parser.parse_args()
    base, n, sizes = args.url, args.n, args.counts
    values = [os.urandom(100) for _ in range(n)]
    url = in_schema(base, SCHEMA)
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
        print(f"(raw psycopg with one upsert per put: {theirs['put_each']:,.0f}/s; the orm's puts are "
              f"{mine['put'] / theirs['put_each']:.1f}x that)")
        if sizes:
            counts(url, base, sizes)
    finally:
        drop_schema(base, SCHEMA)


if __name__ == "__main__":
    main()
