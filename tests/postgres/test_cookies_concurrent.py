"""Cookie writes from several processes at once on one PostgreSQL database: conflicts are retried, none lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cfxstore.cookies.service import CookieService

WORKER = str(Path(__file__).with_name("cookie_workers.py"))


def test_processes_creating_cookies_at_once_all_succeed_and_none_is_lost(pg_url):
    CookieService.open(pg_url).close()  # tables made once, so the workers race on cookies alone
    n, procs = 60, 4
    workers = [subprocess.Popen([sys.executable, WORKER, pg_url, str(n)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(procs)]
    try:
        for w in workers:
            assert w.stdout.readline() == "ready\n", w.stderr.read()[-3000:]
        for w in workers:  # all start writing together
            w.stdin.write("go\n")
            w.stdin.flush()
        made = []
        for w in workers:
            out, err = w.communicate(timeout=240)
            assert w.returncode == 0, err[-3000:]
            made += json.loads(out)
    finally:
        for w in workers:
            w.kill()
            w.wait(10)
    assert len(made) == n * procs
    with CookieService.open(pg_url, readonly=True) as cookies:
        for value, oid in made:
            assert str(cookies.lookup(value).oid) == oid
        assert len(cookies.cookies_by_authid("shared")) == procs * n // 2
        with cookies.db.begin() as txn:
            assert cookies.schema.cookies.count(txn) == n * procs
