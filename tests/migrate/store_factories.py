"""cfxstore databases for maintenance tests: populated through the services, at chosen versions."""

from __future__ import annotations

import dataclasses

import os
from typing import Any

from argon2 import PasswordHasher, Type

import orm
from cfxstore.cookies.service import CookieService
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.migrate import rawtables
from cfxstore.schemaversion import HISTORY_KEY, VERSION_KEY, stamp
from cfxstore.realmstore.service import SessionHistory

MAXSIZE = 2**24
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)


def secret_transport(value: str) -> dict[str, Any]:
    """Transport details as an unfiltered writer stores them: raw cookie value and credential headers."""
    return {"type": "websocket", "peer": "tcp4:10.0.0.1:4000", "http_cbtid": value,
            "http_headers_received": {"Cookie": f"cbtid={value}", "Authorization": "Bearer t0k3n",
                                      "user-agent": "pytest"}}


def populate(path: str | os.PathLike[str], *, sessions: int = 3, cookies: int = 2, publications: int = 2,
             secrets_in_transport: bool = False, version: int | None | str = "latest") -> dict[str, Any]:
    """A database with records in every service's tables; returns what was made.

    version: "latest" (as open_database stamps a new one), an int, or None
    for a database written before versions were tracked.
    """
    if version == "latest":
        db = open_database(str(path), maxsize=MAXSIZE)
    else:
        db = orm.Database(str(path), maxsize=MAXSIZE)
        if version is not None:
            with db.begin(write=True) as txn:
                stamp(db, txn, version)
    try:
        made: dict[str, Any] = {"cookies": [], "sessions": [], "publications": []}
        cs = CookieService(db)
        for i in range(cookies):
            value, cookie = cs.create(max_age=3600)
            if i % 2 == 0:
                cs.set_auth(value, f"user{i}", "user", "ticket", {"i": i}, "realm1")
                if secrets_in_transport:  # as an older version stored it: past the services, which scrub
                    raw = cs.lookup(value).with_auth(transport=secret_transport(value), modified=cookie.modified)
                    with db.begin(write=True) as txn:
                        cs.schema.cookies[txn, cookie.oid] = raw
            made["cookies"].append({"value": value, "oid": cookie.oid, "authid": f"user{i}" if i % 2 == 0 else None})
        history = SessionHistory(db)
        for i in range(sessions):
            transport = secret_transport(f"sv{i}") if secrets_in_transport else {"peer": f"tcp4:1.2.3.4:{i}"}
            s = history.session_joined(session_id=100 + i, realm="realm1", authid=f"user{i % 2}",
                                       authrole="user", authmethod="ticket", transport=transport,
                                       joined_at=1_700_000_000_000_000_000 + i)
            if secrets_in_transport:
                s = dataclasses.replace(s, transport=transport)
                with db.begin(write=True) as txn:
                    history.schema.sessions[txn, s.oid] = s
            made["sessions"].append(s)
        for j in range(publications):
            history.store_publication(publication_id=500 + j, topic="com.example", publisher=100,
                                      args=[j, b"\x00\xff"], kwargs={"j": j}, timestamp=1_700_000_000_000_001_000 + j)
            history.store_delivery(500 + j, 42, 100 + j, timestamp=1_700_000_000_000_002_000 + j)
        principals = Management(db, credentials=CredentialService(db, hasher=CHEAP_HASHER)).principals
        principals.create(realm="realm1", authid="alice", role="admin", extra={"k": "v"}, ticket="alice-secret")
        made["principals"] = ["alice"]
        return made
    finally:
        db.close()


def set_version(path: str | os.PathLike[str], version: int) -> None:
    """Stamp a database with any version."""
    with orm.Database(str(path), maxsize=MAXSIZE) as db, db.begin(write=True) as txn:
        stamp(db, txn, version)


def version_of(path: str | os.PathLike[str]) -> int | None:
    with orm.Database(str(path), readonly=True) as db, db.begin() as txn:
        return db.get_meta(txn, VERSION_KEY)


def as_loaded(tables: dict[str, list[tuple[Any, Any]]]) -> dict[str, list[tuple[Any, Any]]]:
    """A snapshot without what a dump does not carry: the metadata and the change feed (no table of a
    schema the dump knows, listed as skipped; its sequence lives in the metadata)."""
    out = {k: v for k, v in tables.items() if k not in ("__meta__", "changes")}
    out["__catalog__"] = [e for e in tables["__catalog__"] if e[1]["name"] != "changes"]
    return out


def snapshot(path: str | os.PathLike[str]) -> dict[str, list[tuple[Any, Any]]]:
    """Every table's (key, value) pairs as stored, plus the metadata: to compare a database before and after."""
    with orm.Database(str(path), readonly=True) as db:
        bound = rawtables.bind_all(db)
        catalog = db.catalog()
        with db.begin() as txn:
            out = {catalog[slot]["name"]: list(tab.select(txn)) for slot, tab in bound.items() if tab is not None}
            out["__meta__"] = [(VERSION_KEY, db.get_meta(txn, VERSION_KEY)),
                               (HISTORY_KEY, db.get_meta(txn, HISTORY_KEY))]
            out["__catalog__"] = sorted(catalog.items())
        if "logins_ended" in out:  # when logins were ended is the time of the run that ended them
            out["logins_ended"] = [(authid, None) for authid, _ in out["logins_ended"]]
        return out
