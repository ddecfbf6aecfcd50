"""Benchmark through a real cfxstore router: what the store-backed authorizer costs a WAMP client,
and management API calls per second.

    python -m bench.router.authz_router [--calls 5000] [--inflight 50] [--rounds 3]

One router process (``cfxstore router start``) with realm1 and a management
realm. Clients in this process, over WebSocket:

* calls/s of a session whose role has static permissions in the node config,
  vs one whose role is authorized by cfxstore.authorize from the store (same
  procedure, same callee, ``--inflight`` calls outstanding);
* management API calls/s: ``role.create`` and ``role.list`` (a page of 100).

Every figure is the best of --rounds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

P = "cfxstore.mgmt."
DB = "cfxstore-db"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_router(cbdir: str, port: int) -> subprocess.Popen:
    from cfxstore.node import nodeconfig
    from cfxstore.router.managementconfig import add_authorizer, add_management

    config = nodeconfig.default_config(port=port)
    add_management(config, db=DB)
    add_authorizer(config, realm="realm1", roles=["app"], db=DB)
    realm1 = config["workers"][0]["realms"][0]
    realm1["roles"].append({"name": "static", "permissions": [{
        "uri": "com.bench.", "match": "prefix", "cache": True,
        "allow": {"call": True, "register": False, "publish": False, "subscribe": False}}]})
    nodeconfig.write_config(cbdir, config)
    log = open(os.path.join(cbdir, "router.log"), "a")
    proc = subprocess.Popen([sys.executable, "-m", "cfxstore.cli.main", "router", "start", "--cbdir", cbdir,
                             "--loglevel", "info"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"the router exited; see {cbdir}/router.log")
            time.sleep(0.1)
    else:
        raise RuntimeError("the router did not start within 60 s")
    return proc


def _principals(cbdir: str) -> dict[str, str]:
    from argon2 import PasswordHasher, Type

    from cfxstore.credentials.service import CredentialService
    from cfxstore.database import open_database
    from cfxstore.management import Management

    tickets = {}
    with open_database(os.path.join(cbdir, DB)) as db:
        creds = CredentialService(db, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1,
                                                            type=Type.ID))
        m = Management(db, credentials=creds)
        for realm, authid, role in (("mgmt", "ops", "admin"), ("realm1", "callee", "user"),
                                    ("realm1", "st", "static"), ("realm1", "dy", "app")):
            tickets[authid] = f"bench-{authid}"
            principal = creds.get_principal(realm, authid)
            if principal is None:
                m.principals.create(realm=realm, authid=authid, role=role, ticket=tickets[authid])
            else:
                m.principals.set_secret(principal.oid, "ticket", tickets[authid])
        realm, role = m.arealms.create(name="realm1"), m.roles.create(name="app")
        m.arealm_roles.create(arealm_oid=realm.oid, role_oid=role.oid)
        m.permissions.create(role_oid=role.oid, uri="com.bench.", match="prefix", allow_call=True)
    return tickets


def _quiet_serializers() -> None:
    # As Crossbar's CLI does: keeps an optional serializer's NumPy ABI notice off the console.
    import crossbar

    getattr(crossbar, "_import_serializers_quietly", lambda: None)()


def _run(port: int, tickets: dict[str, str], args: argparse.Namespace) -> dict[str, float]:
    from autobahn.twisted.wamp import ApplicationSession
    from autobahn.twisted.websocket import WampWebSocketClientFactory
    from autobahn.wamp.types import ComponentConfig
    from twisted.internet import defer, reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint
    from twisted.python.failure import Failure

    class Client(ApplicationSession):
        def __init__(self, realm: str, authid: str) -> None:
            super().__init__(ComponentConfig(realm))
            self._login_authid = authid
            self.ready: defer.Deferred = defer.Deferred()

        def onConnect(self) -> None:
            self.join(self.config.realm, authmethods=["ticket"], authid=self._login_authid)

        def onChallenge(self, challenge: Any) -> str:
            return tickets[self._login_authid]

        def onJoin(self, details: Any) -> None:
            self.ready.callback(self)

    @defer.inlineCallbacks
    def connect(realm: str, authid: str):
        session = Client(realm, authid)
        factory = WampWebSocketClientFactory(lambda: session, url=f"ws://127.0.0.1:{port}/")
        yield TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(factory)
        return (yield session.ready)

    @defer.inlineCallbacks
    def rate(call, count: int):
        """calls/s with args.inflight calls outstanding."""
        it = iter(range(count))

        @defer.inlineCallbacks
        def worker():
            for i in it:
                yield call(i)

        t0 = time.perf_counter()
        yield defer.gatherResults([worker() for _ in range(args.inflight)], consumeErrors=True)
        return count / (time.perf_counter() - t0)

    out = {"static": 0.0, "store": 0.0, "create": 0.0, "list": 0.0}

    @defer.inlineCallbacks
    def main():
        callee = yield connect("realm1", "callee")
        yield callee.register(lambda x: x, "com.bench.echo")
        static = yield connect("realm1", "st")
        store = yield connect("realm1", "dy")
        ops = yield connect("mgmt", "ops")
        for r in range(args.rounds):
            out["static"] = max(out["static"], (yield rate(lambda i: static.call("com.bench.echo", i), args.calls)))
            out["store"] = max(out["store"], (yield rate(lambda i: store.call("com.bench.echo", i), args.calls)))
            n = args.calls // 5
            out["create"] = max(out["create"], (yield rate(
                lambda i, r=r: ops.call(P + "role.create", {"name": f"bench-{r}-{i}"}), n)))
            out["list"] = max(out["list"], (yield rate(lambda i: ops.call(P + "role.list", limit=100), n // 5)))

    failures: list[Any] = []

    def finish(result: Any) -> None:
        if isinstance(result, Failure):
            failures.append(result)
        reactor.stop()

    reactor.callWhenRunning(lambda: main().addBoth(finish))
    reactor.run()
    if failures:
        failures[0].raiseException()
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=5000)
    p.add_argument("--inflight", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    _quiet_serializers()
    cbdir = tempfile.mkdtemp(prefix="cfxstore-routerbench-")
    port = _free_port()
    proc = None
    try:
        proc = _start_router(cbdir, port)
        tickets = _principals(cbdir)
        out = _run_when_ready(port, tickets, args, cbdir)
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(cbdir, ignore_errors=True)
    print(f"through a cfxstore router, {args.calls} calls, {args.inflight} in flight, best of {args.rounds}")
    print(f"  calls/s, role with static permissions     {out['static']:>9,.0f}")
    ratio = out["store"] / out["static"]
    print(f"  calls/s, role authorized from the store   {out['store']:>9,.0f}   {ratio:.2f}x static")
    print(f"  management role.create calls/s           {out['create']:>9,.0f}")
    print(f"  management role.list (100) calls/s       {out['list']:>9,.0f}")


def _run_when_ready(port: int, tickets: dict[str, str], args: argparse.Namespace, cbdir: str) -> dict[str, float]:
    log = os.path.join(cbdir, "router.log")
    deadline = time.monotonic() + 60
    while "configured and ready" not in open(log).read():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the router did not get ready; see {log}")
        time.sleep(0.1)
    return _run(port, tickets, args)


if __name__ == "__main__":
    main()
