"""An asyncio component of a management realm that creates and lists roles without blocking its loop.

    CFXSTORE_TICKET=... python asyncio_roles.py ws://127.0.0.1:8080/ws mgmt svc /var/lib/cfxstore/db
"""

import os
import sys

from autobahn.asyncio.wamp import ApplicationRunner, ApplicationSession
from autobahn.wamp.exception import ApplicationError

import cfxstore
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.nonblocking import ServicePool, awaitable


class Roles(ApplicationSession):
    pool = ServicePool(threads=4, max_waiting=100)

    def onConnect(self):
        self.join(self.config.realm, authmethods=["ticket"], authid=self.config.extra["authid"])

    def onChallenge(self, challenge):
        return os.environ["CFXSTORE_TICKET"]

    async def onJoin(self, details):
        # Opening the database waits for it too: in the pool, like every call below.
        mgmt = await awaitable.run(self.pool, lambda: Management(open_database(self.config.extra["db"])))
        self.mgmt = awaitable.wrap(mgmt, self.pool)
        await self.register(self.create, "com.example.roles.create")
        await self.register(self.names, "com.example.roles.names")
        print("roles ready", flush=True)

    async def create(self, name):
        try:
            role = await self.mgmt.roles.create(name=name)
        except cfxstore.Error as exc:  # the service's own refusals (AlreadyExists, ...), and PoolFull
            raise ApplicationError(exc.uri, str(exc))
        return str(role.oid)

    async def names(self):
        page = await self.mgmt.roles.list(limit=100)
        return [role.name for role in page.items]


if __name__ == "__main__":
    url, realm, authid, db = sys.argv[1:5]
    ApplicationRunner(url, realm, extra={"authid": authid, "db": db}).run(Roles)
