"""`router adopt` moves a stock node's static WAMP-SCRAM and TLS principals into the store as they are."""

from __future__ import annotations

import json

import pytest
from autobahn.wamp.auth import derive_scram_credential

from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.node.nodeconfig import AUTHENTICATOR
from cfxstore.router.adopt import DB_PATH, AdoptError, adopt

SAM = derive_scram_credential("sam@example.com", "sam's password")
SHA1 = ":".join(["0F"] * 20)  # as Crossbar's peer_cert details give it


def stock_config(scram_principal: dict, tls_principal: dict) -> dict:
    auth = {"scram": {"type": "static", "principals": {"sam": scram_principal}},
            "tls": {"type": "static", "principals": {"device": tls_principal}}}
    return {"version": 2, "controller": {},
            "workers": [{"type": "router",
                         "realms": [{"name": "realm1", "roles": [{"name": "user", "permissions": []}]},
                                    {"name": "realm2", "roles": [{"name": "user", "permissions": []}]}],
                         "transports": [{"type": "websocket", "endpoint": {"type": "tcp", "port": 8080},
                                         "auth": auth}]}]}


@pytest.fixture
def cbdir(tmp_path):
    node = tmp_path / "node"
    node.mkdir()
    return node


def write(cbdir, config: dict) -> None:
    (cbdir / "config.json").write_text(json.dumps(config))


def stored(cbdir, method: str, realm: str, authid: str):
    with open_database(str(cbdir / DB_PATH), readonly=True) as db:
        found = CredentialService(db).stored_credential(method, realm, authid)
        return None if found is None else (found[0].role, found[1])


def credential_times(cbdir) -> list:
    with open_database(str(cbdir / DB_PATH), readonly=True) as db:
        schema = CredentialService(db).schema
        with db.begin() as txn:
            creds = schema.credentials.select(txn, return_keys=False)
            return sorted((c.authmethod, c.realm, c.modified) for c in creds)


def test_static_scram_and_tls_principals_move_into_the_store_for_every_realm(cbdir):
    write(cbdir, stock_config({**SAM, "role": "user"}, {"certificate-sha1": SHA1, "role": "user"}))
    report = adopt(str(cbdir))
    for realm in ("realm1", "realm2"):
        assert stored(cbdir, "scram", realm, "sam") == ("user", SAM)
        assert stored(cbdir, "tls", realm, "device") == ("user", {"sha1": "0f" * 20})
    auth = json.loads((cbdir / "config.json").read_text())["workers"][0]["transports"][0]["auth"]
    assert auth["scram"]["create"] == auth["tls"]["create"] == AUTHENTICATOR
    assert any("static scram principal(s) -> credential store (as stored)" in c for c in report.changes)
    assert sum("principal 'device'" in p for p in report.principals) == 2


def test_the_adopted_certificate_identifies_its_principal(cbdir):
    write(cbdir, stock_config({**SAM, "role": "user"}, {"certificate-sha1": SHA1, "role": "user"}))
    adopt(str(cbdir))
    with open_database(str(cbdir / DB_PATH), readonly=True) as db:
        assert CredentialService(db).tls_principal("realm1", ["sha256:" + "ab" * 32, "sha1:" + "0f" * 20]).authid \
            == "device"


def test_adopting_the_same_config_again_leaves_the_credentials_as_they_were(cbdir):
    config = stock_config({**SAM, "role": "user"}, {"certificate-sha1": SHA1, "role": "user"})
    write(cbdir, config)
    adopt(str(cbdir))
    before = credential_times(cbdir)
    write(cbdir, config)
    adopt(str(cbdir))
    assert credential_times(cbdir) == before


@pytest.mark.parametrize("scram_principal, tls_principal, field", [
    ({**SAM, "stored-key": "abc", "role": "user"}, {"certificate-sha1": SHA1, "role": "user"}, "stored-key"),
    ({**SAM, "role": "user"}, {"certificate-sha1": "not a fingerprint", "role": "user"}, "sha1"),
    ({**SAM, "role": "user"}, {"certificate-sha1": SHA1}, "has no role"),
])
def test_a_principal_that_cannot_be_moved_is_refused_naming_it_and_nothing_is_converted(
        cbdir, scram_principal, tls_principal, field):
    config = stock_config(scram_principal, tls_principal)
    write(cbdir, config)
    with pytest.raises(AdoptError, match=field):
        adopt(str(cbdir))
    assert json.loads((cbdir / "config.json").read_text()) == config
    assert not (cbdir / DB_PATH).exists()
