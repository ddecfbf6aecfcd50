"""TLS client-certificate credentials: matches, their canonical form, lookup by certificate, and refusals."""

from __future__ import annotations

import pytest
from autobahn.util import peer_certificate_details

from cfxstore.credentials import tls
from cfxstore.errors import AlreadyExists, InvalidArgument
from tlscerts import issue

SHA256 = "ab" * 32


def test_fingerprints_are_stored_lower_case_without_colons():
    colons = ":".join(["AB"] * 32)
    assert tls.check({"sha256": colons}) == {"sha256": SHA256}
    assert tls.check({"sha1": "CD" * 20}) == {"sha1": "cd" * 20}
    assert tls.check({"cn": "sensor-17"}) == {"cn": "sensor-17"}


@pytest.mark.parametrize("config, field", [
    ({"sha256": "ab" * 31}, "sha256"),
    ({"sha256": "zz" * 32}, "sha256"),
    ({"sha1": "ab" * 32}, "sha1"),
    ({"cn": ""}, "cn"),
    ({"cn": " padded"}, "cn"),
    ({"cn": "x" * 65}, "cn"),
    ({"sha256": SHA256, "cn": "both"}, "exactly one"),
    ({}, "exactly one"),
    ({"subject": "x"}, "exactly one"),
])
def test_malformed_matches_are_refused_naming_the_field(config, field):
    with pytest.raises(InvalidArgument, match=field):
        tls.check(config)


def test_peer_keys_of_a_certificate_as_crossbar_describes_it():
    ca = issue("Test CA", ca=True)
    client = issue("sensor-17", ca)
    details = peer_certificate_details(client.cert)
    keys = tls.peer_keys(details)
    assert keys[0] == f"sha256:{client.sha256}"
    assert keys[1].startswith("sha1:") and not any(k.startswith("cn:") for k in keys)
    # The CN counts only under an issuer named as one that speaks for names.
    assert tls.peer_keys(details, (tls.pem_subject(ca.cert_pem),))[-1] == "cn:sensor-17"
    stranger = issue("Test CA", ca=True, org="someone else")
    assert not any(k.startswith("cn:") for k in tls.peer_keys(details, (tls.pem_subject(stranger.cert_pem),)))


def test_a_common_name_no_credential_can_hold_is_not_looked_up():
    ca = issue("Test CA", ca=True)
    details = peer_certificate_details(issue("sensor", ca).cert)
    details["subject"]["cn"] = "x" * 1000  # as a certificate outside X.509's bounds could carry it
    assert not any(k.startswith("cn:") for k in tls.peer_keys(details, (tls.pem_subject(ca.cert_pem),)))


def test_pem_fingerprint_is_the_sha256_crossbar_reports():
    client = issue("sensor-17")
    assert tls.pem_fingerprint(client.cert_pem) == client.sha256
    assert peer_certificate_details(client.cert)["sha256"].replace(":", "").lower() == client.sha256
    with pytest.raises(InvalidArgument, match="not a PEM certificate"):
        tls.pem_fingerprint(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")


def test_principal_is_found_by_its_certificate_in_its_realm_only(principals, svc):
    dev = principals.create(realm="realm1", authid="dev", role="device", tls={"sha256": SHA256})
    assert svc.tls_principal("realm1", [f"sha256:{SHA256}"]).oid == dev.oid
    assert svc.tls_principal("realm2", [f"sha256:{SHA256}"]) is None
    assert svc.tls_principal("realm1", ["sha256:" + "cd" * 32]) is None


def test_first_matching_key_wins(principals, svc):
    principals.create(realm="realm1", authid="by-cn", role="device", tls={"cn": "sensor"})
    principals.create(realm="realm1", authid="by-print", role="device", tls={"sha256": SHA256})
    assert svc.tls_principal("realm1", [f"sha256:{SHA256}", "cn:sensor"]).authid == "by-print"


def test_replacing_the_certificate_frees_the_old_one(principals, svc):
    dev = principals.create(realm="realm1", authid="dev", role="device", tls={"sha256": SHA256})
    principals.set_credential(dev.oid, "tls", {"cn": "dev"})
    assert svc.tls_principal("realm1", [f"sha256:{SHA256}"]) is None
    assert svc.tls_principal("realm1", ["cn:dev"]).oid == dev.oid


def test_a_certificate_of_another_principal_is_refused_and_nothing_is_written(principals, svc):
    principals.create(realm="realm1", authid="dev", role="device", tls={"sha256": SHA256})
    with pytest.raises(AlreadyExists, match="already identifies principal 'dev'"):
        principals.create(realm="realm1", authid="thief", role="device", tls={"sha256": SHA256.upper()})
    assert svc.get_principal("realm1", "thief") is None
    # The same certificate may identify a principal of another realm.
    principals.create(realm="realm2", authid="dev", role="device", tls={"sha256": SHA256})


def test_removing_the_principal_frees_its_certificate(principals, svc):
    dev = principals.create(realm="realm1", authid="dev", role="device", tls={"sha256": SHA256})
    principals.delete(dev.oid)
    assert svc.tls_principal("realm1", [f"sha256:{SHA256}"]) is None
    principals.create(realm="realm1", authid="dev2", role="device", tls={"sha256": SHA256})


def test_stored_forms_only_for_scram_and_tls(principals, alice):
    with pytest.raises(InvalidArgument, match="^method: "):
        principals.set_credential(alice.oid, "ticket", {"hash": "x"})
