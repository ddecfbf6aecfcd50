"""The audit log end to end: a real router records ticket logins that succeed and fail and the lockout
they cause, `cfxstore audit list --json` shows them, and no ticket is anywhere in the database file."""

from __future__ import annotations

import json
import secrets

import pytest

from router_harness import init_node, run_cli, running, throttled, wait_for
from router_wampclient import Denied, leave, login

REALM = "realm1"
# Two free failures, then a lockout long enough to outlast the test; no peer limit (every client is 127.0.0.1).
THROTTLE = {"free_failures": 2, "base_delay": 600.0, "max_delay": 600.0, "deny_delay": 0.2,
            "peer_free_failures": None}


@pytest.fixture(scope="module")
def router(tmp_path_factory, reactor_thread):
    with running(init_node(tmp_path_factory.mktemp("auditnode"), throttled(THROTTLE))) as node:
        yield node


def ticket_login(rt, router, authid, ticket):
    try:
        result = rt.call(login, router.port, authmethods=["ticket"], authid=authid, ticket=ticket)
    except Denied as exc:
        return exc.message
    rt.call(leave, result.session)
    return "joined"


def test_logins_that_succeed_and_fail_and_a_lockout_are_listed_and_no_ticket_is_stored(reactor_thread, router):
    db = str(router.cbdir / "cfxstore-db")
    authid = f"audited-{secrets.token_hex(4)}"
    ticket = "correct-" + secrets.token_hex(16)
    wrong = ["wrong-" + secrets.token_hex(16) for _ in range(2)]
    added = run_cli("principals", "add", authid, "--db", db, "--role", "user", "--password-stdin", input=ticket + "\n")
    assert added.returncode == 0, added.stderr

    answers = [ticket_login(reactor_thread, router, authid, t) for t in (ticket, *wrong, ticket)]
    assert answers[0] == "joined"
    assert answers[1:3] == ["invalid authid or ticket"] * 2
    assert "too many failed attempts" in answers[3]  # the correct ticket, refused while locked

    def listed():
        out = run_cli("audit", "list", "--db", db, "--authid", authid, "--kind", "login", "--kind", "lockout",
                      "--json")
        assert out.returncode == 0, out.stderr
        events = json.loads(out.stdout)
        return events if len(events) >= 5 else None

    events = wait_for(listed, 30, "the router's login events in the audit log")
    assert [(e["kind"], e["outcome"], e["reason"]) for e in events] == [
        ("login", "success", None),
        ("login", "failure", "invalid authid or ticket"),
        ("login", "failure", "invalid authid or ticket"),
        ("lockout", None, None),
        ("login", "failure", answers[3]),
    ]
    assert {e["method"] for e in events} == {"ticket"} and {e["realm"] for e in events} == {REALM}
    assert {e["peer"] for e in events} == {"127.0.0.1"}
    assert events[3]["action"] == "authid locked" and events[3]["detail"] == {"seconds": 600.0}
    principal = json.loads(run_cli("audit", "list", "--db", db, "--authid", authid, "--kind", "principal",
                                   "--json").stdout)
    assert [e["action"] for e in principal] == ["created"]

    assert router.stop() == 0  # everything staged is committed and the file is closed
    data = (router.cbdir / "cfxstore-db" / "data.mdb").read_bytes()
    assert authid.encode() in data  # the file read is the one the events are in
    for secret in (ticket, *wrong):
        assert secret.encode() not in data and secret.encode("utf-16-le") not in data
