"""First start of a real node: the admin ticket is shown last, once it listens; status and stop by node directory."""

from __future__ import annotations

import pg
import pytest
from router_harness import RouterProcess, edit_config, free_port, run_cli, running, wait_for
from router_wampclient import leave, login

from cfxstore.database import exists
from cfxstore.router.launcher import first_principal, realm_without_principals


def test_first_start_shows_the_ticket_after_listening_and_it_logs_in(tmp_path, reactor_thread):
    port = free_port()
    assert run_cli("router", "init", "--cbdir", str(tmp_path), "--port", str(port)).returncode == 0
    node = RouterProcess(tmp_path, [port])
    with running(node):
        ticket = node.admin_ticket()
        log = node.log()
        # Shown after the node reported it listens, in a box that says how to connect.
        assert log.index(f"listening on TCP port {port}") < log.index("ticket is shown only this once")
        box = log[log.index("ticket is shown only this once"):]
        assert f"ws://127.0.0.1:{port}/" in box and "realm1" in box and "autobahn.Connection" in box
        session = reactor_thread.call(login, port, authmethods=["ticket"], authid="admin", ticket=ticket)
        assert session.details.authrole == "admin"
        reactor_thread.call(leave, session.session)

        status = run_cli("router", "status", "--cbdir", str(tmp_path))
        assert status.returncode == 0 and f"pid {node.proc.pid}" in status.stdout
        stop = run_cli("router", "stop", "--cbdir", str(tmp_path))
        assert stop.returncode == 0, stop.stderr
        wait_for(lambda: node.proc.poll() is not None, 30, "the node to exit")
        assert run_cli("router", "status", "--cbdir", str(tmp_path)).returncode == 3

    # The next start finds the principal and keeps it: the first ticket still logs in.
    with running(node):
        session = reactor_thread.call(login, port, authmethods=["ticket"], authid="admin", ticket=ticket)
        reactor_thread.call(leave, session.session)
    assert node.log().count("ticket is shown only this once") == 1


@pytest.fixture
def pg_url():
    yield from pg.private_url()


def test_a_postgresql_node_creates_the_first_admin_once_per_database(tmp_path, pg_url):
    first, second = tmp_path / "a", tmp_path / "b"
    for cbdir in (first, second):  # two nodes sharing one database
        assert run_cli("router", "init", "--cbdir", str(cbdir), "--port", str(free_port())).returncode == 0
        edit_config(cbdir, pg.on_postgres(pg_url))
    # A database not created yet has no principals, and asking does not create it.
    assert realm_without_principals(str(first)) == "realm1"
    assert not exists(pg_url)
    assert "ticket is shown only this once" in first_principal(str(first), "realm1")
    # Every later start, of this node or another on the same database, finds it and creates nothing.
    assert realm_without_principals(str(first)) is None
    assert realm_without_principals(str(second)) is None
    # Two nodes that both found the database empty: the second to create says so in one line.
    message = first_principal(str(second), "realm1")
    assert message.count("\n") == 0 and "created by another node" in message
