"""Errors of the management services; each carries the WAMP error URI it travels as."""

from __future__ import annotations

__all__ = ["ManagementError", "InvalidArgument", "NotFound", "AlreadyExists", "InUse", "NotAuthorized"]


class ManagementError(Exception):
    """Base of the errors the management services raise on purpose; nothing was written."""

    uri = "cfxstore.error.management"


class InvalidArgument(ManagementError, ValueError):
    """An argument or field is missing, of the wrong type or out of range (the message names it)."""

    uri = "cfxstore.error.invalid_argument"


class NotFound(ManagementError, LookupError):
    """The record asked for, or one a field refers to, does not exist."""

    uri = "cfxstore.error.not_found"


class AlreadyExists(ManagementError):
    """A record with the same key or unique name exists."""

    uri = "cfxstore.error.already_exists"


class InUse(ManagementError):
    """The record is referred to by others whose relation refuses its deletion."""

    uri = "cfxstore.error.in_use"


class NotAuthorized(ManagementError):
    """The caller's role may not use the management API."""

    uri = "cfxstore.error.not_authorized"
