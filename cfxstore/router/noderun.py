"""This process's run on a database: heartbeat, clean close, and closing a crashed run's sessions.

Every session the realm stores record carries the id of the run (process and
database) that recorded it. A clean stop closes the run's sessions that are
still joined at the stop time. A crash cannot, so the run stamps itself alive
every HEARTBEAT_SECONDS and the next run on the database closes the sessions
of every dead run at that run's last stamp, marked approximate. A run is dead
when its process is gone (same host) or its stamp is older than STALE_AFTER
(another host), so workers sharing the database never close each other's
live sessions.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from typing import Any

from twisted.internet import task, threads
from twisted.logger import Logger

from cfxstore.realmstore.entities import Run
from cfxstore.realmstore.service import SessionHistory
from cfxstore.registry import Slot, registry
from cfxstore.router.availability import is_outage
from cfxstore.router.shutdown import on_shutdown
from cfxstore.router.writebehind import WriteBehind
from cfxstore.timeutil import NS_PER_SECOND, now_ns
from orm.atomic import process_alive

log = Logger()
HEARTBEAT_SECONDS = 5.0
STALE_AFTER = int(6 * HEARTBEAT_SECONDS * NS_PER_SECOND)


def is_dead(run: Run, now: int, host: str) -> bool:
    """True if the run's heartbeat is stale or, on this host, its process is gone
    (or is this one: a run of ours not yet registered is a previous one's record)."""
    stale = now - run.alive > STALE_AFTER
    if run.host != host:
        return stale
    return stale or run.pid == os.getpid() or not process_alive(run.pid)


class NodeRun:
    """The run of this process on one database."""

    def __init__(self, history: SessionHistory, writer: WriteBehind, reactor: Any) -> None:
        self.id = secrets.token_hex(8)
        self._history = history
        self._writer = writer
        self._reactor = reactor
        self._beat: task.LoopingCall | None = None
        self._unreachable = False
        self._begin_lock = threading.Lock()
        self._begun = False

    def start(self) -> None:
        """Close the sessions of dead runs, register this run and start its heartbeat (on the reactor thread)."""
        self.begin()
        self.beat()

    def begin(self) -> None:
        """Close the sessions of dead runs and register this run: the database work of ``start``, on any
        thread (a realm store on PostgreSQL does it off the reactor), once however many stores ask."""
        with self._begin_lock:
            if self._begun:
                return
            now, host = now_ns(), socket.gethostname()
            closed = 0
            for run in self._history.runs():
                if is_dead(run, now, host):
                    closed += self._history.end_run(run.run, max(run.alive, run.started), approximate=True)
            if closed:
                log.warn("cfxstore: closed {n} sessions of a router run that did not stop cleanly "
                         "(leave time approximate: its last heartbeat)", n=closed)
            self._history.start_run(Run(run=self.id, host=host, pid=os.getpid(), started=now, alive=now))
            self._begun = True

    def beat(self) -> None:
        """Start the heartbeat and the clean close (on the reactor thread, after ``begin``; once)."""
        if self._beat is not None:
            return
        self._beat = task.LoopingCall(self._heartbeat)
        self._beat.start(HEARTBEAT_SECONDS, now=False)
        on_shutdown(self.close, self._reactor, phase="close")

    def _heartbeat(self) -> Any:
        d = threads.deferToThread(self._history.heartbeat, self.id)
        d.addCallbacks(self._beat_done, self._beat_failed)
        return d

    def _beat_done(self, _: Any) -> None:
        if self._unreachable:
            log.info("cfxstore: heartbeat resumed")
        self._unreachable = False

    def _beat_failed(self, failure: Any) -> None:
        if not is_outage(failure.value):
            log.failure("cfxstore: heartbeat failed", failure=failure)
        elif not self._unreachable:  # one line per outage, not a traceback every beat
            self._unreachable = True
            log.warn("cfxstore: heartbeat skipped until the database answers: {err}", err=str(failure.value))

    def close(self) -> Any:
        """Clean stop: commit what is staged, then mark the run's joined sessions as left now,
        off the reactor thread (a Deferred firing with how many were closed)."""
        if self._beat is not None and self._beat.running:
            self._beat.stop()
        d = self._writer.drain()
        d.addCallback(lambda _: threads.deferToThread(self._end_run))
        return d

    def _end_run(self) -> int:
        with self._writer.lock:  # after the writes staged before it
            return self._history.end_run(self.id)


RUNS: Slot[NodeRun] = Slot("node run")


def node_run(path: str, history: SessionHistory, writer: WriteBehind, reactor: Any) -> NodeRun:
    """The run of this process on the database at path (not started: ``start``, or ``begin`` then ``beat``)."""
    return registry.get(RUNS, path, lambda: NodeRun(history, writer, reactor))
