"""The one registry of what a process builds once per database and keeps for its life.

A router worker's transports, realms, authenticator and components usually
share one database, and must share one handle and one of each thing built on
it: the services, the write-behind, the cookie backend and its maintenance,
the node run, the availability watch, the authorizer, and the listeners of
the management change feed. Each of those kinds is a Slot; ``registry.get``
returns a slot's one object for a key (a database path, or the Database
itself), building it on first use. Nothing is removed again: what is
registered lives as long as the process.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Generic, Hashable, TypeVar

T = TypeVar("T")


class Slot(Generic[T]):
    """One kind of object kept per database (the name is for reading, lookups go by identity)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<Slot {self.name}>"


class Registry:
    """Per-process objects by slot and key, each built once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[Slot[Any], dict[Hashable, Any]] = {}
        # (slot, key) -> the lock its builder holds. One lock per object, not one for the registry: building
        # may open a database (round trips on PostgreSQL, in a thread), and the reactor getting another,
        # already built object meanwhile must not wait for it. Reentrant: building one object may get
        # another (a cookie backend needs the node's database).
        self._building: dict[tuple[Slot[Any], Hashable], threading.RLock] = {}

    def get(self, slot: Slot[T], key: Hashable, build: Callable[[], T]) -> T:
        """The slot's object for key, built by build() the first time (once, even when threads race)."""
        with self._lock:
            objects = self._objects.setdefault(slot, {})
            if key in objects:
                found: T = objects[key]
                return found
            building = self._building.setdefault((slot, key), threading.RLock())
        with building:
            with self._lock:
                if key in objects:
                    found = objects[key]
                    return found
            made = build()
            with self._lock:
                objects[key] = made
                self._building.pop((slot, key), None)
            return made

    def all(self, slot: Slot[T]) -> list[T]:
        """Every object of slot, in the order their building ended."""
        with self._lock:
            return list(self._objects.get(slot, {}).values())


#: This process's registry.
registry = Registry()
