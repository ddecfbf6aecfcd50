"""The running node of a node directory: its process id (Crossbar's node.pid) and a clean stop."""

from __future__ import annotations

import json
import os
import signal
import time

PID_FILE = "node.pid"


def running_pid(cbdir: str) -> int | None:
    """The pid of the node controller running from cbdir, or None (no, stale or unreadable pid file)."""
    try:
        with open(os.path.join(cbdir, PID_FILE), encoding="utf-8") as f:
            pid = int(json.load(f)["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, owned by someone else
        return pid
    return pid


def stop_node(cbdir: str, timeout: float) -> int | None:
    """SIGINT the node (a clean stop) and wait until it is gone; its pid, or None if none ran.

    TimeoutError if it still runs after timeout seconds.
    """
    pid = running_pid(cbdir)
    if pid is None:
        return None
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while running_pid(cbdir) == pid:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the node in {cbdir} (pid {pid}) did not stop within {timeout:g}s; "
                               f"kill it with `kill {pid}`")
        time.sleep(0.1)
    return pid
