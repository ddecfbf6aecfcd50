"""Reading stored event history for operators: each publication once, with the sessions it reached.

A publication is stored once; each delivery is a key (history subscription,
timestamp, receiver, publication). Receiver 0 marks that the publication
matched a history subscription (so history exists with nobody subscribed);
it is not a session and is not shown as a receiver.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

from cfxstore.realmstore.entities import Publication

_MIN_TS, _MAX_TS = -(2**63), 2**63 - 1
_UINT64_MAX = 2**64 - 1
#: Deliveries are recorded a moment after their publication; receivers are looked for this long after it.
DELIVERY_WINDOW_NS = 60 * 1_000_000_000


@dataclasses.dataclass
class PublicationEvents:
    """One stored publication (None if purged) with its history subscriptions and receivers."""

    publication_id: int
    timestamp: int
    publication: Publication | None
    subscriptions: set[int] = dataclasses.field(default_factory=set)
    receivers: set[int] = dataclasses.field(default_factory=set)

    def marshal(self) -> dict[str, Any]:
        data: dict[str, Any] = self.publication.marshal() if self.publication is not None else {
            "publication_id": self.publication_id, "timestamp": self.timestamp}
        data["subscriptions"] = sorted(self.subscriptions)
        data["receivers"] = sorted(self.receivers)
        return data


def subscriptions(history: Any) -> list[tuple[int, int, int, str | None]]:
    """Every history subscription id: (id, deliveries, latest delivery time, a topic it recorded)."""
    deliveries, publications = history.schema.deliveries, history.schema.publications
    found = []
    with history.db.begin() as txn:
        for sub in _subscription_ids(deliveries, txn):
            count = sum(1 for _ in deliveries.select(txn, prefix=(sub,), return_values=False))
            last = next(iter(deliveries.select(txn, prefix=(sub,), reverse=True, limit=1, return_values=False)))
            publication = publications[txn, last[3]]
            found.append((sub, count, last[1], publication.topic if publication is not None else None))
    return found


def by_subscription(history: Any, subscription: int, since: int | None, until: int | None,
                    limit: int) -> list[PublicationEvents]:
    """The newest limit publications delivered on a history subscription, newest first."""
    deliveries = history.schema.deliveries
    with history.db.begin() as txn:
        keys = deliveries.select(txn, from_key=(subscription, _MIN_TS if since is None else since),
                                 to_key=(subscription, _MAX_TS if until is None else until), reverse=True,
                                 return_values=False)
        pids: dict[int, int] = {}
        for _, ts, _, pid in keys:
            if pid not in pids:
                if len(pids) == limit:
                    break
                pids[pid] = ts
        return _complete(history, txn, pids)


def by_topic(history: Any, topic: str, since: int | None, until: int | None, limit: int) -> list[PublicationEvents]:
    """The newest limit stored publications on topic (whatever subscription recorded them), newest first."""
    index = history.schema.idx_publications_by_topic
    with history.db.begin() as txn:
        ids = index.select(txn, from_key=(topic, _MIN_TS if since is None else since),
                           to_key=(topic, _MAX_TS if until is None else until), reverse=True, limit=limit,
                           return_keys=False)
        return _complete(history, txn, {pid: 0 for pid in ids})


def _complete(history: Any, txn: Any, pids: dict[int, int]) -> list[PublicationEvents]:
    """PublicationEvents of pids (publication id: a delivery time), newest first, with every receiver."""
    publications = history.schema.publications
    found = {}
    for pid, ts in pids.items():
        publication = publications[txn, pid]
        found[pid] = PublicationEvents(pid, publication.timestamp if publication is not None else ts, publication)
    if found:
        _add_receivers(history, txn, found)
    return sorted(found.values(), key=lambda e: e.timestamp, reverse=True)


def _add_receivers(history: Any, txn: Any, found: dict[int, PublicationEvents]) -> None:
    """Fill in subscriptions and receivers: one range read per history subscription over the listed times."""
    deliveries = history.schema.deliveries
    first = min(e.timestamp for e in found.values())
    last = max(e.timestamp for e in found.values()) + DELIVERY_WINDOW_NS
    for sub in _subscription_ids(deliveries, txn):
        for _, _, receiver, pid in deliveries.select(txn, from_key=(sub, first), to_key=(sub, last),
                                                     return_values=False):
            item = found.get(pid)
            if item is not None:
                item.subscriptions.add(sub)
                if receiver:
                    item.receivers.add(receiver)


def _subscription_ids(deliveries: Any, txn: Any) -> Iterator[int]:
    start: tuple[int] | None = None
    while True:
        first = next(iter(deliveries.select(txn, from_key=start, limit=1, return_values=False)), None)
        if first is None:
            return
        yield first[0]
        if first[0] == _UINT64_MAX:
            return
        start = (first[0] + 1,)
