"""Worker processes for the concurrency tests: ``python workers.py COMMAND DB ARGS...``.

Each prints one JSON line with what it saw. ``--small-map`` caps the
process's address space first, so the LMDB engine cannot reserve its
ceiling and starts at a 1 MiB map that must grow (and must adopt the map
other processes grew).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
import uuid

ACCOUNTS = 20
START_BALANCE = 1000


def cap_address_space() -> None:
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            vm = int(line.split()[1]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm + (1 << 30), resource.RLIM_INFINITY))


if "--small-map" in sys.argv:
    sys.argv.remove("--small-map")
    import lmdb  # noqa: F401  (mapped before the cap)
    cap_address_space()

import orm  # noqa: E402


class Bank(orm.Schema):
    def attach(self, db):
        self.accounts = orm.Map(1, key="uint64", value="cbor")
        self.padding = orm.Map(2, key="str", value="bytes")
        self.people = orm.Map(3, key="uuid", value="cbor")
        self.by_email = orm.Map(4, key="str", value="uuid")
        self.people.attach_index("by_email", self.by_email, lambda r: r["email"])


def open_db(path: str) -> tuple[orm.Database, Bank]:
    db = orm.Database(path, maxsize=1 << 20)
    return db, Bank.attach(db)


def setup(path: str) -> dict:
    db, s = open_db(path)
    with db.begin(write=True) as txn:
        for i in range(ACCOUNTS):
            s.accounts[txn, i] = {"balance": START_BALANCE}
        s.accounts[txn, 1000] = {"counter": 0}
    db.close()
    return {"ok": True}


def pad(s: Bank, txn, tag: str, size: int) -> None:
    s.padding[txn, tag] = os.urandom(size)


def counter(path: str, n: str, padding: str) -> dict:
    """n read-modify-write increments of one counter, each with `padding` bytes of new data."""
    db, s = open_db(path)
    start_map = db.stats()["map_size"]
    attempts = 0

    def increment(txn):
        nonlocal attempts
        attempts += 1
        rec = s.accounts[txn, 1000]
        rec["counter"] += 1
        s.accounts[txn, 1000] = rec
        if int(padding):
            pad(s, txn, f"{os.getpid()}-{rec['counter']}", int(padding))

    for _ in range(int(n)):
        db.transact(increment, retries=10)
    out = {"start_map": start_map, "end_map": db.stats()["map_size"], "attempts": attempts}
    db.close()
    return out


def transfer(path: str, n: str, padding: str, readers: str) -> dict:
    """n transfers between accounts (the sum stays constant) while `readers` threads check the sum."""
    db, s = open_db(path)
    start_map = db.stats()["map_size"]
    stop = threading.Event()
    seen: list[int] = []
    errors: list[str] = []

    def read() -> None:
        while not stop.is_set():
            try:
                with db.begin() as txn:
                    seen.append(sum(s.accounts[txn, i]["balance"] for i in range(ACCOUNTS)))
            except Exception as exc:  # reported, not raised: the parent asserts there are none
                errors.append(f"{type(exc).__module__}.{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=read) for _ in range(int(readers))]
    for t in threads:
        t.start()

    def move(txn, i: int) -> None:
        a, b = i % ACCOUNTS, (i * 7 + 3) % ACCOUNTS
        ra, rb = s.accounts[txn, a], s.accounts[txn, b]
        ra["balance"] -= 5
        s.accounts[txn, a] = ra
        if int(padding):
            pad(s, txn, f"{os.getpid()}-{i}", int(padding))
        rb = s.accounts[txn, b]
        rb["balance"] += 5
        s.accounts[txn, b] = rb

    try:
        for i in range(int(n)):
            db.transact(lambda txn: move(txn, i), retries=10)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    out = {"start_map": start_map, "end_map": db.stats()["map_size"], "sums": sorted(set(seen)),
           "reads": len(seen), "errors": errors[:5]}
    db.close()
    return out


def reader(path: str, seconds: str, reopen: str) -> dict:
    """Check the accounts' sum for `seconds`, reopening the database each time if asked."""
    sums: set[int] = set()
    errors: list[str] = []
    reads = 0
    deadline = time.monotonic() + float(seconds)
    db, s = open_db(path)
    while time.monotonic() < deadline:
        try:
            if int(reopen):
                db.close()
                db, s = open_db(path)
                db.stats()
            with db.begin() as txn:
                sums.add(sum(s.accounts[txn, i]["balance"] for i in range(ACCOUNTS)))
                s.padding.count(txn)
            reads += 1
        except Exception as exc:
            errors.append(f"{type(exc).__module__}.{type(exc).__name__}: {exc}")
    out = {"sums": sorted(sums), "reads": reads, "errors": errors[:5], "map": db.stats()["map_size"]}
    db.close()
    return out


def grow(path: str, n: str, size: str) -> dict:
    """n transactions of `size` new bytes each: the database grows past small maps."""
    db, s = open_db(path)
    for i in range(int(n)):
        db.transact(lambda txn: pad(s, txn, f"grow-{os.getpid()}-{i}", int(size)))
    db.close()
    return {"ok": True}


def unique(path: str, n: str, padding: str) -> dict:
    """Insert people whose emails collide with other processes'; count the refusals."""
    db, s = open_db(path)
    inserted = refused = 0
    for i in range(int(n)):
        def put(txn):
            s.people[txn, uuid.uuid4()] = {"email": f"user{i}@example.com", "pid": os.getpid()}
            if int(padding):
                pad(s, txn, f"u-{os.getpid()}-{i}", int(padding))
        try:
            db.transact(put, retries=10)
            inserted += 1
        except orm.UniqueViolation:
            refused += 1
    db.close()
    return {"inserted": inserted, "refused": refused}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    print(json.dumps(globals()[command](*args)), flush=True)
