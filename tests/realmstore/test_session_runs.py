"""Runs: closing the sessions a clean stop or a crash left joined."""

from __future__ import annotations

import os
import socket

import pytest

from cfxstore.realmstore.entities import Run
from cfxstore.realmstore.service import SessionHistory
from cfxstore.timeutil import NS_PER_SECOND

NOW = 10**18


@pytest.fixture
def history(db):
    return SessionHistory(db)


def join(history, session_id, run, joined_at=NOW):
    return history.session_joined(session_id=session_id, realm="r", authid="a", authrole="u", authmethod="t",
                                  joined_at=joined_at, run=run)


def test_end_run_closes_only_that_runs_joined_sessions(history):
    history.start_run(Run(run="a", host="h", pid=1, started=NOW, alive=NOW))
    join(history, 1, "a")
    join(history, 2, "a")
    join(history, 3, "b")
    history.session_left(2, left_at=NOW + 5)
    assert history.end_run("a", left_at=NOW + 10) == 1
    assert history.get_session(1).left_at == NOW + 10 and history.get_session(1).left_approximate is None
    assert history.get_session(2).left_at == NOW + 5
    assert history.get_session(3).left_at is None
    assert history.runs() == []


def test_a_crashed_runs_sessions_are_closed_approximately_never_before_they_joined(history):
    join(history, 1, "dead", joined_at=NOW)
    join(history, 2, "dead", joined_at=NOW + 50)
    history.end_run("dead", left_at=NOW + 20, approximate=True)
    one, two = history.get_session(1), history.get_session(2)
    assert (one.left_at, one.left_approximate) == (NOW + 20, True)
    assert (two.left_at, two.left_approximate) == (NOW + 50, True)


def test_heartbeat_moves_the_last_alive_stamp(history):
    history.start_run(Run(run="a", host="h", pid=1, started=NOW, alive=NOW))
    history.heartbeat("a", alive=NOW + 7)
    assert history.runs()[0].alive == NOW + 7


def test_a_run_is_dead_when_its_process_is_gone_or_its_heartbeat_is_stale():
    from cfxstore.router.noderun import STALE_AFTER, is_dead

    host = socket.gethostname()
    fresh = Run(run="x", host=host, pid=os.getppid(), started=NOW, alive=NOW)
    assert not is_dead(fresh, NOW + NS_PER_SECOND, host)                   # a live process on this host
    assert is_dead(Run(run="x", host=host, pid=2**22 + 12345, started=NOW, alive=NOW), NOW, host)  # gone
    assert is_dead(Run(run="x", host=host, pid=os.getpid(), started=NOW, alive=NOW), NOW, host)   # reused
    other = Run(run="x", host="elsewhere", pid=1, started=NOW, alive=NOW)
    assert not is_dead(other, NOW + STALE_AFTER, host)
    assert is_dead(other, NOW + STALE_AFTER + 1, host)
