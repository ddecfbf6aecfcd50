"""TableCore, the base of every table.

When the optional C module ``orm._core`` is built (a C compiler at install
time), TableCore runs Map's ``tab[txn, key]`` and ``tab[txn, key] = value``
without a Python frame, over the engine protocol, from the access plan a Map
gives it with ``set_plan`` (see orm/_core.c); every unusual case goes to the
Map's Python methods named in the plan. Without it, Map uses those methods
directly: same behaviour, a little slower. Setting ORM_PURE_PYTHON=1 in the
environment forces the Python version.
"""

from __future__ import annotations

import os
from typing import Any


class PyTableCore:
    """The Python twin of orm._core.TableCore: Map binds its own item methods, so no plan is kept."""

    __slots__ = ()

    def set_plan(self, *plan: Any) -> None:
        pass


TableCore: type
#: ``Decoder(fast, slow, marker, after)``: a frame-free value decoder (values.compose), or None.
Decoder: Any
try:
    if os.environ.get("ORM_PURE_PYTHON"):
        raise ImportError("ORM_PURE_PYTHON is set")
    from ._core import Decoder, TableCore  # type: ignore[no-redef]  # declared above for both outcomes
except ImportError:
    TableCore, Decoder = PyTableCore, None

#: True when Map's item access runs in C.
ACCELERATED = TableCore is not PyTableCore
