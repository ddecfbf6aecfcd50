"""Whether another process has a database open (before a command that must have it alone).

LMDB: every process with an LMDB environment open holds a shared fcntl lock
on byte 0 of lock.mdb for as long as it keeps it open, idle or not; an
exclusive probe of that byte fails while any other process holds it. The
probe runs before this process opens the database itself: fcntl locks
belong to the process and closing any descriptor of the file drops them.

PostgreSQL: every connection orm opens carries ``cfxstore:<schema>:<pid>@<host>``
as its application_name (orm.engine.pgurl), so the server's pg_stat_activity
lists the connections of other processes to the same schema. Connections
that do not tag themselves (psql, pg_dump, other programs) are not seen.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections import defaultdict

from cfxstore.migrate.errors import MaintenanceError
from orm import DatabaseError
from orm.engine import pgurl

#: Other backends in this database tagged for the schema; this process's own connections left out.
_TAGGED = ("SELECT application_name, host(client_addr), pid FROM pg_stat_activity "
           "WHERE datname = current_database() AND left(application_name, %s) = %s "
           "AND split_part(application_name, ' ', 1) <> %s AND pid <> pg_backend_pid() "
           "ORDER BY application_name, pid")
_NAMED = 5  # processes named in the error; the rest are counted


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


def pg_holders(url: str) -> list[str]:
    """The other processes connected to the schema of url, each as ``<application_name> from <address>
    (backend pids ...)``; [] if none."""
    # psycopg is optional (the postgres extra); only a PostgreSQL database gets here.
    import psycopg

    parsed = pgurl.parse(url)
    prefix = pgurl.tag_prefix(parsed.schema)
    try:
        with psycopg.connect(parsed.conninfo, autocommit=True, connect_timeout=max(1, int(parsed.timeout)),
                             application_name=parsed.application_name) as conn:
            rows = conn.execute(_TAGGED, (len(prefix), prefix, pgurl.process_tag(parsed.schema))).fetchall()
    except psycopg.Error as exc:
        reason = pgurl.scrub((str(exc).strip() or type(exc).__name__).splitlines()[0], url)
        raise DatabaseError(f"could not list the connections to {parsed.redacted}: {reason}") from None
    # One process holds several pooled connections: name it once.
    backends: dict[tuple[str, str], list[int]] = defaultdict(list)
    for name, address, pid in rows:
        backends[(name, address or "a local socket")].append(pid)
    return [f"{name} from {address} (backend pid{'s' if len(pids) > 1 else ''} {', '.join(map(str, pids))})"
            for (name, address), pids in backends.items()]


def require_alone(path: str, what: str) -> None:
    """MaintenanceError naming the holders if another process has the database at path (or URL) open."""
    advice = f"stop it before `cfxstore migrate {what}`, or pass --force if you are sure it does not write"
    if pgurl.is_url(path):
        found = pg_holders(path)
        if found:
            more = f" and {len(found) - _NAMED} more" if len(found) > _NAMED else ""
            raise MaintenanceError(f"database {pgurl.redact(path)} is in use by {len(found)} other process(es): "
                                   f"{'; '.join(found[:_NAMED])}{more} (a router or service?): {advice}")
        return
    pids = holders(path)
    if pids == []:
        return
    who = f"process(es) {', '.join(map(str, pids))}" if pids else "another process"
    raise MaintenanceError(f"database {path} is open in {who} (a router or service?): {advice}")
