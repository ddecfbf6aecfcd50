"""Fuzzing what users and peers hand in: only project errors come out, and a failure writes nothing.

Covered: the Cookie header parser, the cfxstore items of a node config, db
load (bytes after a valid header, and mutated valid dumps) and the parse /
marshal of every record class.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import string
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cfxstore.cookies.entities
import cfxstore.globalschema.entities
import cfxstore.mrealm.entities
import cfxstore.realmstore.entities
from cfxstore.database import open_database
from cfxstore.entity import Entity
from cfxstore.migrate.dump import dump
from cfxstore.migrate.errors import DumpFormatError, MaintenanceError
from cfxstore.migrate.load import load, validate
from cfxstore.node.config import parse_auth, parse_cookie, parse_realm_store
from cfxstore.node.errors import RouterConfigError
from cfxstore.router.cookiestore import _VALUE, parse_cookie_header

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**300, max_value=10**400),
                    st.floats(), st.text(max_size=20), st.binary(max_size=20))
json_like = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                         max_leaves=12)


# --- Cookie header ---

header_text = st.one_of(
    st.text(),
    st.lists(st.tuples(st.sampled_from(["cbtid", " cbtid ", "x", ""]),
                       st.one_of(st.text(alphabet=string.ascii_letters + string.digits + "-_=\";, \t", max_size=140),
                                 st.text(max_size=30))), max_size=5)
    .map(lambda pairs: ";".join(f"{k}={v}" for k, v in pairs)),
)


@FUZZ
@given(header=st.one_of(header_text, scalars, json_like))
def test_cookie_header_parser_returns_a_well_formed_value_or_none(header):
    value = parse_cookie_header(header, "cbtid")
    assert value is None or _VALUE.match(value)


# --- node config ---

COOKIE_KEYS = ["name", "length", "max_age", "store", "secure", "http_strict", "same_site"]
STORE_KEYS = ["type", "path", "maxsize", "sync", "readonly", "purge_on_startup", "purge_interval", "flush_ms",
              "max_pending", "cache_ttl", "cache_size"]
REALM_KEYS = ["type", "path", "maxsize", "sync", "limit", "event-history", "buffer-flush", "max-buffer",
              "retention", "call-queue", "session-history"]


def items(keys):
    return st.dictionaries(st.sampled_from(keys + ["unknown"]), json_like, max_size=6)


@FUZZ
@given(cookie=items(COOKIE_KEYS), store=items(STORE_KEYS), realm=items(REALM_KEYS),
       auth=st.one_of(st.none(), items(["path", "maxsize", "sync"]), json_like))
def test_node_config_items_parse_or_raise_the_config_error(cookie, store, realm, auth):
    for parse, item in ((parse_cookie, {**cookie, "store": {**store, "type": "cfxstore"}}),
                        (parse_realm_store, {**realm, "type": "cfxstore"}), (parse_auth, auth)):
        try:
            parse(item)
        except RouterConfigError as exc:
            assert exc.key in str(exc)


# --- db load ---

@pytest.fixture(scope="module")
def valid_dump(tmp_path_factory):
    from cfxstore.cookies.service import CookieService
    from cfxstore.realmstore.service import SessionHistory

    path = str(tmp_path_factory.mktemp("src") / "db")
    with open_database(path) as db:
        cookies = CookieService(db)
        value, _ = cookies.create()
        cookies.set_auth(value, "alice", "user", "ticket", {"k": [1, 2]}, "realm1")
        SessionHistory(db).session_joined(session_id=7, realm="realm1", authid="alice", authrole="user",
                                          authmethod="ticket", transport={"peer": "tcp4:1.2.3.4:5"})
    out = io.StringIO()
    with open_database(path, readonly=True) as db:
        dump(db, out, include_secrets=True)
    return out.getvalue().encode()


def _load_bytes(data: bytes) -> None:
    """validate + load into a fresh database; on failure, assert that nothing was written."""
    with tempfile.TemporaryDirectory() as tmp:
        file = os.path.join(tmp, "d.jsonl")
        with open(file, "wb") as f:
            f.write(data)
        try:
            info = validate(file)
        except DumpFormatError:
            return
        target = os.path.join(tmp, "db")
        with open_database(target) as db:
            try:
                load(db, info)
            except MaintenanceError:
                assert sum(dump(db, io.StringIO(), include_secrets=True).rows.values()) == 0


@FUZZ
@given(tail=st.binary(max_size=300))
def test_db_load_of_any_bytes_after_a_valid_header_gives_a_clear_error(valid_dump, tail):
    header = valid_dump.split(b"\n", 1)[0] + b"\n"
    _load_bytes(header + tail)


@FUZZ
@given(data=st.data())
def test_db_load_of_a_mutated_dump_gives_a_clear_error_and_writes_nothing(valid_dump, data):
    lines = valid_dump.decode().splitlines()
    i = data.draw(st.integers(0, len(lines) - 1))
    obj = json.loads(lines[i])
    field = data.draw(st.sampled_from(sorted(obj)))
    obj[field] = data.draw(json_like.filter(lambda v: not isinstance(v, (bytes, float)) or v == v)
                           .map(lambda v: v.decode("latin-1") if isinstance(v, bytes) else v), label="value")
    try:
        lines[i] = json.dumps(obj)
    except (TypeError, ValueError):
        return
    _load_bytes(("\n".join(lines) + "\n").encode())


# --- record classes ---

def _record_classes() -> list[type[Entity]]:
    modules = (cfxstore.cookies.entities, cfxstore.realmstore.entities, cfxstore.globalschema.entities,
               cfxstore.mrealm.entities)
    return [cls for module in modules for cls in vars(module).values()
            if isinstance(cls, type) and issubclass(cls, Entity) and dataclasses.is_dataclass(cls)
            and cls.__module__ == module.__name__]


def _fields(cls):
    values = st.one_of(json_like, st.uuids(), st.binary(max_size=40), st.integers(0, 2**64))
    names = list(cls._fields())
    return st.dictionaries(st.sampled_from(names + ["_extra"]), values, max_size=len(names) + 1)


@pytest.mark.parametrize("cls", _record_classes(), ids=lambda c: c.__name__)
def test_every_record_class_parses_or_raises_a_clear_error(cls):
    @settings(max_examples=60, deadline=None)
    @given(data=_fields(cls))
    def check(data):
        try:
            record = cls.parse(dict(data))
        except ValueError as exc:
            assert str(exc)
            return
        again = cls.parse(record.marshal())
        assert again == record

    check()
