"""MrealmSchema records validate their fields (the shared round trips are in table_contract)."""

import pytest

from mrealm_factories import (
    arealm, credential, node_log, permission, placement, principal, routercluster_membership, webcluster,
    webcluster_membership, webservice, worker_log, workergroup,
)


@pytest.mark.parametrize("key", ["secret", "password", "ticket"])
def test_credential_refuses_plaintext_secrets(key):
    with pytest.raises(ValueError, match="plaintext"):
        credential(authconfig={key: "hunter2"})


def test_credential_authmethod_is_checked():
    with pytest.raises(ValueError, match="Credential.authmethod"):
        credential(authmethod="password")


def test_principal_needs_a_role():
    with pytest.raises(ValueError, match="Principal.role"):
        principal(role="")


def test_principal_extra_must_be_a_dict():
    with pytest.raises(ValueError, match="Principal.extra"):
        principal(extra=["not", "a", "dict"])


def test_realm_name_must_not_contain_whitespace():
    with pytest.raises(ValueError, match="ApplicationRealm.name"):
        arealm(name="my realm")


def test_unknown_status_is_rejected():
    with pytest.raises(ValueError, match="status"):
        arealm(status="sleeping")


def test_permission_match_type_is_checked():
    with pytest.raises(ValueError, match="Permission.match"):
        permission(match="regex")


def test_permission_flags_must_be_bools():
    with pytest.raises(ValueError, match="allow_call"):
        permission(allow_call=1)


def test_catch_all_permission_has_an_empty_uri():
    assert permission(uri="", match="prefix").uri == ""


def test_softlimit_must_not_exceed_hardlimit():
    with pytest.raises(ValueError, match="softlimit"):
        routercluster_membership(softlimit=30, hardlimit=20)


def test_worker_group_scale_is_at_least_one():
    with pytest.raises(ValueError, match="scale"):
        workergroup(scale=0)


def test_listening_port_is_a_tcp_port():
    with pytest.raises(ValueError, match="tcp_listening_port"):
        placement(tcp_listening_port=70000)


def test_web_cluster_tcp_version_is_4_or_6():
    with pytest.raises(ValueError, match="tcp_version"):
        webcluster(tcp_version=5)


def test_web_cluster_refuses_tls_key_material():
    with pytest.raises(ValueError, match="key material"):
        webcluster(tls_key="-----BEGIN PRIVATE KEY-----\nMII...")


def test_web_cluster_membership_parallel_is_positive():
    with pytest.raises(ValueError, match="parallel"):
        webcluster_membership(parallel=0)


def test_web_service_config_must_be_a_dict():
    with pytest.raises(ValueError, match="config"):
        webservice(config="directory=/srv")


def test_node_log_timestamp_is_int_nanoseconds():
    with pytest.raises(ValueError, match="NodeLog.timestamp"):
        node_log(timestamp=1.0)


def test_worker_log_type_is_checked():
    with pytest.raises(ValueError, match="worker_type"):
        worker_log(worker_type="daemon")


def test_log_keys_lead_with_the_timestamp():
    assert node_log(1).key[0] == node_log(1).timestamp
    assert worker_log(1).key == (worker_log(1).timestamp, worker_log(1).node_oid, "worker1")
