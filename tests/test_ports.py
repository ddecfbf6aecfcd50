"""Ports handed to test routers are never handed out twice, by this process or by another one."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
from pathlib import Path

import ports

HERE = Path(__file__).resolve().parent


def test_a_port_is_leased_once_and_is_free_when_handed_out():
    taken = {ports.free_port() for _ in range(50)}
    assert len(taken) == 50
    for port in taken:
        assert ports.FIRST <= port <= ports.LAST, "outside the range kept clear of ephemeral ports"
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_another_process_never_gets_a_port_this_one_leased(monkeypatch):
    # Both processes walk the range from its first port: the other one must step over all of ours.
    monkeypatch.setattr(random, "randrange", lambda n: 0)
    mine = {ports.free_port() for _ in range(100)}
    probe = "import ports, random; random.randrange = lambda n: 0; print(*(ports.free_port() for _ in range(100)))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=HERE, capture_output=True, text=True, timeout=60,
                          check=True)
    theirs = {int(p) for p in done.stdout.split()}
    assert len(theirs) == 100 and not theirs & mine
