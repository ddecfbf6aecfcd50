"""Worker processes for the PostgreSQL concurrency tests: python pg_workers.py URL N NAME [START] -> prints attempts.

START (a time.time() value) makes every worker open the database at that same moment.
"""

from __future__ import annotations

import json
import sys
import time

import orm


class Counters(orm.Schema):
    def attach(self, db: orm.Database) -> None:
        self.counters = orm.Map(1, key="uint32", value="uint64")
        self.log = orm.Map(2, key="str", value="uint64")


def main(url: str, n: int, name: str, start: float = 0.0) -> None:
    attempts = 0
    time.sleep(max(0.0, start - time.time()))
    with orm.Database(url) as db:
        s = Counters.attach(db)

        def bump(txn):
            nonlocal attempts
            attempts += 1
            value = (s.counters[txn, 1] or 0) + 1
            s.counters[txn, 1] = value
            s.log[txn, f"{name}-{value:08d}"] = value

        for _ in range(n):
            db.transact(bump, retries=1000)
    print(json.dumps({"attempts": attempts}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], *map(float, sys.argv[4:5]))
