"""A Twisted component of a management realm that creates and lists roles without blocking its reactor.

    CFXSTORE_TICKET=... python twisted_roles.py ws://127.0.0.1:8080/ws mgmt svc /var/lib/cfxstore/db
"""

import os
import sys

from autobahn.twisted.wamp import ApplicationRunner, ApplicationSession
from autobahn.wamp.exception import ApplicationError
from twisted.internet.defer import inlineCallbacks

import cfxstore
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.nonblocking import ServicePool, deferred


class Roles(ApplicationSession):
    pool = ServicePool(threads=4, max_waiting=100)

    def onConnect(self):
        self.join(self.config.realm, authmethods=["ticket"], authid=self.config.extra["authid"])

    def onChallenge(self, challenge):
        return os.environ["CFXSTORE_TICKET"]

    @inlineCallbacks
    def onJoin(self, details):
        # Opening the database waits for it too: in the pool, like every call below.
        mgmt = yield deferred.run(self.pool, lambda: Management(open_database(self.config.extra["db"])))
        self.mgmt = deferred.wrap(mgmt, self.pool)
        yield self.register(self.create, "com.example.roles.create")
        yield self.register(self.names, "com.example.roles.names")
        print("roles ready", flush=True)

    @inlineCallbacks
    def create(self, name):
        try:
            role = yield self.mgmt.roles.create(name=name)
        except cfxstore.Error as exc:  # the service's own refusals (AlreadyExists, ...), and PoolFull
            raise ApplicationError(exc.uri, str(exc))
        return str(role.oid)

    @inlineCallbacks
    def names(self):
        page = yield self.mgmt.roles.list(limit=100)
        return [role.name for role in page.items]


if __name__ == "__main__":
    url, realm, authid, db = sys.argv[1:5]
    ApplicationRunner(url, realm, extra={"authid": authid, "db": db}).run(Roles)
