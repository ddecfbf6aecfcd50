"""First start of a real node: the admin ticket is shown last, once it listens; status and stop by node directory."""

from __future__ import annotations

from router_harness import RouterProcess, free_port, run_cli, running, wait_for
from router_wampclient import leave, login


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
