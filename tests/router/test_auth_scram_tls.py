"""The function authenticator for WAMP-SCRAM and TLS on a real reactor: decoys, certificate lookup, the throttle."""

from __future__ import annotations

import pytest
from autobahn.util import peer_certificate_details
from twisted.internet import reactor

from cfxstore.credentials import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.node.config import AuthConfig, DatabaseConfig, ScramConfig, ThrottleConfig, TlsConfig
from cfxstore.node.errors import RouterConfigError
from cfxstore.router.auth import Authenticator
from cfxstore.router.outcome import OUTCOME_HOOK
from test_auth import outcomes
from tlscerts import issue

REALM = "realm1"
SCRAM_KEYS = {"realm", "authid", "role", "kdf", "iterations", "memory", "salt", "stored-key", "server-key"}


@pytest.fixture
def creds(tmp_path):
    database = open_database(str(tmp_path / "db"))
    yield CredentialService(database)
    database.close()


@pytest.fixture
def principals(creds):
    return Management(creds.db, credentials=creds).principals


def make_auth(creds, cbdir=".", cn_issuers=(), **throttle) -> Authenticator:
    config = AuthConfig(database=DatabaseConfig(), throttle=ThrottleConfig(**{"deny_delay": 0.0, **throttle}),
                        scram=ScramConfig(decoy_role="member"), tls=TlsConfig(cn_issuers=tuple(cn_issuers)))
    return Authenticator(creds, config, reactor, cbdir=str(cbdir))


def tls_details(cert=None, peer="tcp4:10.0.0.1:4711"):
    transport = {"peer": peer, "peer_cert": peer_certificate_details(cert.cert) if cert else None}
    return {"authmethod": "tls", "transport": transport}


def scram_details(peer="tcp4:10.0.0.1:4711"):
    return {"authmethod": "scram", "transport": {"peer": peer}, "authextra": {"nonce": "bm9uY2U="}}


def test_scram_challenge_of_a_known_and_an_unknown_authid_look_alike(reactor_thread, creds, principals):
    principals.create(realm=REALM, authid="sam", role="user", scram="secret password")
    auth = make_auth(creds)
    known, unknown, again = outcomes(reactor_thread, [(auth, REALM, "sam", scram_details()),
                                                      (auth, REALM, "ghost", scram_details()),
                                                      (auth, REALM, "ghost", scram_details())])
    for principal in (known, unknown):
        assert set(principal) - {OUTCOME_HOOK} == SCRAM_KEYS
        assert (principal["kdf"], principal["iterations"], principal["memory"]) == ("argon2id-13", 2, 19456)
        assert len(bytes.fromhex(principal["salt"])) == 16
    assert unknown["role"] == "member" and unknown["salt"] == again["salt"]
    assert known["stored-key"] == creds.get_scram(REALM, "sam")[1]["stored-key"]


def test_scram_failures_reported_by_the_challenge_lock_the_authid(reactor_thread, creds, principals):
    principals.create(realm=REALM, authid="sam", role="user", scram="secret password")
    auth = make_auth(creds, free_failures=2)
    for _ in range(2):
        principal = outcomes(reactor_thread, [(auth, REALM, "sam", scram_details())])[0]
        # The pending SCRAM authentication reports a wrong proof through the hook.
        answer = reactor_thread.call(lambda: principal[OUTCOME_HOOK](False).addErrback(lambda f: f.value.args[0]))
        assert answer == "SCRAM authentication failed"
    assert "too many failed attempts" in outcomes(reactor_thread, [(auth, REALM, "sam", scram_details())])[0]


def test_tls_certificate_finds_its_principal(reactor_thread, creds, principals):
    client = issue("sensor-17")
    principals.create(realm=REALM, authid="sensor-17", role="device", tls={"sha256": client.sha256})
    auth = make_auth(creds)
    assert outcomes(reactor_thread, [(auth, REALM, None, tls_details(client))]) == \
        [{"realm": REALM, "authid": "sensor-17", "role": "device"}]


@pytest.mark.parametrize("cert, authid", [(None, None), ("stranger", None), ("known", "someone-else")])
def test_tls_failures_look_alike(reactor_thread, creds, principals, cert, authid):
    known = issue("known")
    principals.create(realm=REALM, authid="known", role="device", tls={"sha256": known.sha256})
    certs = {None: None, "stranger": issue("stranger"), "known": known}
    auth = make_auth(creds)
    assert outcomes(reactor_thread, [(auth, REALM, authid, tls_details(certs[cert]))]) == \
        ["invalid authid or client certificate"]


def test_tls_failures_count_against_the_peer(reactor_thread, creds):
    auth = make_auth(creds, peer_free_failures=3)
    calls = [(auth, REALM, None, tls_details(issue(f"stranger{i}"), peer="tcp4:10.9.9.9:1")) for i in range(5)]
    results = outcomes(reactor_thread, calls)
    assert results.count("invalid authid or client certificate") == 3
    assert sum("too many failed attempts" in r for r in results) == 2


def test_cn_counts_only_under_a_configured_issuer(reactor_thread, creds, principals, tmp_path):
    ca, other = issue("CA", ca=True), issue("CA", ca=True, org="other")
    (tmp_path / "ca.crt").write_bytes(ca.cert_pem)
    principals.create(realm=REALM, authid="sensor", role="device", tls={"cn": "sensor"})
    auth = make_auth(creds, cbdir=tmp_path, cn_issuers=["ca.crt"], peer_free_failures=None)
    good, bad = outcomes(reactor_thread, [(auth, REALM, None, tls_details(issue("sensor", ca))),
                                          (auth, REALM, None, tls_details(issue("sensor", other)))])
    assert good["authid"] == "sensor" and bad == "invalid authid or client certificate"


def test_a_missing_cn_issuer_file_is_a_config_error(creds, tmp_path):
    with pytest.raises(RouterConfigError, match="cn_issuers.*cannot read"):
        make_auth(creds, cbdir=tmp_path, cn_issuers=["missing.crt"])


def test_a_cn_issuer_file_that_is_no_certificate_is_a_config_error(creds, tmp_path):
    (tmp_path / "junk.crt").write_text("junk")
    with pytest.raises(RouterConfigError, match="cn_issuers.*junk.crt: not a PEM certificate"):
        make_auth(creds, cbdir=tmp_path, cn_issuers=["junk.crt"])
