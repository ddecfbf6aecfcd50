"""Writing a database as a versioned, streaming JSON-lines dump.

Line 1 is the header, then one line per record, then an end line:

    {"format": "cfxstore-dump", "version": 1, "schema_version": 2, "created": ..., "source": ...,
     "secrets": false, "tables": {"cookies": {"slot": 1, "key": "uuid", "value": "cbor", "rows": 10}, ...},
     "omitted": [...], "skipped": [...]}
    {"t": "cookies", "k": <key>, "v": <value>}
    ...
    {"end": true, "rows": {"cookies": 10, ...}}

Keys and values are written as stored, tagged by dumpcodec. Index tables
are left out (a load rebuilds them), and so is the change feed (a loaded
database starts its own). The whole dump reads one snapshot,
so it is consistent while writers run.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any, Callable, TextIO

import orm

from cfxstore.schemaversion import effective_version
from cfxstore.transport import scrub_transport

from . import dumpcodec, rawtables
from .errors import MaintenanceError
from .schemas import secret_fields, table_owners, undumped_tables

DUMP_FORMAT = "cfxstore-dump"
DUMP_VERSION = 1

#: Tables that hold nothing but secrets, and the fields other tables' records
#: declare secret: left out unless the operator asks for them.
SECRET_TABLES = frozenset({"credentials"})
SECRET_FIELDS: dict[str, tuple[str, ...]] = secret_fields(skip=SECRET_TABLES)

#: Left out like index tables: they describe only the database they are in (the change feed).
LOCAL_TABLES = undumped_tables()

#: Never exported, whatever the flags: raw credentials in transport details
#: (cookie values, Authorization headers) of records an older version stored,
#: and plaintext credentials in a credential's authconfig.
TRANSPORT_TABLES = frozenset({"cookies", "sessions"})
RAW_CREDENTIAL_KEYS = frozenset({"ticket", "password"})

RowCallback = Callable[[str, int, int], None]


@dataclasses.dataclass
class DumpSummary:
    schema_version: int | None
    rows: dict[str, int]
    omitted: list[str]          # secret tables left out
    skipped: list[str]          # tables no known schema declares


def _line(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"


def _clean(name: str, value: Any, hidden: tuple[str, ...]) -> Any:
    """value as it may leave the database: no raw credential, no hidden secret field."""
    if not isinstance(value, dict):
        return value
    value = {k: v for k, v in value.items() if k not in hidden}
    if name in TRANSPORT_TABLES and value.get("transport") is not None:
        value["transport"] = scrub_transport(value["transport"])
    elif name == "credentials" and isinstance(value.get("authconfig"), dict):
        value["authconfig"] = {k: v for k, v in value["authconfig"].items() if k not in RAW_CREDENTIAL_KEYS}
    return value


def dump(db: orm.Database, out: TextIO, *, include_secrets: bool = False,
         on_row: RowCallback | None = None) -> DumpSummary:
    """Write every record of db's known tables to out (see the module docstring)."""
    catalog = db.catalog()
    derived = rawtables.index_slots(catalog)
    owners = table_owners()
    bound = rawtables.bind_all(db, catalog)  # before the snapshot: see rawtables.bind
    with db.begin() as txn:
        version = effective_version(db, txn)
        chosen: list[tuple[dict[str, Any], orm.Table]] = []
        omitted: list[str] = []
        skipped: list[str] = []
        for slot, entry in sorted(catalog.items()):
            name = entry["name"]
            if slot in derived or name in LOCAL_TABLES:
                continue
            if name not in owners:
                skipped.append(name)
                continue
            if name in SECRET_TABLES and not include_secrets:
                omitted.append(name)
                continue
            tab = bound[slot]
            if tab is not None:
                chosen.append((entry, tab))
        counts = {entry["name"]: tab.count(txn) for entry, tab in chosen}
        out.write(_line({
            "format": DUMP_FORMAT, "version": DUMP_VERSION, "schema_version": version,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "source": db.path, "secrets": include_secrets,
            "tables": {e["name"]: {"slot": e["slot"], "key": e["key"], "value": e["value"],
                                   "rows": counts[e["name"]]} for e, _ in chosen},
            "omitted": omitted, "skipped": skipped,
        }))
        written: dict[str, int] = {}
        for entry, tab in chosen:
            name = entry["name"]
            hidden = () if include_secrets else SECRET_FIELDS.get(name, ())
            total, n = counts[name], 0
            for key, value in tab.select(txn):
                try:
                    line = _line({"t": name, "k": dumpcodec.encode(key),
                                  "v": dumpcodec.encode(_clean(name, value, hidden))})
                except dumpcodec.CodecError as exc:
                    raise MaintenanceError(f"table {name}, key {key!r}: {exc}") from None
                out.write(line)
                n += 1
                if on_row is not None:
                    on_row(name, n, total)
            written[name] = n
        out.write(_line({"end": True, "rows": written}))
    return DumpSummary(version, written, omitted, skipped)
