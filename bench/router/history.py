"""Publishing with event history on, through real routers: cfxstore's realm store vs Crossbar's memory store.

    python -m bench.router.history [--clients 16] [--seconds 5] [--rounds 3]

``--clients`` subscribers and as many publishers (Autobahn clients in this
process, each logged in with a ticket). The subscribers subscribe to the
event-history rule's own pattern (``com.example.``, prefix), so their
subscription is the one whose history both stores keep (a subscription with
another pattern makes Crossbar's memory store log a warning per delivery);
every publisher publishes on one topic under it with acknowledge in a loop
for ``--seconds``, so every publication is delivered to every subscriber. Against, in the same run, configurations taking turns:

* stock ``crossbar start`` with its memory realm store (RAM only, nothing
  persisted), its limit set so high that it never trims (Crossbar's memory
  store raises KeyError when it trims a publication delivered to several
  receivers);
* a cfxstore node (``cfxstore router start``, default config) with the same
  never-reached limit;
* a cfxstore node at the default limit (1000), trimming as it goes.

Per configuration: publications/s (best of ``--rounds``), router CPU per
publication (every process of the node, from /proc, counted until the node
is idle again after the clients stopped, so the cost of committing what was
staged is included) and the router worker's resident memory at the end of
the run (RSS, and the part of it that is the process's own anonymous memory;
LMDB's pages mapped from the database file count in RSS but are the page
cache's). Ratios are against Crossbar's memory store in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from typing import Any, Iterator

from twisted.internet import defer, task

from bench.router.login import REALM, _Node, cfxstore_node, crossbar_node, login_parser, react

TOPIC = "com.example.history"
RULE = {"uri": "com.example.", "match": "prefix"}
NEVER = 10**9  # a limit no run reaches
IDLE_CPU = 0.02  # CPU seconds per IDLE_WINDOW below which a node counts as idle again
IDLE_WINDOW = 0.5


def _limit(limit: int) -> Any:
    """A configure(cbdir) for cfxstore_node: the node's event-history rule keeps ``limit`` events."""
    def configure(cbdir: str) -> None:
        path = os.path.join(cbdir, "config.json")
        with open(path) as f:
            config = json.load(f)
        config["workers"][0]["realms"][0]["store"]["event-history"] = [{**RULE, "limit": limit}]
        with open(path, "w") as f:
            json.dump(config, f)
    return configure


def _session(port: int, ticket: str) -> Any:
    """A joined Autobahn session (ticket "generated"); fires with it."""
    from autobahn.twisted.wamp import ApplicationSession
    from autobahn.twisted.websocket import WampWebSocketClientFactory
    from autobahn.wamp.types import ComponentConfig
    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint

    joined: defer.Deferred = defer.Deferred()

    class Session(ApplicationSession):
        def onConnect(self) -> None:
            self.join(REALM, authmethods=["ticket"], authid="generated")

        def onChallenge(self, challenge: Any) -> str:
            return ticket

        def onJoin(self, details: Any) -> None:
            joined.callback(self)

        def onLeave(self, details: Any) -> None:
            if not joined.called:
                joined.errback(RuntimeError(f"could not join: {details.reason} {details.message}"))
            self.disconnect()

    factory = WampWebSocketClientFactory(lambda: Session(ComponentConfig(REALM)), url=f"ws://127.0.0.1:{port}/")
    TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=10).connect(factory).addErrback(joined.errback)
    return joined


def _worker(node: _Node) -> Any:
    import psutil

    children = psutil.Process(node.proc.pid).children(recursive=True)
    return next(p for p in children if "worker" in " ".join(p.cmdline()))


@defer.inlineCallbacks
def _idle(node: _Node, deadline: float = 120.0) -> Iterator[Any]:
    """Wait until the node's processes use less than IDLE_CPU per IDLE_WINDOW (what was staged is committed)."""
    from twisted.internet import reactor

    end = time.monotonic() + deadline
    last = node.cpu()
    while time.monotonic() < end:
        yield task.deferLater(reactor, IDLE_WINDOW, lambda: None)
        now = node.cpu()
        if now - last < IDLE_CPU:
            return
        last = now


@defer.inlineCallbacks
def run(node: _Node, port: int, ticket: str, clients: int, seconds: float) -> Iterator[Any]:
    """One run: fires with (publications/s, router CPU ms per publication, deliveries seen, worker memory)."""
    from autobahn.wamp.types import PublishOptions, SubscribeOptions

    subscribers = yield defer.gatherResults([_session(port, ticket) for _ in range(clients)])
    publishers = yield defer.gatherResults([_session(port, ticket) for _ in range(clients)])
    received = [0]

    def on_event(*args: Any, **kwargs: Any) -> None:
        received[0] += 1

    rule = SubscribeOptions(match=RULE["match"])
    yield defer.gatherResults([s.subscribe(on_event, RULE["uri"], options=rule) for s in subscribers])
    yield _idle(node)
    options = PublishOptions(acknowledge=True)
    published = [0]
    cpu = node.cpu()
    started = time.monotonic()
    deadline = started + seconds

    @defer.inlineCallbacks
    def loop(session: Any, who: int) -> Iterator[Any]:
        while time.monotonic() < deadline:
            yield session.publish(TOPIC, who, published[0], "payload of a typical event", options=options)
            published[0] += 1

    yield defer.gatherResults([loop(p, i) for i, p in enumerate(publishers)])
    elapsed = time.monotonic() - started
    yield _idle(node)
    cpu_ms = 1000 * (node.cpu() - cpu) / max(published[0], 1)
    worker = _worker(node)
    memory = worker.memory_full_info()
    for s in subscribers + publishers:
        s.leave()
    return published[0] / elapsed, cpu_ms, received[0], (memory.rss, memory.uss)


@defer.inlineCallbacks
def bench(reactor: Any, args: argparse.Namespace) -> Iterator[Any]:
    tmp = tempfile.mkdtemp(prefix="cfxstore-historybench-")
    nodes: list[_Node] = []
    try:
        print(f"# cfxstore history bench: python {platform.python_version()}, {platform.machine()}, "
              f"{os.cpu_count()} cpu(s), {args.clients} publishers and {args.clients} subscribers on one topic, "
              f"{args.seconds:g} s per run, best of {args.rounds}")
        never, never_port, tickets = cfxstore_node(tmp, name="cfxstore-never-trims", configure=_limit(NEVER))
        nodes.append(never)
        trimming, trimming_port, trimming_tickets = cfxstore_node(tmp, name="cfxstore-default-limit")
        nodes.append(trimming)
        memory_store = {"type": "memory", "limit": NEVER, "event-history": [{**RULE, "limit": NEVER}]}
        stock, stock_port = crossbar_node(tmp, tickets["generated"], store=memory_store)
        nodes.append(stock)
        configs = [("crossbar, memory store", stock, stock_port, tickets["generated"]),
                   ("cfxstore, limit never reached", never, never_port, tickets["generated"]),
                   ("cfxstore, default limit (trims)", trimming, trimming_port, trimming_tickets["generated"])]
        best: dict[str, tuple[float, float, int, tuple[int, int]]] = {}
        for _ in range(args.rounds):  # interleaved, so that a busy moment of the machine hits every config
            for label, node, port, ticket in configs:
                result = yield run(node, port, ticket, args.clients, args.seconds)
                if label not in best or result[0] > best[label][0]:
                    best[label] = result
        print(f"{'router':<34}{'publications/s':>15}{'ratio':>8}{'CPU/publication':>17}{'ratio':>8}"
              f"{'deliveries':>12}{'worker RSS':>12}{'own (USS)':>11}")
        base_rate, base_cpu = best[configs[0][0]][:2]
        for label, (rate, cpu_ms, received, (rss, uss)) in best.items():
            print(f"{label:<34}{rate:>15.1f}{rate / base_rate:>7.2f}x{cpu_ms:>14.3f} ms{cpu_ms / base_cpu:>7.2f}x"
                  f"{received:>12}{rss / 2**20:>9.0f} MB{uss / 2**20:>8.0f} MB")
    finally:
        for n in nodes:
            n.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    return react(bench, login_parser("bench.router.history", __doc__).parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
