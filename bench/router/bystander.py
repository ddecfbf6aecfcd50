"""A client that calls a procedure in a loop and keeps each call's round trip, in a process of its own.

    python -m bench.router.bystander PORT AUTHID TICKET [--pause-ms 5]

It logs in to the router on 127.0.0.1:PORT with a ticket, registers
``bench.bystander.echo``, prints ``ready`` and then calls it, again and
again with ``--pause-ms`` between an answer and the next call. Commands on
stdin, one a line: ``reset`` forgets the round trips so far and calls
(again); ``report`` prints those since as JSON (calls, p50, p99 and max in
ms) and stops calling until the next ``reset``. It stops when
stdin ends, or (exit status 1) when the router goes. Being its own process,
its round trips are the router's and not those of a busy benchmark client.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Iterator

from twisted.internet import defer

from bench.router.login import REALM, react

PROCEDURE = "bench.bystander.echo"


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0-100) of samples, nearest rank; 0.0 for none."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def summary(samples: list[float]) -> dict[str, float]:
    return {"calls": len(samples), "p50": 1000 * percentile(samples, 50), "p99": 1000 * percentile(samples, 99),
            "max": 1000 * max(samples, default=0.0)}


@defer.inlineCallbacks
def run(reactor: Any, args: argparse.Namespace) -> Iterator[Any]:
    from autobahn.twisted.wamp import ApplicationSession
    from autobahn.twisted.websocket import WampWebSocketClientFactory
    from autobahn.wamp.types import ComponentConfig
    from twisted.internet import stdio, task
    from twisted.internet.endpoints import TCP4ClientEndpoint
    from twisted.protocols.basic import LineReceiver

    samples: list[float] = []
    finished: defer.Deferred = defer.Deferred()
    resumed: list[defer.Deferred] = []  # while reported and not reset: what the calling loop waits on

    class Commands(LineReceiver):
        delimiter = b"\n"

        def lineReceived(self, line: bytes) -> None:
            if line.strip() == b"reset":
                samples.clear()
                while resumed:
                    resumed.pop().callback(None)
            elif line.strip() == b"report":
                print(json.dumps(summary(samples)), flush=True)
                resumed.append(defer.Deferred())

        def connectionLost(self, reason: Any = None) -> None:
            finished.called or finished.callback(0)

    class Session(ApplicationSession):
        def onConnect(self) -> None:
            self.join(REALM, authmethods=["ticket"], authid=args.authid)

        def onChallenge(self, challenge: Any) -> str:
            return args.ticket

        @defer.inlineCallbacks
        def onJoin(self, details: Any) -> Iterator[Any]:
            yield self.register(lambda x: x, PROCEDURE)
            print("ready", flush=True)
            stdio.StandardIO(Commands())
            while not finished.called:
                if resumed:
                    yield resumed[-1]
                started = time.perf_counter()
                yield self.call(PROCEDURE, 1)
                samples.append(time.perf_counter() - started)
                yield task.deferLater(reactor, args.pause_ms / 1000, lambda: None)

        def onDisconnect(self) -> None:
            finished.called or finished.callback(1)

    factory = WampWebSocketClientFactory(lambda: Session(ComponentConfig(REALM)), url=f"ws://127.0.0.1:{args.port}/")
    yield TCP4ClientEndpoint(reactor, "127.0.0.1", args.port, timeout=10).connect(factory)
    status = yield finished
    if status:
        raise SystemExit(status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.router.bystander", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("port", type=int)
    parser.add_argument("authid")
    parser.add_argument("ticket")
    parser.add_argument("--pause-ms", type=float, default=5.0, help="pause between an answer and the next call")
    return react(run, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
