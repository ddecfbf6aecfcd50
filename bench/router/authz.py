"""Benchmark: store-backed authorization vs Crossbar's static authorizer; management calls vs raw LMDB.

    python -m bench.router.authz [--n 20000] [--rounds 3] [--sync on|off]

Authorization decisions per second, same permissions (exact, prefix and
wildcard mixed), same URIs, same run:

* Crossbar's RouterRoleStaticAuth.authorize (in memory, what a static role costs);
* StoreAuthorizer with its cache (the steady state of a router);
* StoreAuthorizer without cache (every decision reads the role, realm,
  association and permissions from LMDB: the cost right after a change).

Management service calls per second against raw py-lmdb + cbor2 doing the
same storage work: creating a role (one write transaction each, the service
also checking names and maintaining the name index), and listing a page of
100 roles by name out of 1000.

Every figure is the best of --rounds, timed with the cyclic GC off.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import uuid
from typing import Any, Callable

import cbor2
import lmdb

from bench.orm import timed

ACTIONS = ("call", "register", "publish", "subscribe")


def _permissions() -> list[dict[str, Any]]:
    """20 permissions of one role: exact, prefix and wildcard URIs."""
    rows = []
    for i in range(8):
        rows.append({"uri": f"com.example.app{i}.", "match": "prefix", "call": True, "subscribe": True})
        rows.append({"uri": f"com.example.app{i}.admin", "match": "exact", "call": i % 2 == 0})
    for i in range(4):
        # Distinct literal starts: Crossbar keeps one wildcard per start (see rules.py).
        rows.append({"uri": f"com.wild{i}..event", "match": "wildcard", "publish": True, "subscribe": True})
    return rows


def _uris(n: int) -> list[tuple[str, str]]:
    kinds = [lambda i: f"com.example.app{i % 8}.proc{i % 13}", lambda i: f"com.example.app{i % 8}.admin",
             lambda i: f"com.wild{i % 5}.x{i % 3}.event", lambda i: f"org.other.thing{i % 7}"]
    return [(kinds[i % 4](i), ACTIONS[i % 4]) for i in range(n)]


def bench_authorization(n: int, rounds: int, path: str) -> dict[str, float]:
    from crossbar.router.role import RouterRoleStaticAuth

    from cfxstore.database import open_database
    from cfxstore.management import Management
    from cfxstore.management.authorizer import StoreAuthorizer

    rows = _permissions()
    static = RouterRoleStaticAuth(None, "app", permissions=[
        {"uri": r["uri"], "match": r["match"], "cache": True,
         "allow": {a: r.get(a, False) for a in ACTIONS}, "disclose": {"caller": False, "publisher": False}}
        for r in rows])
    db = open_database(path, sync=False)
    try:
        m = Management(db)
        realm, role = m.arealms.create(name="realm1"), m.roles.create(name="app")
        m.arealm_roles.create(arealm_oid=realm.oid, role_oid=role.oid)
        for r in rows:
            m.permissions.create(role_oid=role.oid, uri=r["uri"], match=r["match"],
                                 **{f"allow_{a}": r.get(a, False) for a in ACTIONS})
        questions = _uris(n)
        cached, uncached = StoreAuthorizer(db), StoreAuthorizer(db, cache=False)

        # The three sides must agree before their speed means anything.
        for uri, action in questions[:200]:
            want = static.authorize(None, uri, action, {})["allow"]
            for side in (cached, uncached):
                if side.authorize("realm1", "app", uri, action)["allow"] != want:
                    raise RuntimeError(f"the authorizers disagree on {action} {uri}")

        def run_static() -> None:
            for uri, action in questions:
                static.authorize(None, uri, action, {})

        def run_cached() -> None:
            for uri, action in questions:
                cached.authorize("realm1", "app", uri, action)

        def run_uncached() -> None:
            for uri, action in questions[: n // 10]:
                uncached.authorize("realm1", "app", uri, action)

        out = {"static": 0.0, "cached": 0.0, "uncached": 0.0}
        for _ in range(rounds):
            for name, fn, count in (("static", run_static, n), ("cached", run_cached, n),
                                    ("uncached", run_uncached, n // 10)):
                out[name] = max(out[name], count / timed(fn))
        return out
    finally:
        db.close()


def bench_management(n: int, rounds: int, base: str, sync: bool) -> dict[str, float]:
    from cfxstore.database import open_database
    from cfxstore.management import Management
    from cfxstore.mrealm.entities import Role

    out = {"create": 0.0, "raw_create": 0.0, "list": 0.0, "raw_list": 0.0, "raw_list_records": 0.0}
    lists = max(n // 20, 50)
    for r in range(rounds):
        db = open_database(os.path.join(base, f"svc{r}"), sync=sync)
        env = lmdb.open(os.path.join(base, f"raw{r}"), max_dbs=4, map_size=2**28, sync=sync)
        roles_db, names_db = env.open_db(b"roles"), env.open_db(b"names")
        try:
            m = Management(db)
            names = [f"role-{i:06d}" for i in range(n)]

            def create() -> None:
                for name in names:
                    m.roles.create(name=name)

            def raw_create() -> None:
                for name in names:
                    role = Role(name=name)
                    with env.begin(write=True) as txn:
                        key = role.oid.bytes
                        if txn.get(name.encode(), db=names_db) is not None:
                            raise ValueError(name)
                        txn.put(key, cbor2.dumps(role.marshal()), db=roles_db)
                        txn.put(name.encode(), key, db=names_db)

            def list_() -> None:
                for _ in range(lists):
                    m.roles.list(limit=100)

            def raw_list(decode: Callable[[Any], Any] = lambda d: d) -> None:
                for _ in range(lists):
                    with env.begin() as txn:
                        cur = txn.cursor(db=names_db)
                        page = []
                        for _, key in cur:
                            page.append(decode(cbor2.loads(txn.get(key, db=roles_db))))
                            if len(page) == 100:
                                break

            def raw_list_records() -> None:
                # The same, building the validated records the service returns.
                raw_list(lambda d: Role.parse({**d, "oid": uuid.UUID(bytes=d["oid"].bytes)}))

            out["create"] = max(out["create"], n / timed(create))
            out["raw_create"] = max(out["raw_create"], n / timed(raw_create))
            out["list"] = max(out["list"], lists / timed(list_))
            out["raw_list"] = max(out["raw_list"], lists / timed(raw_list))
            out["raw_list_records"] = max(out["raw_list_records"], lists / timed(raw_list_records))
        finally:
            db.close()
            env.close()
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=20000, help="decisions per round (creates: n / 10)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sync", choices=["on", "off"], default="on", help="LMDB sync for the management writes")
    args = p.parse_args(argv)
    base = tempfile.mkdtemp(prefix="cfxstore-authzbench-")
    try:
        a = bench_authorization(args.n, args.rounds, os.path.join(base, "authz"))
        w = bench_management(max(args.n // 10, 100), args.rounds, base, args.sync == "on")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"python {platform.python_version()}, {platform.machine()}, n={args.n}, rounds={args.rounds}, "
          f"sync={args.sync}")
    print("authorization decisions/s (20 permissions: exact, prefix, wildcard)")
    print(f"  crossbar RouterRoleStaticAuth  {a['static']:>12,.0f}")
    print(f"  cfxstore StoreAuthorizer cached    {a['cached']:>12,.0f}   {a['cached'] / a['static']:.2f}x static")
    print(f"  cfxstore StoreAuthorizer uncached  {a['uncached']:>12,.0f}   {a['uncached'] / a['static']:.2f}x static")
    print("management service calls/s vs raw py-lmdb + cbor2")
    print(f"  role create        {w['create']:>10,.0f}   raw {w['raw_create']:>10,.0f}   "
          f"{w['create'] / w['raw_create']:.2f}x raw")
    print(f"  role list (100)    {w['list']:>10,.0f}   raw {w['raw_list']:>10,.0f}   "
          f"{w['list'] / w['raw_list']:.2f}x raw")
    print(f"  raw list building Role records   {w['raw_list_records']:>10,.0f}   "
          f"(the service is {w['list'] / w['raw_list_records']:.2f}x this)")


if __name__ == "__main__":
    main()
