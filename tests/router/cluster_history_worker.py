"""A process of the cluster retention test: python cluster_history_worker.py MODE URL BOUND N.

Prints "ready" once the database is open, starts on a line on stdin (so all
workers start at the same moment), then prints one JSON line:
``purge`` applies retention (older than BOUND) N times: {"deleted": count};
``write`` records N publications, their deliveries and sessions, all newer
than BOUND, one transaction each: {"publications": [...], "sessions": [...]}.
"""

from __future__ import annotations

import json
import secrets
import sys

from cfxstore.database import open_database
from cfxstore.realmstore.service import SessionHistory
from cfxstore.timeutil import now_ns

SUBSCRIPTION = 7


def write(history: SessionHistory, n: int) -> dict[str, list[int]]:
    publications, sessions = [], []
    for i in range(n):
        pid, ts = secrets.randbits(53), now_ns()
        publication = history.new_publication(publication_id=pid, topic="com.example.kept", publisher=1,
                                              args=[i], timestamp=ts)
        session = history.new_session(session_id=secrets.randbits(53), realm="realm1", authid="writer",
                                      authrole="user", authmethod="ticket", joined_at=ts)

        def put(txn):
            history.put_publication(txn, publication)
            history.put_deliveries(txn, [(SUBSCRIPTION, ts, 0, pid), (SUBSCRIPTION, ts, 5, pid)])
            history.put_session(txn, session)
            history.leave(txn, (session.session_id, ts + 1))

        history.db.transact(put, retries=100)
        publications.append(pid)
        sessions.append(session.session_id)
    return {"publications": publications, "sessions": sessions}


def main(mode: str, url: str, bound: int, n: int) -> None:
    with open_database(url) as db:
        history = SessionHistory(db)
        print("ready", flush=True)
        sys.stdin.readline()
        if mode == "purge":
            result = {"deleted": sum(history.purge(older_than=bound) for _ in range(n))}
        else:
            result = write(history, n)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
