"""Several real processes creating and deleting through the services at once: names stay unique,
every refusal is a clear error, and nothing is half written."""

from __future__ import annotations

import multiprocessing

from cfxstore.management import Management

NAMES = [f"shared-{i}" for i in range(30)]


def _worker(path: str, seed: int, queue) -> None:
    from cfxstore.database import open_database
    from cfxstore.management import AlreadyExists

    created = refused = 0
    with open_database(path) as db:
        mgmt = Management(db)
        names = NAMES[seed:] + NAMES[:seed]  # every process starts somewhere else
        for name in names:
            try:
                role = mgmt.roles.create(name=name)
                mgmt.permissions.create(role_oid=role.oid, uri=f"com.{name}.", match="prefix", allow_call=True)
                created += 1
            except AlreadyExists:
                refused += 1
    queue.put((created, refused))


def test_processes_racing_for_the_same_names(db):
    path = db.path
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(path, seed * 7, queue)) for seed in range(4)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert sum(c for c, _ in results) == len(NAMES)
    assert sum(r for _, r in results) == len(NAMES) * (len(procs) - 1)
    mgmt = Management(db)
    roles = mgmt.roles.list(limit=1000).items
    assert sorted(r.name for r in roles) == sorted(NAMES)
    assert all(len(mgmt.permissions.list(role_oid=r.oid).items) == 1 for r in roles)
