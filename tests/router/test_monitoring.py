"""The health verdict, the write-behind's lag, the login outcome labels and the monitoring config."""

from __future__ import annotations

import pytest
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import Accept, Challenge, Deny
from twisted.internet.task import Clock

from cfxstore.node.config import DatabaseConfig, HealthConfig, parse_monitoring
from cfxstore.node.errors import RouterConfigError
from cfxstore.node.nodeconfig import default_config
from cfxstore.router import metrics, probe
from cfxstore.router.auth import BUSY, UNAVAILABLE, WRONG_TICKET
from cfxstore.router.availability import STORE_UNAVAILABLE, StoreUnavailable
from cfxstore.router.health import databases, health
from cfxstore.router.loginmetrics import outcome
from cfxstore.router.services import node_services
from cfxstore.router.throttle import Throttled
from cfxstore.router.writebehind import WriteBehind
from router_harness import wait_for


def _nothing(txn, args) -> None:
    """A write that writes nothing (its transaction still commits)."""


@pytest.fixture
def writer(tmp_path):
    path = str(tmp_path / "db")
    node = node_services(path, DatabaseConfig(path=path))
    # The writer a store would make, on a clock nobody advances: staged writes wait until flushed.
    w = node._writer = WriteBehind(node.db, delay=0.0, max_items=1000, reactor=Clock())
    name = next(name for name, db, found in databases() if found is w)
    return name, w


def _mine(name: str, config: HealthConfig) -> list[str]:
    status, body = health(config)
    assert (status == 200) == (body == {"status": "ok"})
    return [reason for reason in body.get("reasons", []) if reason.startswith(f"{name}:")]


def test_health_says_which_writer_falls_behind_and_recovers_once_it_commits(writer):
    name, w = writer
    assert w.lag() == 0.0 and _mine(name, HealthConfig(max_queue=1, max_lag=0.0)) == []
    w.append(_nothing, 1)
    w.append(_nothing, 2)
    assert _mine(name, HealthConfig(max_queue=1, max_lag=60.0)) == \
        [f"{name}: 2 writes waiting, more than max_queue 1"]
    # Staged with no delay and not committed: behind its schedule as soon as any time passes.
    wait_for(lambda: w.lag() > 0.0, 10, "time to pass")
    reasons = _mine(name, HealthConfig(max_queue=10, max_lag=0.0))
    assert len(reasons) == 1 and reasons[0].startswith(f"{name}: writes ") and reasons[0].endswith("max_lag 0 s")
    w.flush()
    assert len(w) == 0 and w.lag() == 0.0
    assert _mine(name, HealthConfig(max_queue=1, max_lag=0.0)) == []


def test_metrics_show_each_database_by_kind_never_by_path(writer, tmp_path):
    name, w = writer
    w.append(_nothing, 1)
    text = metrics.exposition().decode()
    assert f'cfxstore_writer_queue{{database="{name}"}} 1.0' in text
    assert f'cfxstore_database_up{{database="{name}"}} 1.0' in text
    assert str(tmp_path) not in text
    w.flush()


def test_a_probe_measures_a_round_trip_and_is_not_left_waiting(writer):
    name, w = writer
    assert probe.unanswered(w.db) == 0.0
    probe.start().probe(w.db)
    assert probe.last_round_trip(w.db) is not None and probe.last_round_trip(w.db) >= 0.0
    assert probe.unanswered(w.db) == 0.0
    text = metrics.exposition().decode()
    assert f'cfxstore_database_round_trip_seconds{{database="{name}"}}' in text


@pytest.mark.parametrize("answer, expected", [
    (Accept(authid="a", authrole="user", authmethod="ticket"), "success"),
    (Challenge("ticket"), None),
    (Deny(ApplicationError.AUTHENTICATION_FAILED, WRONG_TICKET), "failure"),
    (Deny(ApplicationError.NO_AUTH_METHOD, "cannot authenticate using any of the offered authmethods"), "failure"),
    (Deny(ApplicationError.AUTHENTICATION_FAILED, str(Throttled(3.0, "authid", locked=True))), "throttled"),
    (Deny(ApplicationError.AUTHENTICATION_FAILED, str(Throttled(0.1, "client", locked=False))), "throttled"),
    (Deny(ApplicationError.AUTHENTICATION_FAILED, BUSY), "busy"),
    (Deny(ApplicationError.AUTHENTICATION_FAILED, UNAVAILABLE), "error"),
    (Deny(STORE_UNAVAILABLE, StoreUnavailable("cookie store").text), "unavailable"),
    (Deny(message="internal error: boom"), "error"),
])
def test_each_final_answer_to_a_login_has_its_outcome(answer, expected):
    assert outcome(answer) == expected


def test_a_method_no_router_knows_is_counted_as_other():
    before = metrics.LOGINS.labels("other", "failure")._value.get()
    metrics.login("x" * 100, "failure")
    assert metrics.LOGINS.labels("other", "failure")._value.get() == before + 1


def test_monitoring_defaults():
    assert parse_monitoring({"type": "cfxstore-health"}, "paths.health") == HealthConfig()
    assert parse_monitoring({"type": "cfxstore-metrics"}, "paths.metrics") is None


@pytest.mark.parametrize("service, key", [
    ({"type": "cfxstore-health", "max_lag": -1}, "paths.h.max_lag"),
    ({"type": "cfxstore-health", "max_lag": "5"}, "paths.h.max_lag"),
    ({"type": "cfxstore-health", "max_queue": 0}, "paths.h.max_queue"),
    ({"type": "cfxstore-health", "max_queue": 1.5}, "paths.h.max_queue"),
    ({"type": "cfxstore-health", "colour": 1}, "paths.h.colour"),
    ({"type": "cfxstore-health", "max_wait": 0}, "paths.h.max_wait"),
    ({"type": "cfxstore-metrics", "max_lag": 5}, "paths.h.max_lag"),
])
def test_bad_monitoring_config_names_the_key(service, key):
    with pytest.raises(RouterConfigError) as e:
        parse_monitoring(service, "paths.h")
    assert e.value.key == key and key in str(e.value)


def test_the_node_config_check_names_a_bad_health_key_in_one_line():
    from cfxstore.router import personality  # Crossbar is optional (the router extra)
    from cfxstore.router.configcheck import config_problems

    config = default_config()
    ws = config["workers"][0]["transports"][0]
    config["workers"][0]["transports"][0] = {
        "type": "web", "endpoint": ws["endpoint"],
        "paths": {"ws": {"type": "websocket", "cookie": ws["cookie"], "auth": ws["auth"]},
                  "health": {"type": "cfxstore-health", "max_lag": -1}, "metrics": {"type": "cfxstore-metrics"}}}
    problems = config_problems(personality.Personality, config)
    assert len(problems) == 1 and "\n" not in problems[0]
    assert problems[0].startswith("workers[0].transports[0]: ") and "'paths.health.max_lag': must be >= 0" in problems[0]
    config["workers"][0]["transports"][0]["paths"]["health"]["max_lag"] = 2
    assert config_problems(personality.Personality, config) == []
