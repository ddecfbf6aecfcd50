"""How `router adopt` plans the move of static cryptosign principals (no processes: the plan and its refusals)."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey

from cfxstore.router.adopt import AdoptError, plan


def pubkey() -> str:
    return SigningKey.generate().verify_key.encode().hex()


def config(cryptosign: dict, realms: tuple[str, ...] = ("realm1",)) -> dict:
    return {"version": 2, "workers": [{
        "type": "router", "realms": [{"name": r, "roles": []} for r in realms],
        "transports": [{"type": "websocket", "endpoint": {"type": "tcp", "port": 8080},
                        "auth": {"cryptosign": cryptosign}}]}]}


def test_a_static_principal_without_a_realm_joins_the_one_realm_of_its_worker(tmp_path):
    key = pubkey()
    todo = plan(config({"type": "static", "principals": {"dev": {"role": "device",
                                                                 "authorized_keys": [key.upper()]}}}), str(tmp_path))
    [p] = todo.principals
    assert (p.realm, p.authid, p.role, p.method, p.pubkeys) == ("realm1", "dev", "device", "cryptosign", (key,))
    assert todo.config["workers"][0]["transports"][0]["auth"]["cryptosign"]["type"] == "function"


@pytest.mark.parametrize("principal, realms, error", [
    ({"role": "device", "authorized_keys": ["ab"]}, ("realm1",), r"\['dev'\]\.authorized_keys\[0\]: expected 64 hex"),
    ({"role": "device", "authorized_keys": []}, ("realm1",), "authorized_keys is missing or empty"),
    ({"authorized_keys": ["ab" * 32]}, ("realm1",), "has no role"),
    ({"role": "device", "authorized_keys": ["ab" * 32]}, ("realm1", "realm2"), "names no realm and its router "
                                                                              "worker has 2"),
])
def test_principals_cfxstore_cannot_hold_are_refused_naming_the_field(tmp_path, principal, realms, error):
    with pytest.raises(AdoptError, match=error):
        plan(config({"type": "static", "principals": {"dev": principal}}, realms), str(tmp_path))


def test_a_static_item_with_trustroots_is_left_as_it_is(tmp_path):
    item = {"type": "static", "trustroots": {"realm1": {"certificate": "root.json"}}}
    todo = plan(config(item), str(tmp_path))
    assert todo.principals == [] and todo.config["workers"][0]["transports"][0]["auth"]["cryptosign"] == item
