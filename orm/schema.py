"""Schema: a group of tables attached to one database together.

Subclasses define ``attach(self, db)`` and assign tables to attributes; the
attribute name becomes the table's catalog name. ``MySchema.attach(db)``
(called on the class) creates the instance, runs that method, binds every
table through the catalog and returns the instance.
"""

from __future__ import annotations

from typing import Any, Callable

from .table import Table


class _Attach:
    """Makes ``attach`` work both on the class (returns a new schema) and on an instance."""

    def __init__(self, fn: Callable[[Any, Any], Any]) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__

    def __get__(self, obj: Any, owner: type) -> Callable[[Any], Any]:
        fn = self.fn

        def attach(db: Any) -> Any:
            schema = owner() if obj is None else obj
            schema.db = db
            fn(schema, db)
            db.attach_tables(schema.tables().items())
            return schema

        return attach


class Schema:
    """Base class of table groups; see the module docstring."""

    db: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fn = cls.__dict__.get("attach")
        if fn is not None and not isinstance(fn, _Attach):
            cls.attach = _Attach(fn)  # type: ignore[method-assign, assignment]

    def attach(self, db: Any) -> None:  # replaced per subclass by _Attach
        """Assign this schema's tables (subclasses override)."""

    def tables(self) -> dict[str, Table]:
        """This schema's tables by attribute name, in declaration order."""
        return {name: v for name, v in vars(self).items() if isinstance(v, Table)}


Schema.attach = _Attach(Schema.__dict__["attach"])  # type: ignore[method-assign, assignment]
