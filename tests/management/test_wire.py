"""The wire form: JSON-safe, exact, round-trips every record kind, keeps unknown keys."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfxstore.management import InvalidArgument
from cfxstore.management.kinds import KINDS
from cfxstore.entity import Entity
from cfxstore.fields import declared_fields, field, time
from cfxstore.management.wire import from_wire, iso_to_ns, ns_to_iso, record_from_wire, to_wire
from cfxstore.mrealm.entities import MATCH_TYPES, URI_CHECK_LEVELS, Permission

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
JSONISH = st.recursive(st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                   max_size=3), max_leaves=8)


def _base(kind: str) -> dict:
    """Valid fields of kind without a database (references are random UUIDs)."""
    u = uuid.uuid4
    return {
        "user": {"email": "a@example.com", "pubkey": "ab" * 32},
        "organization": {"name": "org"},
        "organization_role": {"user_oid": u(), "org_oid": u(), "roles": ["user"]},
        "mrealm": {"name": "m", "owner": u()},
        "mrealm_role": {"user_oid": u(), "mrealm_oid": u(), "roles": ["admin"]},
        "node": {"pubkey": "cd" * 32, "mrealm_oid": u(), "authid": "n1", "authextra": {"a": [1]}},
        "arealm": {"name": "r", "webcluster_oid": u()},
        "role": {"name": "role"},
        "permission": {"role_oid": u(), "uri": "com.", "match": "prefix", "allow_call": True},
        "arealm_role": {"arealm_oid": u(), "role_oid": u()},
        "principal": {"realm": "r", "authid": "a", "role": "x", "extra": {"k": "v"}},
        "credential": {"principal_oid": u(), "authmethod": "ticket", "realm": "r", "authid": "a",
                       "authconfig": {"hash": "h"}},
        "routercluster": {"name": "rc"},
        "routercluster_node": {"cluster_oid": u(), "node_oid": u(), "softlimit": 1, "hardlimit": 2},
        "router_workergroup": {"cluster_oid": u(), "name": "wg"},
        "webcluster": {"name": "wc", "tls_chain_certificates": ["a.pem"]},
        "webcluster_node": {"cluster_oid": u(), "node_oid": u()},
        "webservice": {"webcluster_oid": u(), "path": "p", "service_type": "static"},
        "cryptosign_key": {"pubkey": "ef" * 32, "principal_oid": u(), "label": "laptop"},
    }[kind]


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=25, deadline=None)
@given(times=st.lists(INT64, min_size=4, max_size=4), unknown=st.dictionaries(
    st.text(min_size=1, max_size=6).map(lambda s: "x_" + s), JSONISH, max_size=3))
def test_every_kind_round_trips_through_json(kind, times, unknown):
    cls = KINDS[kind].entity
    values = _base(kind)
    time_fields = [name for name, f in declared_fields(cls).items() if f.spec.time]
    for name, ns in zip(time_fields, times):
        values[name] = ns
    if kind == "cryptosign_key" and values["not_after"] <= values["not_before"]:
        values["not_before"] = None  # a validity window ends after it begins
    record = cls(**values, _unknown=unknown)
    wire = json.loads(json.dumps(to_wire(record)))  # must survive JSON as is
    back = record_from_wire(cls, wire)
    assert back == record and back.marshal() == record.marshal()
    assert {k: v for k, v in back._unknown.items()} == unknown


def test_uuids_are_strings_and_times_are_iso_8601_with_nanoseconds():
    from cfxstore.mrealm.entities import Role

    role = Role(name="r", created=1_700_000_000_123_456_789)
    wire = to_wire(role)
    assert wire["oid"] == str(role.oid)
    assert wire["created"] == "2023-11-14T22:13:20.123456789Z"


@dataclasses.dataclass(kw_only=True)
class Renamed(Entity):
    """A record whose fields travel under other names."""

    oid: uuid.UUID = field(wire="id")
    at: int = time(wire="when")
    note: str = "n"


def test_a_field_travels_under_its_declared_wire_name():
    record = Renamed(oid=uuid.UUID(int=1), at=0)
    wire = to_wire(record)
    assert wire == {"id": "00000000-0000-0000-0000-000000000001", "when": "1970-01-01T00:00:00.000000000Z",
                    "note": "n"}
    assert record_from_wire(Renamed, wire) == record
    with pytest.raises(InvalidArgument, match="unknown field.*oid"):
        from_wire(Renamed, {"oid": str(record.oid)})


@given(INT64)
def test_iso_times_are_exact_for_every_int64(ns):
    assert iso_to_ns(ns_to_iso(ns)) == ns


def test_iso_input_accepts_offsets_short_fractions_and_ints():
    assert iso_to_ns("1970-01-01T01:00:00+01:00") == 0
    assert iso_to_ns("1970-01-01T00:00:01.5Z") == 1_500_000_000
    from cfxstore.mrealm.entities import Role

    assert from_wire(Role, {"created": 42})["created"] == 42


@pytest.mark.parametrize("data, field", [
    ({"oid": "not-a-uuid"}, "oid"), ({"created": "yesterday"}, "created"), ({"created": "2026-13-40T00:00:00Z"},
                                                                             "created"),
    ({"colour": "red"}, "colour"),
])
def test_bad_wire_values_name_the_field(data, field):
    from cfxstore.mrealm.entities import Role

    with pytest.raises(InvalidArgument, match=field):
        from_wire(Role, data)


def test_bytes_fields_travel_as_base64():
    from cfxstore.globalschema.entities import ActivationToken

    token = ActivationToken(atype="login", code_hash=ActivationToken.hash_code("123"), email="a@b.c",
                            pubkey="ab" * 32)
    wire = json.loads(json.dumps(to_wire(token)))
    assert record_from_wire(ActivationToken, wire) == token
    assert dataclasses.asdict(record_from_wire(ActivationToken, wire))["code_hash"] == token.code_hash


# -- the permission record's wire fields as docs/management.md lists them ----------------------------

MANAGEMENT_DOC = Path(__file__).resolve().parents[2] / "docs" / "management.md"


def documented_permission_fields() -> list[tuple[str, str, str]]:
    """(field, wire form, default) of each row of the table under "The permission record on the wire"."""
    section = MANAGEMENT_DOC.read_text().split("### The permission record on the wire\n", 1)[1].split("\n#", 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in section.splitlines() if line.startswith("| `")]
    return [(cells[0].strip("`"), cells[1], cells[2]) for cells in rows]


def _full_permission() -> Permission:
    return Permission(role_oid=uuid.uuid4(), uri="com.", owner_oid=uuid.uuid4(), label="l", description="d",
                      tags=["t"])


def test_the_documented_permission_fields_are_those_of_its_wire_form():
    documented = [name for name, _, _ in documented_permission_fields()]
    assert sorted(documented) == sorted(to_wire(_full_permission()))


def test_the_documented_permission_defaults_are_what_a_new_permission_carries():
    fields = {f.name: f for f in dataclasses.fields(Permission)}
    wire = to_wire(Permission(role_oid=uuid.uuid4(), uri="com."))
    for name, _, default in documented_permission_fields():
        if default == "required":
            assert fields[name].default is fields[name].default_factory is dataclasses.MISSING, name
        elif default == "a new UUID":
            assert str(uuid.UUID(wire[name])) == wire[name]
        elif default == "now":
            assert ns_to_iso(iso_to_ns(wire[name])) == wire[name]
        else:
            assert json.loads(default.strip("`")) == wire[name], name


def test_the_documented_permission_wire_forms_are_what_to_wire_gives():
    wire = to_wire(_full_permission())
    for name, form, _ in documented_permission_fields():
        value = wire[name]
        form = form.removesuffix(" or null")
        if form == "UUID string":
            assert str(uuid.UUID(value)) == value, name
        elif form == "ISO 8601 time":
            assert ns_to_iso(iso_to_ns(value)) == value, name
        elif form == "boolean":
            assert isinstance(value, bool), name
        elif form == "string":
            assert isinstance(value, str), name
        elif form == "list of strings":
            assert isinstance(value, list) and all(isinstance(v, str) for v in value), name
        else:  # the choices, each quoted
            choices = set(json.loads(f"[{form.replace('`', '').replace(' or ', ', ')}]"))
            assert value in choices and choices == {"match": set(MATCH_TYPES),
                                                    "uri_check_level": set(URI_CHECK_LEVELS)}[name], name
