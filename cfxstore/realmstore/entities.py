"""Records of the realm store: sessions, publications and the events read back.

Sessions and publications are stored; an Event is what a history read
returns: one delivery joined with the publication it delivered.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from cfxstore.entity import Entity, require_ns, require_str, require_type, require_uint64, require_uuid
from cfxstore.errors import InvalidArgument



@dataclasses.dataclass(kw_only=True)
class Session(Entity):
    """One WAMP session on a realm. left_at stays None while it is joined.

    ``run`` names the router process run that recorded it, so a run that
    crashed can have its sessions closed by the next one; their left_at is
    then the last time the run was known alive and ``left_approximate`` is True.
    """

    oid: uuid.UUID
    session_id: int
    realm: str
    authid: str | None = None
    authrole: str | None = None
    authmethod: str | None = None
    authprovider: str | None = None
    authextra: dict[str, Any] | None = None
    transport: dict[str, Any] | None = None
    joined_at: int
    left_at: int | None = None
    left_approximate: bool | None = None
    run: str | None = None

    def validate(self) -> None:
        owner = "Session"
        require_uuid(owner, "oid", self.oid)
        require_uint64(owner, "session_id", self.session_id)
        require_str(owner, "realm", self.realm)
        for name in ("authid", "authrole", "authmethod", "authprovider"):
            require_str(owner, name, getattr(self, name), optional=True)
        require_type(owner, "authextra", self.authextra, dict, optional=True)
        require_type(owner, "transport", self.transport, dict, optional=True)
        require_ns(owner, "joined_at", self.joined_at)
        require_ns(owner, "left_at", self.left_at, optional=True)
        if self.left_at is not None and self.left_at < self.joined_at:
            raise InvalidArgument(f"Session.left_at: {self.left_at} is before joined_at {self.joined_at}")
        require_type(owner, "left_approximate", self.left_approximate, bool, optional=True)
        require_str(owner, "run", self.run, optional=True)


@dataclasses.dataclass(kw_only=True)
class Run(Entity):
    """One router process's use of the database: alive is its last heartbeat."""

    run: str
    host: str
    pid: int
    started: int
    alive: int

    def validate(self) -> None:
        owner = "Run"
        require_str(owner, "run", self.run)
        require_str(owner, "host", self.host)
        require_uint64(owner, "pid", self.pid)
        require_ns(owner, "started", self.started)
        require_ns(owner, "alive", self.alive)


def _validate_payload(owner: str, args: Any, kwargs: Any) -> None:
    # Tuples would read back as lists from CBOR; accepting only lists keeps
    # a stored record equal to the one that was written.
    require_type(owner, "args", args, list, optional=True)
    require_type(owner, "kwargs", kwargs, dict, optional=True)


@dataclasses.dataclass(kw_only=True)
class Publication(Entity):
    """A publication on a topic with event history."""

    publication_id: int
    topic: str
    publisher: int | None = None
    args: list[Any] | None = None
    kwargs: dict[str, Any] | None = None
    publisher_authid: str | None = None
    publisher_authrole: str | None = None
    timestamp: int

    def validate(self) -> None:
        owner = "Publication"
        require_uint64(owner, "publication_id", self.publication_id)
        require_str(owner, "topic", self.topic)
        require_uint64(owner, "publisher", self.publisher, optional=True)
        _validate_payload(owner, self.args, self.kwargs)
        require_str(owner, "publisher_authid", self.publisher_authid, optional=True)
        require_str(owner, "publisher_authrole", self.publisher_authrole, optional=True)
        require_ns(owner, "timestamp", self.timestamp)


@dataclasses.dataclass(kw_only=True)
class Event(Entity):
    """One delivery of a publication to a subscriber.

    The publication fields are None when the publication itself was not
    stored (or has been purged).
    """

    timestamp: int
    subscription_id: int
    receiver: int
    publication_id: int
    topic: str | None = None
    args: list[Any] | None = None
    kwargs: dict[str, Any] | None = None
    publisher: int | None = None
    publisher_authid: str | None = None
    publisher_authrole: str | None = None

    def validate(self) -> None:
        owner = "Event"
        require_ns(owner, "timestamp", self.timestamp)
        require_uint64(owner, "subscription_id", self.subscription_id)
        require_uint64(owner, "receiver", self.receiver)
        require_uint64(owner, "publication_id", self.publication_id)
        require_str(owner, "topic", self.topic, optional=True)
        _validate_payload(owner, self.args, self.kwargs)
        require_uint64(owner, "publisher", self.publisher, optional=True)
        require_str(owner, "publisher_authid", self.publisher_authid, optional=True)
        require_str(owner, "publisher_authrole", self.publisher_authrole, optional=True)

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
