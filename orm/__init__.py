"""orm: a typed ORM over LMDB.

    db = orm.Database("/var/lib/app/db")
    schema = MySchema.attach(db)
    with db.begin(write=True) as txn:
        schema.users[txn, user.oid] = user

See docs/orm.md for the API, key byte layouts, the catalog and indexes.
"""

from .aliases import *  # noqa: F401,F403
from .aliases import __all__ as _aliases
from .copy import copy_tables
from .database import Database, Transaction
from .engine import Subscription
from .entity import table
from .errors import *  # noqa: F401,F403
from .evolve import drop_table, rename_table, retype_table
from .errors import __all__ as _errors
from .index import Index
from .keys import key_codec, to_ns
from .map import Map
from .schema import Schema
from .setmap import SetMap, SetView
from .table import Table
from .values import ValueCodec, value_codec

__all__ = ["Database", "Transaction", "Subscription", "copy_tables", "Schema", "table", "Map", "SetMap", "SetView", "Table", "Index",
           "key_codec", "value_codec", "ValueCodec", "to_ns",
           "drop_table", "rename_table", "retype_table", *_aliases, *_errors]
