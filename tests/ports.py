"""Free TCP ports for the routers tests start, leased so that concurrent test processes never share one.

A port found free by binding port 0 and closing the socket is free only until someone else binds
it: a parallel test worker, another test run on the machine, or an outgoing connection the kernel
gives that ephemeral port to. So ports come from below Linux's ephemeral range (32768 and up,
where outgoing connections take theirs), and each is leased with a lock on a file named after it,
shared by every process on the machine and held until this process exits.
"""

from __future__ import annotations

import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path

FIRST, LAST = 20000, 32767
LEASES = Path(tempfile.gettempdir()) / "cfxstore-test-ports"

#: Open lock files of the ports this process leased; closing one would give its port back.
_leases: list[int] = []


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _lease(port: int) -> bool:
    fd = os.open(LEASES / str(port), os.O_CREAT | os.O_RDWR, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    if not _bindable(port):
        os.close(fd)
        return False
    _leases.append(fd)
    return True


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on and no other test process will hand out."""
    LEASES.mkdir(exist_ok=True)
    span = LAST - FIRST + 1
    # A random start per call spreads concurrent processes over the range instead of queueing them.
    start = random.randrange(span)
    for i in range(span):
        port = FIRST + (start + i) % span
        if _lease(port):
            return port
    raise RuntimeError(f"no free port left in {FIRST}-{LAST} (leases in {LEASES})")
