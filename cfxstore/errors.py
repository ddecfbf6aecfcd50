"""The one root of the errors cfxstore raises on purpose, and the refusals every service shares.

Each message names what was wrong (the record kind, field or path) and, where there is one,
what to do. A refusal leaves the database as it was. ``uri`` is the WAMP error URI a refusal
travels as when it answers a WAMP call.
"""

from __future__ import annotations

__all__ = ["Error", "InvalidArgument", "WrongType", "NotFound", "AlreadyExists", "InUse", "NotAuthorized"]


class Error(Exception):
    """Base of every error cfxstore raises on purpose (orm's errors derive from ``orm.Error``)."""

    uri = "cfxstore.error"


class InvalidArgument(Error, ValueError):
    """An argument or field is missing, of the wrong type or out of range (the message names it).

    Also a ValueError, so code that catches ValueError for bad input keeps working.
    """

    uri = "cfxstore.error.invalid_argument"


class WrongType(Error, TypeError):
    """An argument of the wrong type (the message names it and the type expected); also a TypeError."""

    uri = InvalidArgument.uri


class NotFound(Error, LookupError):
    """The record asked for, or one a field refers to, does not exist (also a LookupError)."""

    uri = "cfxstore.error.not_found"


class AlreadyExists(Error):
    """A record with the same key or unique name exists."""

    uri = "cfxstore.error.already_exists"


class InUse(Error):
    """The record is referred to by others whose relation refuses its deletion."""

    uri = "cfxstore.error.in_use"


class NotAuthorized(Error):
    """The caller's role may not use the management API."""

    uri = "cfxstore.error.not_authorized"
