"""The per-process registry builds each slot's object once per key and keeps it."""

from __future__ import annotations

import threading

from cfxstore.registry import Registry, Slot

NAMES: Slot[list[str]] = Slot("names")
COUNTS: Slot[dict[str, int]] = Slot("counts")


def test_an_object_is_built_once_per_slot_and_key():
    registry, built = Registry(), []

    def build() -> list[str]:
        built.append(1)
        return []

    first = registry.get(NAMES, "/db/a", build)
    assert registry.get(NAMES, "/db/a", build) is first
    assert registry.get(NAMES, "/db/b", build) is not first
    assert registry.get(COUNTS, "/db/a", dict) == {}  # another slot, same key: its own object
    assert len(built) == 2
    assert registry.all(NAMES) == [first, registry.get(NAMES, "/db/b", build)]


def test_threads_racing_for_one_key_share_one_object():
    registry, start = Registry(), threading.Barrier(8)
    seen: list[object] = []

    def get() -> None:
        start.wait()
        seen.append(registry.get(NAMES, "/db", list))

    threads = [threading.Thread(target=get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(seen) == 8 and all(obj is seen[0] for obj in seen)


def test_building_one_object_may_get_another():
    registry = Registry()
    counts = registry.get(COUNTS, "/db", lambda: {"names": len(registry.get(NAMES, "/db", list))})
    assert counts == {"names": 0} and registry.all(NAMES) == [[]]


def test_getting_a_built_object_does_not_wait_for_another_being_built():
    """Building may open a database (round trips): another slot or key is served meanwhile."""
    registry, entered, release = Registry(), threading.Event(), threading.Event()
    ready = registry.get(COUNTS, "/db/ready", dict)

    def slow() -> list[str]:
        entered.set()
        release.wait(10)
        return []

    builder = threading.Thread(target=registry.get, args=(NAMES, "/db/slow", slow))
    builder.start()
    try:
        assert entered.wait(10)
        assert registry.get(COUNTS, "/db/ready", dict) is ready
        assert registry.get(NAMES, "/db/other", list) == []
        assert builder.is_alive() and not release.is_set()  # served while the other was still being built
    finally:
        release.set()
        builder.join(10)
    assert registry.get(NAMES, "/db/slow", list) == []
