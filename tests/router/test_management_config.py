"""Node config for the management realm and the authorizer: what the helpers write passes
Crossbar's check, and bad component "extra" is refused naming the key."""

from __future__ import annotations

import copy
import os

import pytest

from cfxstore.node.config import DEFAULT_DB_PATH
from cfxstore.node.errors import RouterConfigError
from cfxstore.node.nodeconfig import default_config
from cfxstore.router.components import DEFAULT_PREFIX, parse_extra
from cfxstore.router.managementconfig import AUTHORIZER_COMPONENT, MANAGEMENT_COMPONENT, add_authorizer, add_management

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
    from cfxstore.node.nodeconfig import load_config

    result = CliRunner().invoke(cli, ["router", "init", "--cbdir", str(tmp_path), "--management",
                                      "--store-role", "app"])
    assert result.exit_code == 0, result.output
    config = load_config(str(tmp_path))
    personality.Personality.check_config(personality.Personality, copy.deepcopy(config))
    worker = config["workers"][0]
    assert [r["name"] for r in worker["realms"]] == ["realm1", "mgmt"]
    assert {"name": "app", "authorizer": "cfxstore.authorize"} in worker["realms"][0]["roles"]
    assert {c["classname"] for c in worker["components"]} >= {MANAGEMENT_COMPONENT, AUTHORIZER_COMPONENT}


# -- the config check refuses a bad "extra" before Crossbar starts -----------------------------------



def _config():
    """A node config with both components; their indexes in the router's components."""
    config = add_authorizer(add_management(default_config()), realm="realm1", roles=["app"])
    names = [c["classname"] for c in config["workers"][0]["components"]]
    return config, names.index(MANAGEMENT_COMPONENT), names.index(AUTHORIZER_COMPONENT)


def _problems(config):
    from cfxstore.router.configcheck import config_problems

    return config_problems(personality.Personality, config)


BAD_EXTRAS = [
    ("yes", "extra"),
    ({"colour": "red"}, "extra.colour"),
    ({"path": ""}, "extra.path"),
    ({"path": 5}, "extra.path"),
    ({"prefix": "no.dot"}, "extra.prefix"),
    ({"prefix": 5}, "extra.prefix"),
    ({"procedure": ""}, "extra.procedure"),
    ({"store_realm": ["realm1"]}, "extra.store_realm"),
    ({"admin_roles": []}, "extra.admin_roles"),
    ({"admin_roles": "admin"}, "extra.admin_roles"),
    ({"admin_roles": ["admin", ""]}, "extra.admin_roles"),
]


@pytest.mark.parametrize("extra, key", BAD_EXTRAS)
@pytest.mark.parametrize("component", ["management", "authorizer"])
def test_the_config_check_names_each_bad_extra_key_of_either_component(extra, key, component):
    config, management, authorizer = _config()
    which = management if component == "management" else authorizer
    config["workers"][0]["components"][which]["extra"] = extra
    problems = _problems(config)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"workers[0].components[{which}].{key}: ")


def test_the_config_check_reports_every_bad_key_at_once():
    config, m, a = _config()
    config["workers"][0]["components"][m]["extra"] = {"prefix": "x", "admin_roles": [], "colour": 1}
    config["workers"][0]["components"][a]["extra"] = {"path": ""}
    keys = sorted(p.split(": ")[0] for p in _problems(config))
    assert keys == sorted([f"workers[0].components[{m}].extra.admin_roles", f"workers[0].components[{m}].extra.colour",
                           f"workers[0].components[{m}].extra.prefix", f"workers[0].components[{a}].extra.path"])


def test_a_config_from_add_management_and_other_components_pass_the_check():
    config, _, _ = _config()
    config["workers"][0]["components"].append({"type": "class", "classname": "example.Other", "realm": "realm1",
                                               "role": "app", "extra": {"colour": "red"}})
    assert _problems(config) == []


def test_router_check_and_start_refuse_a_bad_extra_naming_its_key(tmp_path):
    from cfxstore.node.process import PID_FILE
    from cfxstore.node.nodeconfig import load_config, write_config
    from router_harness import run_cli

    config, m, _ = _config()
    config["workers"][0]["components"][m]["extra"]["prefix"] = "cfxstore.mgmt"
    write_config(str(tmp_path), config)
    where = f"workers[0].components[{m}].extra.prefix"
    check = run_cli("router", "check", "--cbdir", str(tmp_path))
    assert check.returncode == 1 and where in check.stderr
    start = run_cli("router", "start", "--cbdir", str(tmp_path))
    assert start.returncode == 1 and where in start.stderr
    assert "Traceback" not in start.stderr
    assert load_config(str(tmp_path)) == config  # nothing written
    assert not (tmp_path / PID_FILE).exists() and not (tmp_path / "key.priv").exists()  # Crossbar never started
