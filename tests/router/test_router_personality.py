"""The personality accepts cfxstore items and rejects bad ones when the node config is checked."""

from __future__ import annotations

import copy

import pytest

from cfxstore.node.nodeconfig import default_config

personality = pytest.importorskip("cfxstore.router.personality")
from crossbar.common.checkconfig import InvalidConfigException  # noqa: E402

Personality = personality.Personality


def check(config: dict) -> None:
    Personality.check_config(Personality, copy.deepcopy(config))


def worker(config: dict) -> dict:
    return config["workers"][0]


def test_default_config_is_valid():
    check(default_config())


def test_router_workers_honour_the_strict_match_realm_option():
    from cfxstore.router.strictmatch import StrictRouterController

    assert issubclass(Personality.native_workers["router"]["worker_class"], StrictRouterController)
    config = default_config()
    worker(config)["realms"][0]["options"]["strict_match"] = False
    check(config)


def test_crossbar_store_types_still_work():
    config = default_config()
    worker(config)["transports"][0]["cookie"]["store"] = {"type": "memory"}
    worker(config)["realms"][0]["store"] = {"type": "memory"}
    check(config)


@pytest.mark.parametrize("edit, key", [
    (lambda w: w["transports"][0]["cookie"]["store"].update(flush_ms="fast"), "cookie.store.flush_ms"),
    (lambda w: w["realms"][0]["store"].update({"event-history": [{"uri": "a", "match": "glob"}]}),
     "store.event-history[0].match"),
    (lambda w: w["transports"][0]["auth"]["ticket"]["config"].update(throttle={"free_failures": -1}),
     "auth.ticket.config.throttle.free_failures"),
    (lambda w: w["components"][0]["extra"].update(allowed_roles=[]), "components[].extra.allowed_roles"),
    (lambda w: w["realms"][0]["options"].update(strict_match="yes"), "realms[realm1].options.strict_match"),
])
def test_bad_items_fail_the_check_naming_the_key(edit, key):
    config = default_config()
    edit(worker(config))
    with pytest.raises(InvalidConfigException) as e:
        check(config)
    assert key in str(e.value)
