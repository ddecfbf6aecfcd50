"""A PostgreSQL 15 primary and its streaming replica, made for one test and thrown away after it.

The servers run as the ``postgres`` user (PostgreSQL refuses to run as
root) from a temporary directory, on ports leased from ports.py, with trust
authentication on 127.0.0.1 only. ``url()`` is a libpq multi-host URL
naming both with ``target_session_attrs=read-write``, as a node in production
names its servers; ``promote()`` turns the replica into a primary and
``stop_primary()`` stops the first one, as a failover does.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from ports import free_port

BIN = Path(os.environ.get("CFXSTORE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
TOOLS = ("initdb", "pg_ctl", "pg_basebackup")
USER = "postgres"


def missing() -> str | None:
    """Why a replica pair cannot be made on this machine, or None if it can."""
    absent = [tool for tool in TOOLS if not (BIN / tool).is_file()]
    if absent:
        return f"PostgreSQL server binaries {', '.join(absent)} not found in {BIN} (CFXSTORE_TEST_PG_BIN)"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return f"no {USER!r} user to run PostgreSQL servers as"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != USER:
        return f"running servers as {USER!r} needs root or that user"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser is not installed (needed to run PostgreSQL servers as postgres)"
    return None


class Server:
    """One server of the pair: its data directory and port."""

    def __init__(self, pair: ReplicaPair, name: str) -> None:
        self.pair, self.name = pair, name
        self.data = pair.root / name
        self.port = free_port()

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.pair.root} "
                   "-c fsync=off -c wal_sender_timeout=5s -c wal_receiver_timeout=5s")
        self.pair.run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-w", "-t", "60",
                      "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self.pair.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    @property
    def log_path(self) -> Path:
        return self.pair.root / f"{self.name}.log"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{dbname}"


class ReplicaPair:
    """A primary with one streaming replica, each a real server process."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="cfxstore-replica-"))
        shutil.chown(self.root, USER)
        self.primary = Server(self, "primary")
        self.replica = Server(self, "replica")
        try:
            self.run("initdb", "-D", str(self.primary.data), "-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync")
            self.primary.start()
            # -R writes the replica's standby.signal and primary_conninfo; -X stream copies the WAL it needs.
            self.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", USER,
                     "-D", str(self.replica.data), "-R", "-X", "stream", "--no-sync")
            self.replica.start()
        except BaseException:
            self.close()  # no server left running behind a failed setup
            raise

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(BIN / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", USER, "--", *command]
        result = subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")
        return result

    def url(self, schema: str, *, hosts: list[Server] | None = None, timeout: float = 2) -> str:
        """A libpq multi-host URL of the servers (both by default) that connects to the writable one."""
        hosts = hosts or [self.primary, self.replica]
        return (f"postgresql://{USER}@/postgres?host={','.join('127.0.0.1' for _ in hosts)}"
                f"&port={','.join(str(s.port) for s in hosts)}&target_session_attrs=read-write"
                f"&schema={schema}&timeout={timeout:g}")

    def promote(self) -> None:
        self.run("pg_ctl", "-D", str(self.replica.data), "-w", "-t", "60", "promote")

    def stop_primary(self) -> None:
        self.primary.stop()

    def close(self) -> None:
        for server in (self.replica, self.primary):
            if (server.data / "postmaster.pid").exists():
                server.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
