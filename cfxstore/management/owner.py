"""What the record collections and the relations ask of the service that owns them (Management).

Collections (store.py, principals.py) and relations (relations.py) reach
the service through this protocol instead of importing it: the service
builds on them.
"""

from __future__ import annotations

from typing import Any, Callable, ContextManager, Protocol, TypeVar

from cfxstore.entity import Entity
from cfxstore.management.kinds import Kind, Ref

T = TypeVar("T")


class Owner(Protocol):
    """The owning service (cfxstore.management.service.Management); collections are typed Any here."""

    # The collections relations reach by name (Management sets them up).
    principals: Any
    roles: Any
    arealms: Any

    @property
    def credentials(self) -> Any: ...
    @property
    def cookies(self) -> Any: ...
    def collection(self, kind: str) -> Any: ...
    def schema_of(self, kind: Kind) -> Any: ...
    def referrers(self, kind: str) -> list[tuple[Any, Ref]]: ...
    def transaction(self, txn: Any = None) -> ContextManager[Any]: ...
    def write(self, txn: Any, fn: Callable[[Any], T]) -> T: ...
    def changed(self, txn: Any, kind: Kind, op: str, record: Entity, old: Entity | None = None, *,
                method: str | None = None) -> None: ...
