"""TableCore, the base of every table: the attributes the hot paths read.

When the optional C module ``orm._core`` is built (a C compiler at install
time), it also runs Map's ``tab[txn, key]`` and ``tab[txn, key] = value``
without a Python frame (and decodes values of tables with hooks the same
way) and hands every unusual case to the table's Python
methods (``_getitem_py``, ``_setitem_py``, ``_delitem_py``). Without it, Map
uses those methods directly: same behaviour, a little slower. Setting
ORM_PURE_PYTHON=1 in the environment forces the Python version.
"""

from __future__ import annotations

import os
from typing import Any


class PyTableCore:
    """The Python twin of orm._core.TableCore: storage only; Map binds its own item methods."""

    __slots__ = ("_kenc", "_h", "_enc", "_dec", "_dec_slow", "_marker", "_idx", "_op_put", "_maxkey")


TableCore: type
#: ``Decoder(fast, slow, marker, after)``: a frame-free value decoder (values.compose), or None.
Decoder: Any
try:
    if os.environ.get("ORM_PURE_PYTHON"):
        raise ImportError("ORM_PURE_PYTHON is set")
    from ._core import Decoder, TableCore
except ImportError:
    TableCore, Decoder = PyTableCore, None

#: True when Map's item access runs in C.
ACCELERATED = TableCore is not PyTableCore
