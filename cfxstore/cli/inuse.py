"""Whether another process has an LMDB database open (before a command that must have it alone).

Every process with an LMDB environment open holds a shared fcntl lock on
byte 0 of lock.mdb for as long as it keeps it open, idle or not; an
exclusive probe of that byte fails while any other process holds it. The
probe runs before this process opens the database itself: fcntl locks
belong to the process and closing any descriptor of the file drops them.
"""

from __future__ import annotations

import errno
import fcntl
import os


def holders(path: str) -> list[int] | None:
    """Pids of other processes with the database at path open: [] if none, None if it is open but
    the holders cannot be named (no /proc/locks)."""
    lock = os.path.join(path, "lock.mdb")
    try:
        fd = os.open(lock, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return []  # no process has ever opened it since the lock file went away
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0, os.SEEK_SET)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            return _pids(os.fstat(fd).st_ino) or None
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, 0, os.SEEK_SET)
        return []
    finally:
        os.close(fd)


def _pids(inode: int) -> list[int]:
    """Pids holding fcntl locks on the file with inode (Linux's /proc/locks); [] where unknown."""
    try:
        with open("/proc/locks", encoding="ascii") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    pids = set()
    for line in lines:
        fields = line.split()
        # "1: POSIX  ADVISORY  READ 1234 08:01:5678 0 0": pid, then major:minor:inode.
        if len(fields) >= 6 and fields[1] == "POSIX" and fields[5].rsplit(":", 1)[-1] == str(inode):
            if fields[4].isdigit() and int(fields[4]) != os.getpid():
                pids.add(int(fields[4]))
    return sorted(pids)


def require_alone(path: str, what: str) -> None:
    """ValueError naming the holders if another process has the database at path open."""
    found = holders(path)
    if found == []:
        return
    who = f"process(es) {', '.join(map(str, found))}" if found else "another process"
    raise ValueError(f"database {path} is open in {who} (a router or service?): stop it before "
                     f"`cfxstore migrate {what}`, or pass --force if you are sure it does not write")
