"""Cryptosign keys on PostgreSQL: two real router nodes share the keys, and a change reaches both at the next login."""

from __future__ import annotations

import uuid

import pytest
from test_cluster_e2e import cluster, pg_url  # noqa: F401  (the two nodes on one PostgreSQL schema)

from cfxstore.database import open_database
from cfxstore.management import Management
from cryptosign_client import cryptosign_login, new_key
from router_harness import wait_for
from router_wampclient import Denied, leave

REALM = "realm1"


def logs_in(rt, node, privkey, authid):
    """The Login if the key logs in on node now, else None."""
    try:
        result = rt.call(cryptosign_login, node.port, privkey, authid=authid)
    except Denied:
        return None
    rt.call(leave, result.session)
    return result


@pytest.fixture
def device(pg_url):  # noqa: F811
    authid = f"dev-{uuid.uuid4().hex[:8]}"
    with open_database(pg_url) as db:
        Management(db).principals.create(realm=REALM, authid=authid, role="user")
    return authid


def test_a_key_added_through_one_database_handle_logs_in_on_both_nodes(reactor_thread, cluster, pg_url, device):
    privkey, pubkey = new_key()
    for node in cluster:
        assert logs_in(reactor_thread, node, privkey, device) is None
    with open_database(pg_url) as db:
        mgmt = Management(db)
        mgmt.principals.add_key(mgmt.principals.get_by((REALM, device)).oid, pubkey, label="fleet")
    for node in cluster:
        result = wait_for(lambda: logs_in(reactor_thread, node, privkey, device), 10, "the new key to log in")
        assert result.details.authid == device and result.details.authmethod == "cryptosign"


def test_a_revoked_key_is_refused_on_both_nodes_and_the_other_key_still_logs_in(reactor_thread, cluster, pg_url,
                                                                                 device):
    (old, old_pub), (new, new_pub) = new_key(), new_key()
    with open_database(pg_url) as db:
        mgmt = Management(db)
        oid = mgmt.principals.get_by((REALM, device)).oid
        mgmt.principals.add_key(oid, old_pub)
        mgmt.principals.add_key(oid, new_pub)
    for node in cluster:
        assert logs_in(reactor_thread, node, old, device) is not None
    with open_database(pg_url) as db:
        Management(db).principals.revoke_key(oid, old_pub)
    for node in cluster:
        wait_for(lambda: logs_in(reactor_thread, node, old, device) is None, 10, "the revoked key to be refused")
        assert logs_in(reactor_thread, node, new, device) is not None
