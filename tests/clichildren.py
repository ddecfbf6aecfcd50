"""`cfxstore` command processes forked from a server that has imported cfxstore, cfxdb and Crossbar once.

A fresh interpreter spends 0.4 s of CPU importing the CLI, 1 s more where a command reads cfxdb or
checks a Crossbar config, and a router node's controller as much importing Crossbar; the suite
starts hundreds of them. A child forked from the server (multiprocessing's forkserver) is still a
process of its own: its own argv, environment, stdin, stdout and stderr files, its own LMDB handles
and reactor (the server opens and installs none), SIGKILLed for real. Only what the CLI reads from
the environment when it runs can differ per child, which is all it reads (ORM_CRASH_AT,
CFXSTORE_DB, CFXSTORE_TRACEBACK, CFXSTORE_REACTOR_GUARD); a node's worker is Crossbar's own fresh
process, as in production.
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# What the server imports once; nothing here installs a reactor or a log observer.
PRELOAD = ["cfxstore.cli.main", "cfxstore.router.launcher", "cfxstore.migrate.cfxdb_import",
           "cfxstore.migrate.fx_import", "cfxdb.cookiestore", "cfxdb.realmstore", "cfxdb.user", "cfxdb.mrealm",
           "crossbar"]
_context: Any = None
_files = Path()  # every child's stdin, stdout and stderr, numbered
_numbers = itertools.count()
_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT


def _forkserver() -> Any:
    global _context, _files
    if _context is None:
        _files = Path(tempfile.mkdtemp(prefix="cfxstore-children-"))
        atexit.register(shutil.rmtree, _files, ignore_errors=True)
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


def _main(argv: list[str], env: dict[str, str], files: tuple[str, str, str], ready: Any, session: bool) -> None:
    """The child: the caller's environment and files, then the CLI as ``cfxstore argv`` would run it."""
    if session:
        os.setsid()  # a process group of its own, as subprocess's start_new_session gives
    os.environ.clear()
    os.environ.update(env)
    for fd, path, flags in zip((0, 1, 2), files, (os.O_RDONLY, _APPEND, _APPEND)):
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, closefd=False)  # multiprocessing gave the child /dev/null
    if env.get("PYTHONUNBUFFERED"):  # what the interpreter would have read at its start
        for stream in (sys.stdout, sys.stderr):
            stream.reconfigure(write_through=True)  # type: ignore[union-attr]
    if ready is not None:
        ready.set()
    from cfxstore.cli.main import cli

    cli(argv, prog_name="cfxstore")


class Child:
    """A started command: ``wait``, ``kill`` and ``returncode`` as subprocess.Popen has them."""

    def __init__(self, argv: list[str], env: dict[str, str] | None, input: str, announce: bool,
                 log: str | None = None, session: bool = False) -> None:
        """``log``: stdout and stderr appended to that file; ``session``: in a session (and process
        group) of its own."""
        self.argv = argv
        context = _forkserver()
        number = next(_numbers)
        files = tuple(str(_files / f"{number}.{name}") for name in ("stdin", "stdout", "stderr"))
        for path, text in zip(files, (input, "", "")):
            Path(path).write_text(text)
        self._files = files if log is None else (files[0], log, log)
        self.ready = context.Event() if announce else None
        self._process = context.Process(target=_main, args=(argv, dict(os.environ if env is None else env),
                                                            self._files, self.ready, session), daemon=True)
        self._process.start()
        self.pid = self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self.argv, timeout)
        return self._process.exitcode

    def kill(self) -> None:
        self._process.kill()

    def output(self) -> tuple[str, str]:
        stdout, stderr = (Path(path).read_text(errors="replace") for path in self._files[1:])
        return stdout, stderr


def start(argv: list[str], env: dict[str, str] | None = None, input: str = "") -> Child:
    """``cfxstore argv`` running; ``child.ready`` is set just before the CLI starts."""
    return Child(list(argv), env, input, announce=True)


def start_node(argv: list[str], log: str, env: dict[str, str]) -> Child:
    """``cfxstore argv`` (a ``router start``) in a process group of its own, its output appended to log."""
    return Child(list(argv), env, "", announce=False, log=log, session=True)


def run(argv: list[str], env: dict[str, str] | None = None, input: str | None = None,
        timeout: float = 60.0) -> subprocess.CompletedProcess:
    """``cfxstore argv`` to its end, as subprocess.run(capture_output=True, text=True) reports it."""
    child = Child(list(argv), env, input or "", announce=False)
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(10)
        raise
    stdout, stderr = child.output()
    return subprocess.CompletedProcess(argv, child.returncode, stdout, stderr)
