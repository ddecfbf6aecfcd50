"""A database behind a path that drops packets: the node notices within the URL's timeout and keeps serving.

The node reaches PostgreSQL through the test's proxy (pgproxy.py) with
``timeout=2`` in its URL. The proxy then black-holes: nothing sent comes
back, nothing is closed, new connections are never answered. A cold cookie
login gets no answer from the database; instead of waiting for TCP to give up
(many minutes) the node ends that request at the URL's timeout, refuses the
login with ``cfxstore.error.store_unavailable``, and an unrelated client's
call is answered meanwhile. Once the path carries packets again, the same
cookie logs in.
"""

from __future__ import annotations

import pytest

from router_harness import wait_for
from router_wampclient import Denied, leave, login
from test_cluster_e2e import _principal
from test_cluster_outage import _store_unavailable, pg_url, proxied_node, proxy  # noqa: F401 (its fixtures too)
from test_cookie_reads_off_reactor_e2e import _cold_cookie

PROCEDURE = "com.example.bystander.blackhole"
TIMEOUT = 2


def _stores(node):
    """Every config dict that names the node's database."""
    items = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    if isinstance(node, dict) and isinstance(node.get("path"), str) and node["path"].startswith("postgresql"):
        yield node
    for value in items:
        yield from _stores(value)


@pytest.fixture(scope="module")
def node(tmp_path_factory, pg_url, proxy):  # noqa: F811 (fixtures imported above)
    def configure(config: dict) -> None:
        for store in _stores(config):
            store["path"] = proxy.url() + f"&timeout={TIMEOUT}"

    yield from proxied_node(tmp_path_factory, pg_url, proxy, configure)


def test_a_black_holed_database_is_noticed_within_the_timeout_and_a_bystander_is_answered(
        reactor_thread, node, proxy, pg_url):  # noqa: F811
    rt = reactor_thread
    user = _principal(pg_url, "user")
    bystander = rt.call(login, node.port, authmethods=["ticket"], authid=user[0], ticket=user[1]).session
    rt.call(bystander.register, lambda n: n + 1, PROCEDURE)
    assert rt.call(bystander.call, PROCEDURE, 1) == 2
    cookie = _cold_cookie(pg_url, user[0])
    waiting: dict = {}
    proxy.blackhole()
    try:
        rt.call(lambda: waiting.update(login=login(node.port, authmethods=["cookie"], cookie=cookie)))
        assert rt.call(bystander.call, PROCEDURE, 41) == 42  # the reactor is not waiting for the database
        # Without an answer TCP would wait for many minutes; the node gives up at the URL's timeout.
        wait_for(lambda: waiting["login"].called, 10 * TIMEOUT, "the cookie login to be answered")
        refused = []
        waiting["login"].addErrback(lambda failure: refused.append(failure.value))
        assert refused and isinstance(refused[0], Denied) and _store_unavailable(refused[0], "cookie store")
        assert rt.call(bystander.call, PROCEDURE, 6) == 7
    finally:
        proxy.restore()

    def logs_in():
        try:
            return rt.call(login, node.port, authmethods=["cookie"], cookie=cookie)
        except Denied:
            return None

    joined = wait_for(logs_in, 30, "the cookie to log in once the path carries packets", interval=0.5)
    assert joined.details.authid == user[0]
    rt.call(leave, joined.session)
    rt.call(leave, bystander)
