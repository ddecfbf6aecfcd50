"""The management procedures as functions over wire-form values (what the WAMP component registers)."""

from __future__ import annotations

import json
import uuid

import pytest

from cfxstore.management import InvalidArgument, ManagementError, NotFound
from cfxstore.management.api import procedures
from cfxstore.management.kinds import KINDS
from factories import fields

PUBLIC = [name for name, kind in KINDS.items() if not kind.internal]


def _wire(values: dict) -> dict:
    return json.loads(json.dumps(values, default=str))  # UUIDs as strings, as a WAMP client sends them


def _key(kind: str, record: dict):
    key_fields = KINDS[kind].key_fields
    return record[key_fields[0]] if len(key_fields) == 1 else [record[f] for f in key_fields]


@pytest.mark.parametrize("kind", PUBLIC)
def test_every_kind_round_trips_through_the_procedures(mgmt, kind):
    procs = procedures(mgmt)
    created = procs[f"{kind}.create"](_wire(fields(mgmt, kind)))
    json.dumps(created)  # JSON-safe as returned
    key = _key(kind, created)
    assert procs[f"{kind}.get"](key) == created
    assert created in procs[f"{kind}.list"](limit=1000)["items"]
    changes = {"label": "x"} if "label" in created else {}
    updated = procs[f"{kind}.update"](key, changes)
    assert {k: updated[k] for k in changes} == changes
    assert procs[f"{kind}.delete"](key) == updated
    with pytest.raises(NotFound):
        procs[f"{kind}.get"](key)


@pytest.mark.parametrize("kind", PUBLIC)
@pytest.mark.parametrize("call", [
    lambda p, k: p[f"{k}.create"]({}),
    lambda p, k: p[f"{k}.create"]("not an object"),
    lambda p, k: p[f"{k}.create"]({"no_such_field": 1}),
    lambda p, k: p[f"{k}.get"]("not-a-uuid"),
    lambda p, k: p[f"{k}.get"](12),
    lambda p, k: p[f"{k}.update"]("not-a-uuid", {}),
    lambda p, k: p[f"{k}.update"](str(uuid.uuid4()), "changes"),
    lambda p, k: p[f"{k}.delete"]([]),
    lambda p, k: p[f"{k}.list"](limit=-1),
    lambda p, k: p[f"{k}.list"](after="??"),
    lambda p, k: p[f"{k}.list"](unknown_filter="x"),
], ids=["create-empty", "create-non-object", "create-unknown", "get-bad", "get-int", "update-bad-key",
        "update-non-object", "delete-list", "list-limit", "list-cursor", "list-filter"])
def test_bad_arguments_are_refused_with_a_management_error_and_write_nothing(mgmt, kind, call):
    procs = procedures(mgmt)
    before = {name: repr(c.list(limit=1000).items) for name, c in mgmt.collections().items()}
    with pytest.raises(ManagementError) as info:
        call(procs, kind)
    assert info.value.uri.startswith("cfxstore.error.")
    assert {name: repr(c.list(limit=1000).items) for name, c in mgmt.collections().items()} == before


def test_get_by_names(mgmt):
    procs = procedures(mgmt)
    role = procs["role.create"]({"name": "named"})
    assert procs["role.get_by"]("named") == role
    principal = procs["principal.create"]({"realm": "r1", "authid": "a1", "role": "named"})
    assert procs["principal.get_by"](["r1", "a1"]) == principal
    assert "permission.get_by" not in procs  # its unique key holds a UUID: use list(role_oid=...)
    with pytest.raises(InvalidArgument):
        procs["role.get_by"](5)


def test_principal_secrets_and_credentials(mgmt):
    procs = procedures(mgmt)
    p = procs["principal.create"]({"realm": "r1", "authid": "a1", "role": "user"}, ticket="t-1")
    procs["principal.set_secret"](p["oid"], "wampcra", "cra-1")
    creds = procs["principal.credentials"](p["oid"])
    assert sorted(c["authmethod"] for c in creds) == ["ticket", "wampcra"]
    assert all(set(c) == {"authmethod", "created", "modified"} for c in creds)
    with pytest.raises(InvalidArgument, match="ticket"):
        procs["principal.set_secret"](p["oid"], "ticket", "")


def test_principal_scram_and_tls_credentials(mgmt):
    procs = procedures(mgmt)
    fingerprint = ":".join(["AB"] * 32)
    p = procs["principal.create"]({"realm": "r1", "authid": "a1", "role": "user"}, scram="pw-1",
                                  tls={"sha256": fingerprint})
    assert sorted(c["authmethod"] for c in procs["principal.credentials"](p["oid"])) == ["scram", "tls"]
    assert mgmt.credentials.tls_principal("r1", ["sha256:" + "ab" * 32]).authid == "a1"
    assert procs["principal.set_credential"](p["oid"], "tls", {"cn": "device-1"}) == {"principal": p["oid"],
                                                                                       "authmethod": "tls"}
    assert mgmt.credentials.tls_principal("r1", ["cn:device-1"]).authid == "a1"
    assert procs["principal.set_secret"](p["oid"], "scram", "pw-2")["authmethod"] == "scram"


def test_principal_disable_and_enable(mgmt):
    procs = procedures(mgmt)
    p = procs["principal.create"]({"realm": "r1", "authid": "a1", "role": "user"}, ticket="t-1")
    assert p["disabled"] is None                        # every field travels, unset ones too
    disabled = procs["principal.disable"](p["oid"])
    assert disabled["disabled"].endswith("Z") and disabled["oid"] == p["oid"]
    assert procs["principal.get"](p["oid"])["disabled"] == disabled["disabled"]
    assert procs["principal.disable"](p["oid"])["disabled"] == disabled["disabled"]   # kept, not renewed
    assert procs["principal.enable"](p["oid"])["disabled"] is None
    assert procs["principal.get"](p["oid"])["disabled"] is None
    assert mgmt.credentials.verify_ticket("r1", "a1", "t-1") is not None
    with pytest.raises(NotFound):
        procs["principal.disable"](str(uuid.uuid4()))


@pytest.mark.parametrize("method, config, field", [
    ("tls", {"sha256": "abc"}, "tls: sha256: "),
    ("tls", {"cn": "a", "sha1": "ab" * 20}, "tls: expected exactly one"),
    ("scram", {"kdf": "pbkdf2", "iterations": 4096, "memory": 0, "salt": "00", "stored-key": "00",
               "server-key": "ab" * 32}, "scram: stored-key: "),
    ("ticket", {"hash": "x"}, "method: "),
])
def test_principal_set_credential_refuses_bad_input_and_writes_nothing(mgmt, method, config, field):
    procs = procedures(mgmt)
    p = procs["principal.create"]({"realm": "r1", "authid": "a1", "role": "user"})
    with pytest.raises(InvalidArgument, match=f"^{field}"):
        procs["principal.set_credential"](p["oid"], method, config)
    assert procs["principal.credentials"](p["oid"]) == []


@pytest.mark.parametrize("name, args", [
    ("session.get", ("x",)), ("session.get", (-1,)), ("session.by_authid", ("",)),
    ("event.by_subscription", (True,)), ("publication.by_topic", (None,)), ("cookie.revoke_by_authid", (3,)),
])
def test_history_queries_validate_their_arguments(mgmt, name, args):
    with pytest.raises(InvalidArgument):
        procedures(mgmt)[name](*args)


def test_history_queries_answer_from_the_services(mgmt):
    procs = procedures(mgmt)
    assert procs["session.get"](12345) is None
    assert procs["session.by_authid"]("nobody") == []
    assert procs["cookie.revoke_by_authid"]("nobody") == {"authid": "nobody", "cookies_deleted": 0}


def test_event_and_publication_queries_return_wire_records(mgmt):
    from cfxstore.realmstore.service import SessionHistory

    history = SessionHistory(mgmt.db)
    history.store_publication(publication_id=7, topic="com.example.t", publisher=1, args=[1, "a"])
    history.store_delivery(7, subscription_id=99, receiver=2)
    procs = procedures(mgmt)
    events = procs["event.by_subscription"](99)
    assert len(events) == 1 and events[0]["publication_id"] == 7 and events[0]["timestamp"].endswith("Z")
    pubs = procs["publication.by_topic"]("com.example.t")
    assert [p["args"] for p in pubs] == [[1, "a"]]
    json.dumps(events), json.dumps(pubs)


def test_audit_list_shows_principal_changes_made_through_the_procedures(mgmt):
    procs = procedures(mgmt)
    role = procs["role.create"]({"name": "auditor"})
    principal = procs["principal.create"]({"realm": "realm1", "authid": "mallory", "role": "auditor"},
                                          ticket="s3cret-of-mallory")
    procs["principal.update"](principal["oid"], {"role": "auditor", "label": "x"})

    events = procs["audit.list"](authid="mallory")
    json.dumps(events)
    assert [(e["kind"], e["action"]) for e in events] == [("principal", "created"), ("principal", "updated")]
    assert events[1]["detail"]["before"]["label"] is None and events[1]["detail"]["record"]["label"] == "x"
    assert "s3cret" not in json.dumps(procs["audit.list"]())
    assert [e["action"] for e in procs["audit.list"](kind="role")] == ["created"]
    assert procs["audit.list"](kind=["role"], since=events[0]["at"]) == []
    assert procs["audit.list"](kind="role", until=events[0]["at"])[0]["detail"]["record"]["name"] == role["name"]
    assert len(procs["audit.list"](limit=1)) == 1


@pytest.mark.parametrize("call", [dict(kind="coffee"), dict(kind=[1]), dict(limit=0), dict(limit=1001),
                                  dict(since="yesterday"), dict(authid="")])
def test_audit_list_refuses_bad_arguments(mgmt, call):
    with pytest.raises(InvalidArgument):
        procedures(mgmt)["audit.list"](**call)
