"""The one exception hierarchy of orm. Messages name the table, key and what was expected."""

from __future__ import annotations


class Error(Exception):
    """Base class of every error orm raises on purpose (``OrmError`` is its older name).

    ``retryable`` is True when running the whole transaction again may succeed
    (``Database.transact`` does so); the failed transaction wrote nothing.
    """

    retryable = False

    def __init__(self, *args: object, retryable: bool | None = None) -> None:
        super().__init__(*args)
        if retryable is not None:
            self.retryable = retryable


# The older name of the root, kept for code written against it.
OrmError = Error


class InvalidArgument(Error, ValueError):
    """An argument or key out of range or malformed (the message names it); also a ValueError."""


class WrongType(Error, TypeError):
    """An argument, key or set member of the wrong type (the message names what was expected); also a TypeError."""


class KeyNotFound(Error, KeyError):
    """``del tab[txn, key]`` or ``SetView.remove`` of what is not there; also a KeyError."""

    # KeyError's own str() quotes the message, which is a sentence here.
    __str__ = Exception.__str__


class DatabaseError(Error):
    """The database could not be opened, grown or used."""


class DatabaseNotFound(DatabaseError, FileNotFoundError):
    """A read-only open of a database that does not exist."""


class DatabaseClosed(DatabaseError):
    """An operation on a closed database."""


class ReadOnlyError(DatabaseError):
    """A write on a read-only database or inside a read-only transaction."""


class MapFull(DatabaseError):
    """The database filled its map: retryable after growth, final at the ceiling."""


class Conflict(DatabaseError):
    """The transaction collided with a concurrent one and was rolled back; run it again."""

    retryable = True


class TransactionError(Error):
    """A transaction was used after it ended, or nested where it cannot be."""


class ReactorBlocked(Error):
    """A database call on an event loop's thread, from a site the process's guard refuses there."""


class KeyTooLong(Error, ValueError):
    """An encoded key exceeds what the engine can store."""


class ValueCodecError(Error, ValueError):
    """A value could not be encoded or decoded by its table's codec."""


class SchemaError(Error):
    """A table or schema declaration is invalid."""


class SchemaMismatch(SchemaError):
    """A slot's stored catalog entry disagrees with the table being attached."""


class SlotConflict(SchemaError):
    """Two different tables were declared on one slot."""


class IndexRuleError(Error):
    """Base of the errors raised when a put breaks an index rule."""


class UniqueViolation(IndexRuleError):
    """A put would give a unique index key a second primary key."""


class NullIndexKey(IndexRuleError, ValueError):
    """A record produced a null key for a non-nullable index."""


__all__ = [
    "Error", "OrmError", "InvalidArgument", "WrongType", "KeyNotFound",
    "DatabaseError", "DatabaseNotFound", "DatabaseClosed", "ReadOnlyError", "MapFull", "Conflict",
    "TransactionError", "ReactorBlocked", "KeyTooLong", "ValueCodecError", "SchemaError", "SchemaMismatch",
    "SlotConflict", "IndexRuleError", "UniqueViolation", "NullIndexKey",
]
