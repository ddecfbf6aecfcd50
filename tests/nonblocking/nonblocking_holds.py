"""Databases held locked by another process or connection while a pooled call waits for them."""

from __future__ import annotations

import contextlib
import dataclasses
import select
import subprocess
import sys
import time
from typing import Any, Callable, ContextManager, Iterator
from urllib.parse import parse_qs, urlsplit

import pg
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.nonblocking import ServicePool


@dataclasses.dataclass(frozen=True)
class Held:
    """A database (path or URL), a way to hold it locked for a block, and whether a pool's call waits for that."""

    url: str
    hold: Callable[[], ContextManager[None]]
    waits: Callable[[ServicePool], bool]

def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll until condition() is truthy; fail the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)
    return result


#: Run by another process: hold the LMDB write lock of the database at argv[1] until stdin closes.
HOLD_LMDB = """
import sys
from cfxstore.database import open_database
db = open_database(sys.argv[1])
txn = db.begin(write=True)
print("locked", flush=True)
sys.stdin.read()
txn.abort()
db.close()
"""


@contextlib.contextmanager
def lmdb_write_lock(path: str) -> Iterator[None]:
    """Another process holds the write lock of the LMDB database at path for the block."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LMDB, path], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([holder.stdout], [], [], 60)
        assert ready and holder.stdout.readline().strip() == "locked", "the other process did not take the lock"
        yield
    finally:
        holder.stdin.close()
        holder.wait(30)


@contextlib.contextmanager
def pg_row_lock(url: str) -> Iterator[None]:
    """Another connection's open write through Management holds, for the block, the rows every management
    write updates (the change feed's sequence): a write through any other connection waits for it."""
    with open_database(url) as db:
        txn = db.begin(write=True)
        try:
            Management(db).roles.create(txn, name="holds-the-lock")
            yield
        finally:
            txn.commit()


def waits_for_a_lock(url: str) -> bool:
    """True while a statement on url's schema waits for a lock another transaction holds."""
    import psycopg

    schema = parse_qs(urlsplit(url).query)["schema"][0]
    with psycopg.connect(pg.URL, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                           "AND position(%s in query) > 0", (schema,)).fetchone()
    return bool(row and row[0])
