"""Node config for the management realm and the authorizer: what the helpers write passes
Crossbar's check, and bad component "extra" is refused naming the key."""

from __future__ import annotations

import copy
import os

import pytest

from cfxstore.router.components import DEFAULT_PREFIX, parse_extra
from cfxstore.router.config import DEFAULT_DB_PATH
from cfxstore.router.errors import RouterConfigError
from cfxstore.router.managementconfig import AUTHORIZER_COMPONENT, MANAGEMENT_COMPONENT, add_authorizer, add_management
from cfxstore.router.nodeconfig import default_config

personality = pytest.importorskip("cfxstore.router.personality")


def test_the_helpers_write_a_config_crossbar_accepts():
    config = add_authorizer(add_management(default_config()), realm="realm1", roles=["app", "user"])
    personality.Personality.check_config(personality.Personality, copy.deepcopy(config))
    worker = config["workers"][0]
    realm1 = next(r for r in worker["realms"] if r["name"] == "realm1")
    assert {"name": "user", "authorizer": "cfxstore.authorize"} in realm1["roles"]
    assert {c["classname"] for c in worker["components"]} >= {MANAGEMENT_COMPONENT, AUTHORIZER_COMPONENT}
    mgmt = next(r for r in worker["realms"] if r["name"] == "mgmt")
    admin = next(r for r in mgmt["roles"] if r["name"] == "admin")
    assert admin["permissions"][0]["disclose"]["caller"] is True  # the component checks the caller's role


def test_extra_defaults_and_paths_relative_to_the_node_directory():
    config = parse_extra({"cbdir": "/srv/node"})
    assert config.path == os.path.join("/srv/node", DEFAULT_DB_PATH)
    assert config.prefix == DEFAULT_PREFIX and config.admin_roles == frozenset({"admin"})
    assert parse_extra({"path": "/abs/db", "cbdir": "/srv/node"}).path == "/abs/db"


@pytest.mark.parametrize("extra, key", [
    ("yes", "components[].extra"),
    ({"colour": "red"}, "extra.colour"),
    ({"path": ""}, "extra.path"),
    ({"prefix": "no.dot"}, "extra.prefix"),
    ({"prefix": 5}, "extra.prefix"),
    ({"admin_roles": []}, "extra.admin_roles"),
    ({"admin_roles": "admin"}, "extra.admin_roles"),
    ({"procedure": ""}, "extra.procedure"),
])
def test_bad_extra_is_refused_naming_the_key(extra, key):
    with pytest.raises(RouterConfigError) as info:
        parse_extra(extra)
    assert key in str(info.value)


def test_router_init_adds_the_management_realm_and_store_roles(tmp_path):
    from click.testing import CliRunner

    from cfxstore.cli.main import cli
    from cfxstore.router.nodeconfig import load_config

    result = CliRunner().invoke(cli, ["router", "init", "--cbdir", str(tmp_path), "--management",
                                      "--store-role", "app"])
    assert result.exit_code == 0, result.output
    config = load_config(str(tmp_path))
    personality.Personality.check_config(personality.Personality, copy.deepcopy(config))
    worker = config["workers"][0]
    assert [r["name"] for r in worker["realms"]] == ["realm1", "mgmt"]
    assert {"name": "app", "authorizer": "cfxstore.authorize"} in worker["realms"][0]["roles"]
    assert {c["classname"] for c in worker["components"]} >= {MANAGEMENT_COMPONENT, AUTHORIZER_COMPONENT}
