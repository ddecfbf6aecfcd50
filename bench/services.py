"""Benchmark of the cookie and realm-store services against raw py-lmdb + cbor2,
and of CBOR against FlatBuffers for the high-volume records.

Run: python -m bench.services [-n N] [--sync] [--dir DIR]

Every figure is the best of five runs, in operations per second, with the
cyclic GC off while a run is timed (as timeit does). The raw baseline does
the same work as the service (same records, same index entries, one
transaction per operation, or per batch) with no ORM in between.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import secrets
import struct
import sys
import tempfile
import uuid
from collections import deque
from typing import Any, Callable

import cbor2
import flatbuffers
import lmdb

import orm
from bench import fbsgen
from bench.orm import timed

from cfxstore.cookies.entities import Cookie
from cfxstore.cookies.service import CookieService
from cfxstore.realmstore.entities import Event, Publication, Session
from cfxstore.realmstore.service import SessionHistory
from cfxstore.timeutil import NS_PER_SECOND, now_ns

FbCookie, FbEvent, FbPublication, FbSession = (fbsgen.table(name)
                                               for name in ("Cookie", "Event", "Publication", "Session"))

REPEATS = 5
BATCH = 1000
MAP_SIZE = 2**30


def best_rate(n: int, run: Callable[[], Any]) -> float:
    """Operations per second of the fastest of REPEATS runs of n operations (GC off while timed)."""
    return n / min(timed(run) for _ in range(REPEATS))


def each(fn: Callable[[Any], Any], items: list[Any]) -> None:
    """fn(item) for every item, results dropped at once (as a router drops a looked-up cookie)."""
    deque(map(fn, items), maxlen=0)


# -- cookies ------------------------------------------------------------------------

def bench_cookie_service(path: str, n: int, sync: bool) -> dict[str, float]:
    db = orm.Database(path, maxsize=MAP_SIZE, sync=sync)
    service = CookieService(db)
    values: list[str] = []
    rates = {"create": best_rate(n, lambda: values.extend(service.create()[0] for _ in range(n)))}
    values = values[:n]
    rates["lookup"] = best_rate(n, lambda: each(service.lookup, values))
    rates["set_auth"] = best_rate(n, lambda: [service.set_auth(v, "alice", "user", "ticket", {"k": 1}, "realm1")
                                              for v in values])
    if any(service.lookup(v) is None for v in values):
        raise AssertionError("cookie service lost a cookie")
    db.close()
    return rates


class RawCookies:
    """The cookie service's work written directly on py-lmdb and cbor2."""

    def __init__(self, path: str, sync: bool) -> None:
        self.env = lmdb.open(path, map_size=MAP_SIZE, max_dbs=8, sync=sync, metasync=sync)
        self.cookies = self.env.open_db(b"cookies")
        self.by_value = self.env.open_db(b"by_value")
        self.by_authid = self.env.open_db(b"by_authid")
        self.by_expiry = self.env.open_db(b"by_expiry")

    def create(self) -> str:
        value = secrets.token_urlsafe(24)
        oid = uuid.uuid4()
        now = now_ns()
        record = {"oid": oid, "created": now, "modified": now, "max_age": 604800,
                  "expires": now + 604800 * NS_PER_SECOND, "name": "cbtid",
                  "value_hash": hashlib.sha256(value.encode()).digest(), "authid": None, "authrole": None,
                  "authmethod": None, "authrealm": None, "authextra": None, "node": None, "worker": None,
                  "session": None, "transport": None}
        with self.env.begin(write=True) as txn:
            txn.put(oid.bytes, cbor2.dumps(record), db=self.cookies)
            txn.put(record["value_hash"], oid.bytes, db=self.by_value)
            txn.put(struct.pack(">Q", record["expires"] + 2**63) + oid.bytes, b"", db=self.by_expiry)
        return value

    def lookup(self, value: str) -> dict[str, Any] | None:
        h = hashlib.sha256(value.encode()).digest()
        with self.env.begin() as txn:
            oid = txn.get(h, db=self.by_value)
            data = None if oid is None else txn.get(oid, db=self.cookies)
            record = None if data is None else cbor2.loads(data)
        if record is None or record["expires"] <= now_ns():
            return None
        return record

    def set_auth(self, value: str, authid: str, authrole: str, authmethod: str, authextra: Any,
                 authrealm: str) -> bool:
        h = hashlib.sha256(value.encode()).digest()
        with self.env.begin(write=True) as txn:
            oid = txn.get(h, db=self.by_value)
            if oid is None:
                return False
            record = cbor2.loads(txn.get(oid, db=self.cookies))
            if record["authid"] is not None:
                txn.delete(record["authid"].encode() + b"\0\0" + oid, db=self.by_authid)
            record.update(authid=authid, authrole=authrole, authmethod=authmethod, authextra=authextra,
                          authrealm=authrealm, modified=now_ns())
            txn.put(oid, cbor2.dumps(record), db=self.cookies)
            txn.put(authid.encode() + b"\0\0" + oid, b"", db=self.by_authid)
        return True


def bench_raw_cookies(path: str, n: int, sync: bool) -> dict[str, float]:
    raw = RawCookies(path, sync)
    values: list[str] = []
    rates = {"create": best_rate(n, lambda: values.extend(raw.create() for _ in range(n)))}
    values = values[:n]
    rates["lookup"] = best_rate(n, lambda: each(raw.lookup, values))
    rates["set_auth"] = best_rate(n, lambda: [raw.set_auth(v, "alice", "user", "ticket", {"k": 1}, "realm1")
                                              for v in values])
    raw.env.close()
    return rates


# -- deliveries -------------------------------------------------------------------------

def delivery_batches(n: int, round_: int) -> list[list[tuple[int, int, int, int]]]:
    """n deliveries in batches of BATCH: 10 subscriptions x 10 receivers per publication."""
    t0 = 10**18 + round_ * n * 10
    keys = [(i % 10, t0 + i // 100, (i // 10) % 10, round_ * n + i // 100) for i in range(n)]
    return [keys[i:i + BATCH] for i in range(0, n, BATCH)]


def bench_deliveries(path: str, n: int, sync: bool) -> dict[str, float]:
    db = orm.Database(path, maxsize=MAP_SIZE, sync=sync)
    history = SessionHistory(db)
    rounds = iter(range(REPEATS))

    def run() -> None:
        for batch in delivery_batches(n, next(rounds)):
            history.store_batch([], batch)

    rate = best_rate(n, run)
    with db.begin() as txn:
        if history.schema.deliveries.count(txn) != n * REPEATS:
            raise AssertionError("deliveries collided or were lost")
    db.close()
    return {"store_batch deliveries": rate}


def bench_raw_deliveries(path: str, n: int, sync: bool) -> dict[str, float]:
    env = lmdb.open(path, map_size=MAP_SIZE, max_dbs=2, sync=sync, metasync=sync)
    deliveries = env.open_db(b"deliveries")
    pack = struct.Struct(">QQQQ").pack
    rounds = iter(range(REPEATS))

    def run() -> None:
        for batch in delivery_batches(n, next(rounds)):
            with env.begin(write=True) as txn:
                put = txn.put
                for sub, ts, receiver, pub in batch:
                    put(pack(sub, ts + 2**63, receiver, pub), b"", db=deliveries)

    rate = best_rate(n, run)
    env.close()
    return {"store_batch deliveries": rate}


# -- CBOR vs FlatBuffers ------------------------------------------------------------------

# Per record: (field, kind). Strings and vectors are created before the table
# is started, as FlatBuffers requires; 'cbor' fields are maps/arrays nested as bytes.
_SPECS: dict[type, tuple[Any, list[tuple[str, str]]]] = {
    Cookie: (FbCookie, [("oid", "uuid"), ("created", "int"), ("modified", "int"), ("max_age", "int"),
                        ("expires", "int"), ("name", "str"), ("value_hash", "bytes"), ("authid", "str"),
                        ("authrole", "str"), ("authmethod", "str"), ("authrealm", "str"),
                        ("authextra", "cbor"), ("node", "str"), ("worker", "str"), ("session", "int"),
                        ("transport", "cbor")]),
    Session: (FbSession, [("oid", "uuid"), ("session_id", "int"), ("realm", "str"), ("authid", "str"),
                          ("authrole", "str"), ("authmethod", "str"), ("authprovider", "str"),
                          ("authextra", "cbor"), ("transport", "cbor"), ("joined_at", "int"),
                          ("left_at", "int")]),
    Publication: (FbPublication, [("publication_id", "int"), ("topic", "str"), ("publisher", "int"),
                                  ("args", "cbor"), ("kwargs", "cbor"), ("publisher_authid", "str"),
                                  ("publisher_authrole", "str"), ("timestamp", "int")]),
    Event: (FbEvent, [("timestamp", "int"), ("subscription_id", "int"), ("receiver", "int"),
                      ("publication_id", "int"), ("topic", "str"), ("args", "cbor"), ("kwargs", "cbor"),
                      ("publisher", "int"), ("publisher_authid", "str"), ("publisher_authrole", "str")]),
}


def _camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


class FlatCodec:
    """Entity <-> FlatBuffers through the generated code, driven by a field spec."""

    def __init__(self, entity: type) -> None:
        module, spec = _SPECS[entity]
        self.entity = entity
        self.module = module
        self.table = getattr(module, entity.__name__)
        self.spec = [(name, kind, getattr(module, "Add" + _camel(name))) for name, kind in spec]
        reader = []
        for name, kind in spec:
            accessor = getattr(self.table, _camel(name))
            if kind in ("uuid", "bytes", "cbor"):
                reader.append((name, kind, getattr(self.table, _camel(name) + "IsNone"),
                               getattr(self.table, _camel(name) + "AsNumpy")))
            else:
                reader.append((name, kind, accessor, None))
        self.reader = reader

    def encode(self, obj: Any) -> bytes:
        b = flatbuffers.Builder(256)
        refs: dict[str, int] = {}
        for name, kind, _ in self.spec:
            v = getattr(obj, name)
            if v is None or kind == "int":
                continue
            if kind == "str":
                refs[name] = b.CreateString(v)
            elif kind == "uuid":
                refs[name] = b.CreateByteVector(v.bytes)
            elif kind == "bytes":
                refs[name] = b.CreateByteVector(v)
            else:
                refs[name] = b.CreateByteVector(cbor2.dumps(v))
        self.module.Start(b)
        for name, kind, add in self.spec:
            v = getattr(obj, name) if kind == "int" else refs.get(name)
            if v is not None:
                add(b, v)
        b.Finish(self.module.End(b))
        return bytes(b.Output())

    def decode(self, data: bytes) -> Any:
        t = self.table.GetRootAs(data, 0)
        fields: dict[str, Any] = {}
        for name, kind, get, as_numpy in self.reader:
            if kind == "int":
                fields[name] = get(t)
            elif kind == "str":
                s = get(t)
                fields[name] = None if s is None else s.decode("utf-8")
            elif get(t):
                fields[name] = None
            else:
                raw = as_numpy(t).tobytes()
                fields[name] = uuid.UUID(bytes=raw) if kind == "uuid" else raw if kind == "bytes" else cbor2.loads(raw)
        return self.entity(**fields)


def sample_records() -> dict[type, Any]:
    now = now_ns()
    return {
        Cookie: Cookie(oid=uuid.uuid4(), created=now, modified=now, max_age=604800,
                       expires=now + 604800 * NS_PER_SECOND, name="cbtid",
                       value_hash=hashlib.sha256(b"x").digest(), authid="alice", authrole="user",
                       authmethod="ticket", authrealm="realm1", authextra={"tenant": "acme"}, node="node1",
                       worker="router1", session=1234567, transport={"type": "websocket", "peer": "tcp4:10.0.0.1"}),
        Session: Session(oid=uuid.uuid4(), session_id=1234567, realm="realm1", authid="alice", authrole="user",
                         authmethod="ticket", authprovider="static", authextra={"tenant": "acme"},
                         transport={"type": "websocket", "peer": "tcp4:10.0.0.1"}, joined_at=now),
        Publication: Publication(publication_id=987654321, topic="com.example.sensor.temperature",
                                 publisher=1234567, args=[21.5, "celsius"], kwargs={"room": "lab"},
                                 publisher_authid="sensor1", publisher_authrole="device", timestamp=now),
        Event: Event(timestamp=now, subscription_id=555, receiver=7654321, publication_id=987654321,
                     topic="com.example.sensor.temperature", args=[21.5, "celsius"], kwargs={"room": "lab"},
                     publisher=1234567, publisher_authid="sensor1", publisher_authrole="device"),
    }


def bench_formats(n: int) -> list[tuple[str, int, float, float, int, float, float]]:
    """Per record: (name, cbor size, cbor enc/s, cbor dec/s, fb size, fb enc/s, fb dec/s).

    CBOR decode goes through the same unmarshal the table uses (Cookie.load,
    else parse); FlatBuffers decode reads every field into the record.
    """
    rows = []
    for cls, record in sample_records().items():
        unmarshal = getattr(cls, "load", cls.parse)
        cbor_bytes = cbor2.dumps(record.marshal())
        flat = FlatCodec(cls)
        fb_bytes = flat.encode(record)
        if unmarshal(cbor2.loads(cbor_bytes)) != record or flat.decode(fb_bytes) != record:
            raise AssertionError(f"{cls.__name__}: a codec does not round-trip")
        rows.append((cls.__name__,
                     len(cbor_bytes),
                     best_rate(n, lambda: [cbor2.dumps(record.marshal()) for _ in range(n)]),
                     best_rate(n, lambda: [unmarshal(cbor2.loads(cbor_bytes)) for _ in range(n)]),
                     len(fb_bytes),
                     best_rate(n, lambda: [flat.encode(record) for _ in range(n)]),
                     best_rate(n, lambda: [flat.decode(fb_bytes) for _ in range(n)])))
    return rows


# -- report ----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.services", description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=20000, help="operations per measurement (default 20000)")
    parser.add_argument("--sync", action="store_true", help="fsync every commit (default: off, measures CPU)")
    parser.add_argument("--dir", default=None, help="where to create the scratch databases")
    args = parser.parse_args(argv)
    n = args.n

    print(f"python {platform.python_version()} on {platform.machine()}, lmdb {lmdb.__version__}, "
          f"cbor2 (C), n={n}, sync={args.sync}, best of {REPEATS}")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        service = bench_cookie_service(f"{tmp}/svc-cookies", n, args.sync)
        raw = bench_raw_cookies(f"{tmp}/raw-cookies", n, args.sync)
        service.update(bench_deliveries(f"{tmp}/svc-realm", n * 5, args.sync))
        raw.update(bench_raw_deliveries(f"{tmp}/raw-realm", n * 5, args.sync))

    print(f"\n{'operation':30s} {'cfxstore ops/s':>15s} {'raw lmdb ops/s':>15s} {'cfxstore/raw':>13s}")
    for op in ("lookup", "set_auth", "create", "store_batch deliveries"):
        label = f"cookie {op}" if op != "store_batch deliveries" else f"{op} (batch {BATCH})"
        print(f"{label:30s} {service[op]:15,.0f} {raw[op]:15,.0f} {service[op] / raw[op]:13.2f}")

    print(f"\n{'record':12s} {'cbor B':>7s} {'cbor enc/s':>11s} {'cbor dec/s':>11s} "
          f"{'fb B':>6s} {'fb enc/s':>11s} {'fb dec/s':>11s} {'enc cbor/fb':>12s} {'dec cbor/fb':>12s}")
    for name, cb, ce, cd, fb, fe, fd in bench_formats(n):
        print(f"{name:12s} {cb:7d} {ce:11,.0f} {cd:11,.0f} {fb:6d} {fe:11,.0f} {fd:11,.0f} "
              f"{ce / fe:12.1f} {cd / fd:12.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
