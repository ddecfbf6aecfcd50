"""Dumps: a streaming, versioned JSON-lines copy of a database, and loading one back."""

from __future__ import annotations

import io
import json

import pytest
from store_factories import MAXSIZE, populate, snapshot

from cfxstore.cookies.service import CookieService
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.migrate.dump import DUMP_FORMAT, SECRET_FIELDS, dump
from cfxstore.migrate.errors import DumpFormatError, MaintenanceError
from cfxstore.migrate.load import load, validate


def dump_lines(path, **kw):
    out = io.StringIO()
    with open_database(path, readonly=True) as db:
        summary = dump(db, out, **kw)
    return [json.loads(line) for line in out.getvalue().splitlines()], summary


def write_lines(path, lines):
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


def load_into(target, file):
    info = validate(file)
    with open_database(target, maxsize=MAXSIZE) as db:
        return load(db, info)


@pytest.fixture
def source(tmp_path):
    path = str(tmp_path / "source")
    made = populate(path)
    return path, made


def test_the_first_line_is_a_versioned_header_and_the_last_an_end_line(source):
    lines, summary = dump_lines(source[0])
    header, end = lines[0], lines[-1]
    assert header["format"] == DUMP_FORMAT and header["version"] == 1 and header["schema_version"] == 2
    assert header["tables"]["sessions"]["rows"] == 3
    assert end == {"end": True, "rows": summary.rows}
    assert all(set(line) == {"t", "k", "v"} for line in lines[1:-1])


def test_index_tables_are_not_dumped(source):
    lines, _ = dump_lines(source[0])
    assert not any(name.startswith("idx_") for name in lines[0]["tables"])


def test_a_dump_with_secrets_loads_into_an_identical_database(source, tmp_path):
    path, made = source
    lines, _ = dump_lines(path, include_secrets=True)
    file = write_lines(tmp_path / "dump.jsonl", lines)
    target = str(tmp_path / "target")
    load_into(target, file)
    assert {k: v for k, v in snapshot(target).items() if k != "__meta__"} == \
        {k: v for k, v in snapshot(path).items() if k != "__meta__"}
    with CookieService.open(target) as cookies:
        assert cookies.lookup(made["cookies"][0]["value"]).authid == "user0"
    with CredentialService.open(target) as creds:
        assert creds.verify_ticket("realm1", "alice", "alice-secret") is not None


def test_secrets_are_left_out_by_default(source, tmp_path):
    path, made = source
    lines, summary = dump_lines(path)
    text = json.dumps(lines)
    assert summary.omitted == ["credentials"] and "credentials" not in lines[0]["tables"]
    assert "value_hash" not in text and "argon2" not in text
    file = write_lines(tmp_path / "dump.jsonl", lines)
    info = validate(file)
    assert info.without_secrets == {"cookies": 2} and info.rows["cookies"] == 0
    target = str(tmp_path / "target")
    written = load_into(target, file)
    assert written["sessions"] == 3 and written["principals"] == 1
    with CookieService.open(target) as cookies:
        assert cookies.lookup(made["cookies"][0]["value"]) is None


def test_the_fields_left_out_are_the_ones_the_records_declare_secret():
    # The cookie's value hash and the activation code's hash would let a reader of the dump log in.
    assert SECRET_FIELDS == {"cookies": ("value_hash",), "activation_tokens": ("code_hash",)}


def test_the_change_feed_is_neither_dumped_nor_called_unknown(tmp_path):
    path = str(tmp_path / "source")
    with open_database(path, maxsize=MAXSIZE) as db:
        Management(db).roles.create(name="reader")  # appends to the change feed
    lines, summary = dump_lines(path)
    assert summary.rows["roles"] == 1 and summary.skipped == []
    assert "changes" not in lines[0]["tables"] and not [row for row in lines if row.get("t") == "changes"]
    written = load_into(str(tmp_path / "target"), write_lines(tmp_path / "dump.jsonl", lines))
    assert written["roles"] == 1


def test_a_dump_is_one_consistent_snapshot(source, tmp_path):
    # Counts in the header and rows written come from the same read transaction.
    lines, summary = dump_lines(source[0])
    for name, spec in lines[0]["tables"].items():
        assert spec["rows"] == summary.rows[name] == sum(1 for line in lines[1:-1] if line["t"] == name)


# -- bad input -----------------------------------------------------------------

@pytest.fixture
def good(source):
    lines, _ = dump_lines(source[0], include_secrets=True)
    return lines


def test_a_corrupt_line_is_named(good, tmp_path):
    file = tmp_path / "dump.jsonl"
    text = "".join(json.dumps(line) + "\n" for line in good)
    lines = text.splitlines(keepends=True)
    lines[3] = lines[3][: len(lines[3]) // 2] + "\n"
    file.write_text("".join(lines))
    with pytest.raises(DumpFormatError, match="line 4: not valid JSON"):
        validate(str(file))


def test_an_unknown_table_in_a_row_is_refused(good, tmp_path):
    good.insert(2, {"t": "no_such_table", "k": 1, "v": 2})
    with pytest.raises(DumpFormatError, match="line 3: unknown table 'no_such_table'"):
        validate(write_lines(tmp_path / "d.jsonl", good))


def test_an_unknown_table_in_the_header_is_refused(good, tmp_path):
    good[0]["tables"]["mystery"] = {"slot": 999, "key": "uuid", "value": "cbor", "rows": 0}
    with pytest.raises(DumpFormatError, match="line 1: unknown table 'mystery'"):
        validate(write_lines(tmp_path / "d.jsonl", good))


def test_a_truncated_dump_is_refused(good, tmp_path):
    with pytest.raises(DumpFormatError, match="without its end line: the dump is truncated"):
        validate(write_lines(tmp_path / "d.jsonl", good[:-1]))


def test_a_row_count_mismatch_is_refused(good, tmp_path):
    del good[2]
    with pytest.raises(DumpFormatError, match="end line counts"):
        validate(write_lines(tmp_path / "d.jsonl", good))


@pytest.mark.parametrize("change, message", [
    (lambda h: h.update(format="other"), "is not a cfxstore dump"),
    (lambda h: h.update(version=9), "format version 9 is not supported"),
    (lambda h: h["tables"]["sessions"].update(key="str"), "this cfxstore stores uuid/cbor"),
])
def test_a_bad_header_is_refused(good, tmp_path, change, message):
    change(good[0])
    with pytest.raises(DumpFormatError, match=message):
        validate(write_lines(tmp_path / "d.jsonl", good))


def test_a_file_that_is_not_a_dump_is_refused(tmp_path):
    file = tmp_path / "notes.txt"
    file.write_text("hello\n")
    with pytest.raises(DumpFormatError, match="is not a cfxstore dump"):
        validate(str(file))
    (tmp_path / "empty").write_text("")
    with pytest.raises(DumpFormatError, match="is empty"):
        validate(str(tmp_path / "empty"))
    with pytest.raises(DumpFormatError, match="no dump file"):
        validate(str(tmp_path / "missing"))


def test_an_invalid_record_is_named_by_line_and_table(good, tmp_path):
    row = next(i for i, line in enumerate(good) if line.get("t") == "cookies")
    good[row]["v"]["value_hash"] = {"$bytes": "AAAA"}
    with pytest.raises(DumpFormatError, match=f"line {row + 1}: table cookies.*invalid record.*value_hash"):
        validate(write_lines(tmp_path / "d.jsonl", good))


def test_a_bad_key_is_refused(good, tmp_path):
    row = next(i for i, line in enumerate(good) if line.get("t") == "sessions")
    good[row]["k"] = "not-a-uuid"
    with pytest.raises(DumpFormatError, match=f"line {row + 1}: table sessions: invalid key"):
        validate(write_lines(tmp_path / "d.jsonl", good))


def test_loading_into_a_database_with_records_is_refused_and_changes_nothing(good, source, tmp_path):
    file = write_lines(tmp_path / "d.jsonl", good)
    target = str(tmp_path / "target")
    populate(target)
    before = snapshot(target)
    with pytest.raises(MaintenanceError, match="already holds .* records; load into a new database"):
        load_into(target, file)
    assert snapshot(target) == before


def test_a_dump_of_another_schema_version_is_refused(good, tmp_path):
    good[0]["schema_version"] = 1
    file = write_lines(tmp_path / "d.jsonl", good)
    with pytest.raises(MaintenanceError, match="schema version 1 but database .* is at version 2"):
        load_into(str(tmp_path / "target"), file)


def test_a_duplicate_unique_key_aborts_the_whole_load(good, tmp_path):
    # Two principals with one (realm, authid): the unique index refuses the second.
    row = next(line for line in good if line.get("t") == "principals")
    twin = json.loads(json.dumps(row))
    twin["k"] = {"$uuid": "00000000-0000-4000-8000-000000000001"}
    twin["v"]["oid"] = twin["k"]
    good.insert(-1, twin)
    good[-1]["rows"]["principals"] += 1
    good[0]["tables"]["principals"]["rows"] += 1
    file = write_lines(tmp_path / "d.jsonl", good)
    target = str(tmp_path / "target")
    open_database(target).close()
    with pytest.raises(MaintenanceError, match=f"line {len(good) - 1}: .*already belongs to"):
        load_into(target, file)
    assert all(not rows for name, rows in snapshot(target).items() if not name.startswith("__"))


# --- bad bytes, raw credentials, private files ---

def test_invalid_utf8_after_the_first_line_is_named(good, tmp_path):
    file = tmp_path / "d.jsonl"
    file.write_bytes(json.dumps(good[0]).encode() + b"\n" + b'{"t": "\xff\xfe"}\n')
    with pytest.raises(DumpFormatError, match="line 2: not valid JSON .*UTF-8"):
        validate(str(file))


def test_deeply_nested_json_is_named(good, tmp_path):
    file = tmp_path / "d.jsonl"
    file.write_text(json.dumps(good[0]) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(DumpFormatError, match="line 2: not valid JSON .*nested too deeply"):
        validate(str(file))


def test_a_deeply_nested_value_is_named(good, tmp_path):
    row = next(i for i, line in enumerate(good) if line.get("t") == "sessions")
    text = "".join(json.dumps(line) + "\n" for line in good)
    nested = '{"$tuple": ' * 5000 + "1" + "}" * 5000
    file = tmp_path / "d.jsonl"
    lines = text.splitlines()
    lines[row] = lines[row].replace('"v": {', f'"v": {{"deep": {nested}, ', 1)
    file.write_text("\n".join(lines) + "\n")
    with pytest.raises(DumpFormatError, match=f"line {row + 1}"):
        validate(str(file))


def test_dump_never_exports_raw_credentials_in_transport_details(tmp_path):
    path = str(tmp_path / "db")
    raw = "RAWCOOKIEVALUE0123456789"
    with open_database(path, maxsize=MAXSIZE) as db:
        cookies = CookieService(db)
        value, cookie = cookies.create()
        leaky = {"http_cbtid": raw, "http_headers_received": {"cookie": f"cbtid={raw}", "host": "x",
                                                               "authorization": f"Bearer {raw}"}}
        # As an older version stored it: written past the services, which would scrub it.
        with db.begin(write=True) as txn:
            cookies.schema.cookies[txn, cookie.oid] = cookie.with_auth(authid="a", transport=leaky,
                                                                       modified=cookie.modified)
    for flags in ({}, {"include_secrets": True}):
        lines, _ = dump_lines(path, **flags)
        text = json.dumps(lines)
        assert raw not in text and value not in text
        (row,) = [line for line in lines if line.get("t") == "cookies"]
        assert row["v"]["transport"] == {"http_headers_received": {"host": "x"}}


def test_the_services_scrub_transport_details_themselves(db):
    from cfxstore.realmstore.service import SessionHistory

    leaky = {"http_cbtid": "secret-value", "peer": "tcp4:1.2.3.4:5",
             "http_headers_received": {"Cookie": "cbtid=secret-value", "Authorization": "Basic x"}}
    cookies = CookieService(db)
    value, _ = cookies.create()
    cookies.set_auth(value, "a", "r", "ticket", None, "realm1", context={"transport": leaky})
    assert cookies.lookup(value).transport == {"peer": "tcp4:1.2.3.4:5", "http_headers_received": {}}
    session = SessionHistory(db).session_joined(session_id=1, realm="r", authid="a", authrole="r",
                                                authmethod="ticket", transport=leaky)
    assert session.transport == {"peer": "tcp4:1.2.3.4:5", "http_headers_received": {}}


def test_cli_dump_file_is_private_from_its_first_byte(source, tmp_path, monkeypatch):
    import os

    from click.testing import CliRunner

    from cfxstore.cli.main import cli

    modes = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *args, **kwargs):
        fd = real_open(path, flags, mode, *args, **kwargs)
        if str(path).endswith(".partial"):
            modes.append(os.fstat(fd).st_mode & 0o777)  # before a single byte is written
        return fd

    monkeypatch.setattr(os, "open", spy)
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(cli, ["db", "dump", source[0], "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert modes == [0o600] and os.stat(out).st_mode & 0o777 == 0o600
