"""docs/schemas.md is generated from the schema declarations and must not go stale."""

import subprocess
import sys
from pathlib import Path

from cfxstore.migrate.schemas import KNOWN_SCHEMAS
from cfxstore.globalschema.schema import GlobalSchema
from cfxstore.mrealm.schema import MrealmSchema
from tools import schemadoc


def test_committed_docs_match_the_schemas():
    # Fails whenever a schema changes without `python -m tools.schemadoc` being re-run.
    assert schemadoc.main(["--check"]) == 0


def test_check_reports_a_stale_file(tmp_path):
    out = tmp_path / "schemas.md"
    out.write_text(schemadoc.generate().replace("| 20 |", "| 21 |"), encoding="utf-8")
    assert schemadoc.main(["--check", "--output", str(out)]) == 1


def test_check_reports_a_missing_file(tmp_path):
    assert schemadoc.main(["--check", "--output", str(tmp_path / "missing.md")]) == 1


def test_check_passes_right_after_generating(tmp_path):
    out = tmp_path / "schemas.md"
    assert schemadoc.main(["--output", str(out)]) == 0
    assert schemadoc.main(["--check", "--output", str(out)]) == 0


def test_check_writes_nothing(tmp_path):
    schemadoc.main(["--check", "--output", str(tmp_path / "schemas.md")])
    assert not (tmp_path / "schemas.md").exists()


def test_rows_come_from_the_attached_tables():
    doc = schemadoc.describe(GlobalSchema)
    users = next(t for t in doc.tables if t.name == "users")
    assert (users.slot, users.key, users.value) == (20, "uuid", "cbor")
    assert "`idx_users_by_pubkey` (unique, nullable)" in users.indexes


def test_index_tables_name_their_owner():
    doc = schemadoc.describe(MrealmSchema)
    idx = next(t for t in doc.tables if t.name == "idx_credentials_by_auth")
    assert (idx.key, idx.indexes) == ("tuple(str,str,str)", "index of `credentials` (unique)")


def test_tables_are_listed_in_slot_order():
    slots = [t.slot for t in schemadoc.describe(MrealmSchema).tables]
    assert slots == sorted(slots)


def test_every_registered_schema_is_documented():
    text = schemadoc.generate()
    for schema in KNOWN_SCHEMAS:
        assert f"## {schema.__name__}" in text


def test_runs_from_a_checkout(tmp_path):
    out = tmp_path / "schemas.md"
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "tools.schemadoc", "--output", str(out)], cwd=root, check=True,
                   capture_output=True)
    assert out.read_text(encoding="utf-8") == schemadoc.generate()


def test_record_fields_are_documented_from_their_declarations():
    doc = schemadoc.describe(MrealmSchema)
    principals = next(r for r in doc.records if r.table == "principals")
    realm = next(f for f in principals.fields if f.name == "realm")
    assert (principals.record, realm.type, realm.default) == ("Principal", "str", "required")
    assert "at most 240 UTF-8 bytes" in realm.rules
    role_oid = next(f for f in principals.fields if f.name == "role_oid")
    assert role_oid.rules == "references `role` (deleting it: refuse)"
