"""The one wrapper behind both forms: a service whose public methods run somewhere else.

``NonBlocking(service, start)`` answers attribute reads without running any
of the service's code on the caller's thread:

* a method (``mgmt.roles.create``) becomes a function that hands the call to
  ``start`` and returns what ``start`` returns (a Deferred, an awaitable);
* an object held in an instance attribute (``mgmt.roles``, a collection) is
  wrapped the same way; plain values (None, bools, numbers, strings, bytes)
  are returned as they are;
* a property, or any other attribute computed when read (``mgmt.cookies``
  builds a service, which may read the database), is read in the pool as
  the first step of the call that follows it: ``mgmt.cookies.revoke(oid)``
  reads ``cookies`` and calls ``revoke`` in one pooled call.

A result that is an iterator (a generator such as ``ChangeFeed.follow``) is
read to its end in the pool and returned as a list: iterating it later would
read the database on the caller's thread. Names starting with ``_`` are
refused: they are not the service's API.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator
from types import BuiltinFunctionType, FunctionType
from typing import Any, Callable

__all__ = ["NonBlocking", "PLAIN"]

#: Attribute values handed out as they are.
PLAIN = (type(None), bool, int, float, complex, str, bytes)

#: start(call) runs call() in the pool and returns the caller's handle on its outcome.
Start = Callable[[Callable[[], Any]], Any]


def _listed(result: Any) -> Any:
    return list(result) if isinstance(result, Iterator) else result


class NonBlocking:
    """``target`` (reached with no code run) and ``path``, attributes still to read in the pool."""

    __slots__ = ("_nb_target", "_nb_start", "_nb_path")

    def __init__(self, target: Any, start: Start, path: tuple[str, ...] = ()) -> None:
        self._nb_target, self._nb_start, self._nb_path = target, start, path

    def __getattr__(self, name: str) -> Any:
        target, start, path = self._nb_target, self._nb_start, self._nb_path
        if name.startswith("_"):
            raise AttributeError(f"{name}: only the public attributes of {_named(target, path)} are offered "
                                 "here")
        if path:
            return NonBlocking(target, start, path + (name,))
        static = inspect.getattr_static(target, name)  # AttributeError if there is none, as getattr's
        held = getattr(target, "__dict__", {})
        if name in held:
            return _wrapped(held[name], start)
        if isinstance(static, (FunctionType, BuiltinFunctionType, staticmethod, classmethod)):
            return _pooled(getattr(target, name), start)  # binding a function runs none of the service's code
        if hasattr(type(static), "__get__"):  # a property or other descriptor: its getter may use the database
            return NonBlocking(target, start, (name,))
        return _wrapped(static, start)  # a class attribute's value

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        target, path = self._nb_target, self._nb_path
        if not path and not callable(target):
            raise TypeError(f"{_named(target, path)} is not callable")

        def call() -> Any:
            fn = target
            for name in path:
                fn = getattr(fn, name)
            return _listed(fn(*args, **kwargs))

        return self._nb_start(call)

    def __repr__(self) -> str:
        return f"<NonBlocking {_named(self._nb_target, self._nb_path)}>"


def _wrapped(value: Any, start: Start) -> Any:
    if isinstance(value, PLAIN):
        return value
    if callable(value) and not isinstance(value, type):
        return _pooled(value, start)
    return NonBlocking(value, start)


def _pooled(fn: Callable[..., Any], start: Start) -> Callable[..., Any]:
    @functools.wraps(fn)
    def pooled(*args: Any, **kwargs: Any) -> Any:
        return start(lambda: _listed(fn(*args, **kwargs)))

    return pooled


def _named(target: Any, path: tuple[str, ...]) -> str:
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    return ".".join((name,) + path)
