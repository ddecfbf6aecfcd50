"""Run the management API or the store-backed authorizer as a standalone WAMP client of any router.

    CFXSTORE_TICKET=... python -m cfxstore.router.standalone management \\
        --url ws://127.0.0.1:8080/ws --realm mgmt --authid svc --db /var/lib/cfxstore/db

    CFXSTORE_TICKET=... python -m cfxstore.router.standalone authorizer \\
        --url ws://127.0.0.1:8080/ws --realm realm1 --authid svc --db /var/lib/cfxstore/db

The ticket comes from the environment (CFXSTORE_TICKET), never from the
command line where process listings would show it; without one the
component joins anonymously. It reconnects when the router restarts.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from autobahn.twisted.wamp import ApplicationRunner

from cfxstore.errors import InvalidArgument
from cfxstore.node.errors import RouterConfigError
from cfxstore.router.components import parse_extra

__all__ = ["main"]

COMPONENTS = {
    "management": "cfxstore.router.management.ManagementComponent",
    "authorizer": "cfxstore.router.authorizer.StoreAuthorizerComponent",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cfxstore.router.standalone", description=__doc__.split("\n\n")[0])
    p.add_argument("component", choices=sorted(COMPONENTS))
    p.add_argument("--url", required=True, help="WebSocket URL of the router, e.g. ws://127.0.0.1:8080/ws")
    p.add_argument("--realm", required=True, help="Realm to join (the management realm, or the application realm)")
    p.add_argument("--authid", default=None, help="authid to log in with (ticket from CFXSTORE_TICKET)")
    p.add_argument("--db", required=True, help="cfxstore database directory")
    p.add_argument("--prefix", default=None, help="URI prefix of the management procedures")
    p.add_argument("--procedure", default=None, help="URI the authorizer registers")
    p.add_argument("--admin-role", action="append", dest="admin_roles", default=None,
                   help="Role allowed to call the management API (repeatable; default admin)")
    p.add_argument("--store-realm", default=None, help="Stored application realm to answer for (default: --realm)")
    return p


def _extra(args: argparse.Namespace) -> dict[str, Any]:
    extra: dict[str, Any] = {"path": os.path.abspath(args.db)}
    for name in ("prefix", "procedure", "admin_roles", "store_realm"):
        if getattr(args, name) is not None:
            extra[name] = getattr(args, name)
    return extra


def _with_login(cls: type, authid: str | None, ticket: str | None) -> type:
    class Standalone(cls):
        def onConnect(self) -> None:
            methods = ["ticket"] if ticket else ["anonymous"]
            self.join(self.config.realm, authmethods=methods, authid=authid)

        def onChallenge(self, challenge: Any) -> str:
            if challenge.method != "ticket" or not ticket:
                raise InvalidArgument(f"cannot answer a {challenge.method} challenge")
            return ticket

    return Standalone


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    extra = _extra(args)
    try:
        parse_extra(extra, key="options")
    except RouterConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    module, _, name = COMPONENTS[args.component].rpartition(".")
    cls = getattr(__import__(module, fromlist=[name]), name)
    component = _with_login(cls, args.authid, os.environ.get("CFXSTORE_TICKET"))
    ApplicationRunner(args.url, args.realm, extra=extra).run(component, auto_reconnect=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
