"""Records of the realm store: sessions, publications and the events read back.

Sessions and publications are stored; an Event is what a history read
returns: one delivery joined with the publication it delivered.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from cfxstore.entity import Entity
from cfxstore.errors import InvalidArgument
from cfxstore.fields import time, uint64


@dataclasses.dataclass(kw_only=True)
class Session(Entity):
    """One WAMP session on a realm. left_at stays None while it is joined.

    ``run`` names the router process run that recorded it, so a run that
    crashed can have its sessions closed by the next one; their left_at is
    then the last time the run was known alive and ``left_approximate`` is True.
    """

    oid: uuid.UUID
    session_id: int = uint64()
    realm: str
    authid: str | None = None
    authrole: str | None = None
    authmethod: str | None = None
    authprovider: str | None = None
    authextra: dict[str, Any] | None = None
    transport: dict[str, Any] | None = None
    joined_at: int = time()
    left_at: int | None = time(default=None)
    left_approximate: bool | None = None
    run: str | None = None

    def validate(self) -> None:
        super().validate()
        if self.left_at is not None and self.left_at < self.joined_at:
            raise InvalidArgument(f"Session.left_at: {self.left_at} is before joined_at {self.joined_at}")


@dataclasses.dataclass(kw_only=True)
class Run(Entity):
    """One router process's use of the database: alive is its last heartbeat."""

    run: str
    host: str
    pid: int = uint64()
    started: int = time()
    alive: int = time()


@dataclasses.dataclass(kw_only=True)
class Publication(Entity):
    """A publication on a topic with event history."""

    publication_id: int = uint64()
    topic: str
    publisher: int | None = uint64(default=None)
    # Lists, not tuples: tuples would read back as lists from CBOR, and a
    # stored record must equal the one that was written.
    args: list[Any] | None = None
    kwargs: dict[str, Any] | None = None
    publisher_authid: str | None = None
    publisher_authrole: str | None = None
    timestamp: int = time()


@dataclasses.dataclass(kw_only=True)
class Event(Entity):
    """One delivery of a publication to a subscriber.

    The publication fields are None when the publication itself was not
    stored (or has been purged).
    """

    timestamp: int = time()
    subscription_id: int = uint64()
    receiver: int = uint64()
    publication_id: int = uint64()
    topic: str | None = None
    args: list[Any] | None = None
    kwargs: dict[str, Any] | None = None
    publisher: int | None = uint64(default=None)
    publisher_authid: str | None = None
    publisher_authrole: str | None = None

    @classmethod
    def of(cls, subscription_id: int, timestamp: int, receiver: int, publication_id: int,
           publication: Publication | None) -> Event:
        """The event for one delivery key, joined with its publication (if stored)."""
        if publication is None:
            return cls(timestamp=timestamp, subscription_id=subscription_id, receiver=receiver,
                       publication_id=publication_id)
        return cls(timestamp=timestamp, subscription_id=subscription_id, receiver=receiver,
                   publication_id=publication_id, topic=publication.topic, args=publication.args,
                   kwargs=publication.kwargs, publisher=publication.publisher,
                   publisher_authid=publication.publisher_authid,
                   publisher_authrole=publication.publisher_authrole)
