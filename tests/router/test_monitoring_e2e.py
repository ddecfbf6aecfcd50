"""The health and metrics paths of a router node on PostgreSQL, reached through a proxy the tests cut.

The node serves WAMP, its health and its metrics on one Web transport
(paths "ws", "health" and "metrics"), as a load balancer and Prometheus see it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from router_harness import wait_for
from router_wampclient import Denied, leave, login
from test_cluster_e2e import PASSWORD, _principal
from test_cluster_outage import pg_url, proxied_node, proxy  # noqa: F401 (fixtures: a private schema behind a proxy)


@pytest.fixture(scope="module")
def node(tmp_path_factory, reactor_thread, pg_url, proxy):
    def configure(config: dict) -> None:
        worker = config["workers"][0]
        ws = worker["transports"][0]
        for method in ws["auth"].values():  # one config for all methods (Crossbar keeps the first it meets)
            if "config" in method:
                # A principal's first failed login locks it for minutes: its next attempt is a throttle refusal.
                method["config"]["throttle"] = {"free_failures": 0, "base_delay": 300, "max_delay": 300}
        worker["transports"][0] = {
            "type": "web", "endpoint": ws["endpoint"],
            "paths": {"ws": {"type": "websocket", "cookie": ws["cookie"], "auth": ws["auth"]},
                      "health": {"type": "cfxstore-health", "max_lag": 5, "max_wait": 1},
                      "metrics": {"type": "cfxstore-metrics"}},
        }

    yield from proxied_node(tmp_path_factory, pg_url, proxy, configure)


def _get(node, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.port}/{path}", timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _health(node) -> tuple[int, dict]:
    status, body = _get(node, "health")
    return status, json.loads(body)


def _samples(node) -> dict[tuple[str, tuple], float]:
    status, body = _get(node, "metrics")
    assert status == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def _logins(samples, method: str, outcome: str) -> float:
    return samples.get(("cfxstore_logins_total", (("method", method), ("outcome", outcome))), 0.0)


def _login(rt, node, **kwargs):
    return rt.call(login, node.port, path="ws", **kwargs)


def test_health_is_ok_while_the_database_answers_and_unavailable_while_it_is_cut(node, proxy):
    assert _health(node) == (200, {"status": "ok"})
    proxy.cut()
    try:
        status, body = wait_for(lambda: (lambda h: h if h[0] == 503 else None)(_health(node)), 15,
                                "the health path to say the database is unreachable", interval=0.1)
        assert body["status"] == "unavailable"
        assert any(reason.endswith("database unreachable") for reason in body["reasons"]), body
        assert PASSWORD not in json.dumps(body) and "127.0.0.1" not in json.dumps(body)
        assert _samples(node)[("cfxstore_database_up", (("database", "postgresql0"),))] == 0.0
    finally:
        proxy.restore()
    wait_for(lambda: _health(node)[0] == 200, 30, "the health path to be ok again", interval=0.1)
    assert _samples(node)[("cfxstore_database_up", (("database", "postgresql0"),))] == 1.0


def test_health_is_unavailable_while_the_database_does_not_answer_at_all(node, proxy):
    assert _health(node) == (200, {"status": "ok"})
    proxy.stall()  # no error, no answer: only the probe waiting for its answer tells
    try:
        status, body = wait_for(lambda: (lambda h: h if h[0] == 503 else None)(_health(node)), 30,
                                "the health path to say the database does not answer", interval=0.1)
        assert any(" database not answering for " in reason or reason.endswith("database unreachable")
                   for reason in body["reasons"]), body
    finally:
        proxy.restore()
    wait_for(lambda: _health(node)[0] == 200, 30, "the health path to be ok again", interval=0.1)


def test_metrics_count_ticket_and_cookie_logins_by_outcome(reactor_thread, node, pg_url):
    authid, ticket = _principal(pg_url, "user")
    before = _samples(node)
    first = _login(reactor_thread, node, authmethods=["ticket"], authid=authid, ticket=ticket)
    with pytest.raises(Denied):
        _login(reactor_thread, node, authmethods=["ticket"], authid=authid, ticket=ticket + "x")
    again = _login(reactor_thread, node, authmethods=["cookie"], cookie=first.cookie)
    assert again.details.authmethod == "cookie"
    with pytest.raises(Denied):
        _login(reactor_thread, node, authmethods=["cookie"], cookie="cbtid=" + "A" * 24)
    after = _samples(node)
    for method, outcome in (("ticket", "success"), ("ticket", "failure"), ("cookie", "success"),
                            ("cookie", "failure")):
        assert _logins(after, method, outcome) == _logins(before, method, outcome) + 1, (method, outcome)
    hits = ("cfxstore_cookie_cache_lookups_total", (("result", "hit"),))
    misses = ("cfxstore_cookie_cache_lookups_total", (("result", "miss"),))
    assert after.get(hits, 0) + after.get(misses, 0) > before.get(hits, 0) + before.get(misses, 0)
    assert ("cfxstore_writer_queue", (("database", "postgresql0"),)) in after
    assert ("cfxstore_writer_lag_seconds", (("database", "postgresql0"),)) in after
    wait_for(lambda: ("cfxstore_database_round_trip_seconds", (("database", "postgresql0"),)) in _samples(node),
             30, "a probe of the database")
    for result in (first, again):
        reactor_thread.call(leave, result.session)


def test_metrics_count_a_throttle_refusal(reactor_thread, node, pg_url):
    authid, ticket = _principal(pg_url, "user")
    before = _samples(node)
    for _ in range(2):
        with pytest.raises(Denied):
            _login(reactor_thread, node, authmethods=["ticket"], authid=authid, ticket=ticket + "x")
    after = _samples(node)
    assert _logins(after, "ticket", "failure") == _logins(before, "ticket", "failure") + 1
    assert _logins(after, "ticket", "throttled") == _logins(before, "ticket", "throttled") + 1
    refusals = ("cfxstore_throttle_refusals_total", (("method", "ticket"),))
    assert after[refusals] == before.get(refusals, 0.0) + 1
