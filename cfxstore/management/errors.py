"""Errors of the management services; each carries the WAMP error URI it travels as.

The refusals are cfxstore's shared ones (cfxstore.errors); ``ManagementError`` is the
older name of their root, ``cfxstore.Error``.
"""

from __future__ import annotations

from cfxstore.errors import AlreadyExists, Error, InUse, InvalidArgument, NotAuthorized, NotFound

__all__ = ["ManagementError", "InvalidArgument", "NotFound", "AlreadyExists", "InUse", "NotAuthorized"]

ManagementError = Error
