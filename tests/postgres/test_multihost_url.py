"""libpq's multi-host URLs: ``host1:port1,host2:port2`` and ``host=a,b&port=p1,p2`` name the servers of a failover pair."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest

import pg
from cfxstore.database import open_database
from orm.engine import pgurl
from orm.errors import DatabaseError


def test_a_url_listing_several_hosts_with_their_ports_opens_on_a_writable_one():
    if pg.unreachable():
        pytest.skip(pg.unreachable())
    server = urlsplit(pg.URL)
    twice = f"{server.hostname}:{server.port or 5432},{server.hostname}:{server.port or 5432}"
    schema = "t_" + uuid.uuid4().hex[:24]
    url = f"postgresql://{server.username}@{twice}{server.path}?target_session_attrs=read-write&schema={schema}"
    try:
        with open_database(url) as db:
            assert db.path == url  # shown whole: hosts, ports and target_session_attrs carry no secret
            with db.begin():  # a transaction gets through
                pass
    finally:
        pg.drop_schemas({schema})


def test_a_bad_port_of_any_listed_host_is_named():
    with pytest.raises(DatabaseError, match="bad PostgreSQL URL .*Port could not be cast"):
        pgurl.parse("postgresql://u@a:5432,b:x/db")
