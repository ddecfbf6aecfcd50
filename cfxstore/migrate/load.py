"""Reading a dump back: validate the whole file first, then write it in one transaction.

Validation needs no database, so a bad file (corrupt line, unknown
table, wrong schema version, truncation) is refused before anything is
written. Records are written through the schemas, so indexes are built
and unique keys enforced as they go.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
from typing import Any, Callable, Iterator

import orm

from cfxstore.schemaversion import effective_version
from cfxstore.service import attached
from cfxstore.tables import DeclaredSchema
from cfxstore.transport import scrub_transport

from . import dumpcodec
from .dump import DUMP_FORMAT, DUMP_VERSION, SECRET_FIELDS, TRANSPORT_TABLES
from .errors import DumpFormatError, MaintenanceError
from .schemas import declared, table_owners

#: Deep enough for any record, shallow enough for the C stack (see _bounded_recursion).
SAFE_RECURSION_LIMIT = 3000

#: Called as on_progress(bytes_read, total_bytes).
ProgressCallback = Callable[[int, int], None]


@dataclasses.dataclass
class DumpInfo:
    """What validation learned about a dump."""

    path: str
    header: dict[str, Any]
    rows: dict[str, int]               # rows that will be written, per table
    without_secrets: dict[str, int]    # rows left out because the dump omitted their secret fields

    @property
    def schema_version(self) -> int | None:
        return self.header.get("schema_version")

    @property
    def tables(self) -> list[str]:
        return list(self.header["tables"])


def _table(name: str) -> orm.Table:
    return declared(table_owners()[name]).tables()[name]


def _lines(path: str, on_progress: ProgressCallback | None) -> Iterator[tuple[int, dict[str, Any]]]:
    total = os.path.getsize(path)
    done = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            done += len(raw)
            try:
                obj = json.loads(raw)
            except (ValueError, RecursionError) as exc:  # JSON, UTF-8, or nesting too deep for the parser
                if number == 1:
                    raise DumpFormatError(f"{path} is not a cfxstore dump (line 1 is not JSON)") from None
                raise DumpFormatError(f"{path}, line {number}: not valid JSON ({_why(exc)})") from None
            if not isinstance(obj, dict):
                raise DumpFormatError(f"{path}, line {number}: expected a JSON object")
            yield number, obj
            if on_progress is not None:
                on_progress(done, total)


def _why(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid UTF-8 at byte {exc.start}"
    return getattr(exc, "msg", None) or str(exc)


@contextlib.contextmanager
def _bounded_recursion() -> Iterator[None]:
    """Deeply nested JSON must end in RecursionError, not a crash: some libraries raise the
    recursion limit past what the C stack holds (cfxdb's dependencies set 100,000), and the
    C JSON parser then overflows the stack instead."""
    limit = sys.getrecursionlimit()
    if limit > SAFE_RECURSION_LIMIT:
        sys.setrecursionlimit(SAFE_RECURSION_LIMIT)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def _check_header(path: str, header: dict[str, Any]) -> None:
    if header.get("format") != DUMP_FORMAT:
        raise DumpFormatError(f"{path} is not a cfxstore dump (line 1 has no \"format\": \"{DUMP_FORMAT}\")")
    if header.get("version") != DUMP_VERSION:
        raise DumpFormatError(f"{path}: dump format version {header.get('version')!r} is not supported "
                              f"(this cfxstore reads version {DUMP_VERSION})")
    tables = header.get("tables")
    if not isinstance(tables, dict):
        raise DumpFormatError(f"{path}, line 1: the header has no table list")
    owners = table_owners()
    for name, spec in tables.items():
        if name not in owners or not isinstance(spec, dict):
            raise DumpFormatError(f"{path}, line 1: unknown table {name!r}; this cfxstore has no such table")
        tab = _table(name)
        if spec.get("key") != tab.key_codec.name or spec.get("value") != tab.value_signature:
            raise DumpFormatError(f"{path}, line 1: table {name!r} is dumped with key/value types "
                                  f"{spec.get('key')}/{spec.get('value')}, this cfxstore stores "
                                  f"{tab.key_codec.name}/{tab.value_signature}")


def _record(path: str, number: int, name: str, key: Any, value: Any) -> Any:
    """The record to write (as the schema table takes it); raises DumpFormatError if invalid."""
    tab = _table(name)
    where = f"{path}, line {number}: table {name}"
    try:
        tab.key_codec.encode(key)
    except Exception as exc:
        raise DumpFormatError(f"{where}: invalid key {_short(key)}: {_why(exc)}") from None
    if isinstance(tab, orm.SetMap):
        try:
            tab.member_codec.encode(value)
        except Exception as exc:
            raise DumpFormatError(f"{where}: invalid member {_short(value)}: {_why(exc)}") from None
        return value
    try:
        record = tab.decode_value(orm.value_codec(tab.value_signature).encode(value))
        # Read paths may skip validation for speed (records they wrote were valid); a file was not.
        validate = getattr(record, "validate", None)
        if callable(validate):
            validate()
        if name in TRANSPORT_TABLES and getattr(record, "transport", None) is not None:
            record.transport = scrub_transport(record.transport)  # an older dump may hold raw credentials
        return record
    except Exception as exc:
        raise DumpFormatError(f"{where}, key {_short(key)}: invalid record: {_why(exc)}") from None


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except RecursionError:
        return "(nested too deeply)"
    return text if len(text) <= 200 else text[:200] + "..."


def _rows(path: str, on_progress: ProgressCallback | None = None
          ) -> Iterator[tuple[int, str, Any, Any] | tuple[int, dict[str, Any]]]:
    """Yield (number, header) first, then (number, table, key, record-or-None) per row; checks the end line."""
    lines = _lines(path, on_progress)
    first = next(lines, None)
    if first is None:
        raise DumpFormatError(f"{path} is empty, not a cfxstore dump")
    header = first[1]
    _check_header(path, header)
    yield first
    tables = header["tables"]
    hidden = {} if header.get("secrets") else SECRET_FIELDS
    counts = {name: 0 for name in tables}
    end: dict[str, Any] | None = None
    last = 1
    for number, obj in lines:
        last = number
        if end is not None:
            raise DumpFormatError(f"{path}, line {number}: data after the end line")
        if "end" in obj:
            end = obj
            continue
        name = obj.get("t")
        if not isinstance(name, str) or "k" not in obj or "v" not in obj:
            raise DumpFormatError(f"{path}, line {number}: expected {{\"t\": table, \"k\": key, \"v\": value}}")
        if name not in tables:
            raise DumpFormatError(f"{path}, line {number}: unknown table {name!r} (not in the dump's header)")
        try:
            key, value = dumpcodec.decode(obj["k"]), dumpcodec.decode(obj["v"])
        except (ValueError, TypeError, RecursionError) as exc:  # CodecError, unhashable map keys, nesting
            raise DumpFormatError(f"{path}, line {number}: cannot read the record: {_why(exc)}") from None
        counts[name] += 1
        secret = hidden.get(name, ())
        if secret and isinstance(value, dict) and any(f not in value for f in secret):
            yield number, name, key, None
            continue
        yield number, name, key, _record(path, number, name, key, value)
    if end is None:
        raise DumpFormatError(f"{path} ends at line {last} without its end line: the dump is truncated")
    if end.get("rows") != counts:
        raise DumpFormatError(f"{path}: the end line counts {end.get('rows')} rows but the file holds {counts}")


def validate(path: str, on_progress: ProgressCallback | None = None) -> DumpInfo:
    """Read and check the whole dump without touching any database."""
    if not os.path.isfile(path):
        raise DumpFormatError(f"no dump file at {path}")
    header: dict[str, Any] = {}
    rows: dict[str, int] = {}
    without: dict[str, int] = {}
    with _bounded_recursion():
        for item in _rows(path, on_progress):
            if len(item) == 2:
                header = item[1]
                rows = {name: 0 for name in header["tables"]}
                continue
            _, name, _, record = item
            if record is None:
                without[name] = without.get(name, 0) + 1
            else:
                rows[name] += 1
    return DumpInfo(path, header, rows, without)


def load(db: orm.Database, info: DumpInfo, on_progress: ProgressCallback | None = None) -> dict[str, int]:
    """Write a validated dump into db (whose tables for it must be empty); returns rows per table."""
    with db.begin() as txn:
        version = effective_version(db, txn)
    if info.schema_version != version:
        raise MaintenanceError(f"the dump is of schema version {info.schema_version} but database {db.path} "
                               f"is at version {version}; load it with the cfxstore that wrote it, or into "
                               "a database at the same version")
    owners = table_owners()
    schemas: dict[type[DeclaredSchema], orm.Schema] = {}
    for name in info.tables:
        schema = owners[name]
        if schema not in schemas:
            schemas[schema] = attached(schema, db)
    tables = {name: schemas[owners[name]].tables()[name] for name in info.tables}
    written = {name: 0 for name in info.tables}
    with _bounded_recursion(), db.begin(write=True) as txn:
        for name, tab in tables.items():
            n = tab.count(txn)
            if n:
                raise MaintenanceError(f"table {name} of {db.path} already holds {n} records; "
                                       "load into a new database (or one without these tables' data)")
        for item in _rows(info.path, on_progress):
            if len(item) == 2:
                continue
            number, name, key, record = item
            if record is None:
                continue
            tab = tables[name]
            try:
                if isinstance(tab, orm.SetMap):
                    tab[txn, key].add(record)
                else:
                    tab[txn, key] = record
            except (orm.Error, ValueError, TypeError, RecursionError) as exc:
                raise MaintenanceError(f"{info.path}, line {number}: {_why(exc)}") from None
            written[name] += 1
    return written
