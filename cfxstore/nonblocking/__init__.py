"""Service calls that never make an event loop wait for the database.

Every cfxstore service is synchronous: a call waits for its database, which
on an event loop's thread stalls every connection the loop serves. Here any
service object (Management and its collections, CookieService,
CredentialService, SessionHistory, ChangeFeed, ...) is wrapped so that each
public method runs in a bounded pool of threads (``ServicePool``) and returns
at once:

* ``cfxstore.nonblocking.deferred.wrap(service, pool)``: Deferreds, for Twisted;
* ``cfxstore.nonblocking.awaitable.wrap(service, pool)``: awaitables, for asyncio.

Each call is one call of the synchronous service in one thread: its
transaction, retries and refusals are those of the service. docs/management.md
shows both forms in a component.
"""

from cfxstore.nonblocking.pool import PoolClosed, PoolFull, ServicePool

__all__ = ["ServicePool", "PoolFull", "PoolClosed"]
