"""A clean stop of a PostgreSQL node commits every login it acknowledged, at 0 and 7 ms from its database.

The node reaches PostgreSQL through the latency proxy (pgproxy.py). Clients
log in with tickets, 8 at a time from addresses of their own (the node
shares its credential checks out by client address); each login whose WELCOME came back (and
so whose cookie the client holds) is acknowledged. Right after the last one,
``cfxstore router stop`` stops the node. Writes are committed every 60 s
here (flush_ms, buffer-flush), so no timer commits the last logins before
the stop: the stop itself must.
"""

from __future__ import annotations

import pytest
from twisted.internet import defer

import pg
from cfxstore.cookies.service import CookieService
from cfxstore.database import open_database
from pgproxy import PgProxy
from router_harness import buffered, init_node, run_cli, running
from router_wampclient import Denied, login
from test_cluster_e2e import PASSWORD, _principal

LOGINS = 160
BUFFERED_MS = 60_000
AT_ONCE = 8


@pytest.fixture
def pg_url():
    yield from pg.private_url()


def _stored(pg_url: str, cookies: list[str], user: tuple[str, str]) -> list[str]:
    """The cookies logged in as user in the database."""
    with open_database(pg_url) as db:
        stored = CookieService(db)
        return [c for c in cookies if getattr(stored.lookup(c.partition("=")[2]), "authid", None) == user[0]]


@defer.inlineCallbacks
def _logins(port: int, user: tuple[str, str], n: int, at_once: int):
    """n ticket logins, at_once at a time; the cookie of each acknowledged one (connections stay open)."""
    cookies: list[str] = []
    todo = iter(range(n))

    @defer.inlineCallbacks
    def client(address: str):
        for _ in todo:
            while True:
                try:
                    result = yield login(port, authmethods=["ticket"], authid=user[0], ticket=user[1],
                                         bind=address)
                except Denied as exc:
                    if "busy" not in exc.message:  # the node sheds load: that login was not acknowledged
                        raise
                    continue
                cookies.append(result.cookie)
                break

    yield defer.gatherResults([client(f"127.0.0.{2 + i}") for i in range(at_once)], consumeErrors=True)
    return cookies


@pytest.mark.parametrize("rtt", [0.0, 0.007], ids=["0ms", "7ms"])
def test_a_clean_stop_commits_every_acknowledged_login(tmp_path, reactor_thread, pg_url, rtt):
    open_database(pg_url).close()
    user = _principal(pg_url, "user")
    proxy = PgProxy(pg_url.replace("://postgres@", f"://postgres:{PASSWORD}@"))
    proxy.latency = rtt
    try:
        node = init_node(tmp_path, pg.on_postgres(proxy.url()), buffered(BUFFERED_MS))
        with running(node):
            cookies = reactor_thread.call(_logins, node.port, user, LOGINS, AT_ONCE, timeout=600)
            stopped = run_cli("router", "stop", "--cbdir", str(tmp_path), timeout=120)
            assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    finally:
        proxy.close()
    assert len(cookies) == LOGINS and all(cookies)
    assert len(_stored(pg_url, cookies, user)) == LOGINS, "acknowledged logins missing after a clean stop"
    assert "cfxstore: stopping with" not in node.log()
