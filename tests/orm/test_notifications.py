"""Notifications: ``txn.notify`` sends on commit, ``db.listen`` hears what other processes send.

PostgreSQL delivers them between processes (LISTEN/NOTIFY); LMDB and the
in-memory engine deliver none, and say so.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import textwrap

import orm
import pg


def test_only_postgresql_notifies_other_processes(tmp_path, engine):
    with orm.Database(str(tmp_path / "db")) as db:
        assert db.notifies_other_processes is (engine == "postgres")


def test_without_cross_process_notifications_listen_hears_nothing(tmp_path, engine):
    with orm.Database(str(tmp_path / "db")) as db:
        if db.notifies_other_processes:
            return  # PostgreSQL: the next test
        heard: list[str] = []
        subscription = db.listen("changes", heard.append)
        with db.begin(write=True) as txn:
            txn.notify("changes", "hello")  # accepted, delivered nowhere
        subscription.stop()
        assert heard == []


SENDER = textwrap.dedent("""
    import sys
    import orm

    with orm.Database(sys.argv[1]) as db:
        txn = db.begin(write=True)
        txn.notify("changes", "aborted")
        txn.abort()
        with db.begin(write=True) as txn:
            txn.notify("changes", "committed")
""")


def test_on_postgresql_a_committed_notification_reaches_listeners_in_other_processes(tmp_path, engine):
    path = str(tmp_path / "db")
    with orm.Database(path) as db:
        if not db.notifies_other_processes:
            return
        heard: queue.Queue[str] = queue.Queue()
        subscription = db.listen("changes", heard.put)
        try:
            assert subscription.ready.wait(10), "the listener did not start listening"
            with db.begin(write=True) as txn:
                txn.notify("changes", "own")  # this process's own: not delivered back
            sender = subprocess.run([sys.executable, "-c", SENDER, pg.url_for(pg.schema_for(path))],
                                    capture_output=True, text=True, timeout=120)
            assert sender.returncode == 0, sender.stderr[-2000:]
            assert heard.get(timeout=10) == "committed"
            assert heard.empty()
        finally:
            subscription.stop()
