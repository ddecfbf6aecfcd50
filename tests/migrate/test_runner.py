"""The runner: planning, one transaction per step, all-or-nothing, dry runs, downgrades, history."""

from __future__ import annotations

import textwrap

import pytest
from store_factories import MAXSIZE, populate, snapshot, version_of

from cfxstore.database import open_database
from cfxstore.migrate.discovery import load_migrations
from cfxstore.migrate.errors import MigrationError
from cfxstore.migrate.runner import Runner, plan_down, plan_up
from cfxstore.schemaversion import HISTORY_KEY
from cfxstore.realmstore.service import SessionHistory

BASE = '''
VERSION = 1
DESCRIPTION = "base"
def upgrade(ctx):
    ctx.note("base")
'''

# A field rename in a stored record, with its inverse.
RENAME = '''
VERSION = 2
DESCRIPTION = "rename sessions.authmethod to auth_method"
def upgrade(ctx):
    for key, record in ctx.rows("sessions"):
        record["auth_method"] = record.pop("authmethod", None)
        ctx.put("sessions", key, record)
def downgrade(ctx):
    for key, record in ctx.rows("sessions"):
        record["authmethod"] = record.pop("auth_method", None)
        ctx.put("sessions", key, record)
'''

# Rewrites an index table itself, as a migration that changes an indexed field must.
REINDEX = '''
VERSION = 3
DESCRIPTION = "move every session id up by 1000, index included"
def upgrade(ctx):
    index = "idx_sessions_by_session_id"
    for (session_id, joined_at), oid in ctx.rows(index):
        ctx.delete(index, (session_id, joined_at))
        ctx.put(index, (session_id + 1000, joined_at), oid)
    for key, record in ctx.rows("sessions"):
        record["session_id"] += 1000
        ctx.put("sessions", key, record)
'''

FAIL = '''
VERSION = {v}
DESCRIPTION = "fails half way"
def upgrade(ctx):
    for n, (key, record) in enumerate(ctx.rows("sessions")):
        record["realm"] = "changed"
        ctx.put("sessions", key, record)
        if n == 1:
            raise RuntimeError("boom")
'''


def migrations_dir(tmp_path, *bodies):
    d = tmp_path / "migrations"
    d.mkdir()
    names = ["base", "rename", "reindex", "four", "five"]
    for i, body in enumerate(bodies, start=1):
        (d / f"{i:04d}_{names[i - 1]}.py").write_text(textwrap.dedent(body))
    return load_migrations(str(d))


def run(path, migrations, direction="up", to=None, dry_run=False):
    with open_database(path, check_version=False, maxsize=MAXSIZE) as db:
        runner = Runner(db)
        current = runner.current_version()
        plan = plan_up(current, migrations, to) if direction == "up" else plan_down(current, migrations, to)
        return runner.run(plan, dry_run=dry_run)


def sessions_of(path):
    return {k: v for k, v in snapshot(path)["sessions"]}


def test_up_renames_the_field_and_stamps_each_version(db_path, tmp_path):
    populate(db_path, version=1)
    migrations = migrations_dir(tmp_path, BASE, RENAME)
    results = run(db_path, migrations)
    assert [(r.from_version, r.to_version) for r in results] == [(1, 2)]
    assert version_of(db_path) == 2
    for record in sessions_of(db_path).values():
        assert "authmethod" not in record and record["auth_method"] == "ticket"
    assert results[0].rows_read == 3 and results[0].rows_written == 3


def test_an_unstamped_database_runs_every_step(db_path, tmp_path):
    populate(db_path, version=None)
    results = run(db_path, migrations_dir(tmp_path, BASE, RENAME))
    assert [r.to_version for r in results] == [1, 2]


def test_up_to_stops_at_the_given_version(db_path, tmp_path):
    populate(db_path, version=1)
    run(db_path, migrations_dir(tmp_path, BASE, RENAME, REINDEX), to=2)
    assert version_of(db_path) == 2


def test_a_migration_that_rewrites_an_index_keeps_it_usable(db_path, tmp_path):
    populate(db_path, version=1)
    run(db_path, migrations_dir(tmp_path, BASE, RENAME, REINDEX))
    with open_database(db_path, check_version=False) as db:
        history = SessionHistory(db)
        assert history.get_session(100) is None
        assert history.get_session(1100).session_id == 1100
        with db.begin() as txn:
            assert history.schema.sessions.check_indexes(txn) == []


def test_a_failing_step_changes_nothing_and_keeps_earlier_steps(db_path, tmp_path):
    populate(db_path, version=1)
    migrations = migrations_dir(tmp_path, BASE, RENAME, FAIL.format(v=3))
    before = sessions_of(db_path)
    with pytest.raises(MigrationError, match="0003_reindex.*failed: RuntimeError: boom.*stays at version 2"):
        run(db_path, migrations)
    assert version_of(db_path) == 2  # step 2 committed on its own
    after = sessions_of(db_path)
    assert all(r["realm"] == "realm1" for r in after.values())
    assert {k: {**v, "authmethod": v["auth_method"]} for k, v in after.items()} == \
        {k: {**v, "auth_method": v["authmethod"]} for k, v in before.items()}


def test_a_dry_run_changes_nothing_but_reports_what_it_would_do(db_path, tmp_path):
    populate(db_path, version=1)
    before = snapshot(db_path)
    results = run(db_path, migrations_dir(tmp_path, BASE, RENAME, REINDEX), dry_run=True)
    assert [r.to_version for r in results] == [2, 3]
    assert results[1].rows_written == 9  # three index entries deleted and re-put, three records changed
    assert snapshot(db_path) == before


def test_down_reverses_and_refuses_without_a_downgrade(db_path, tmp_path):
    populate(db_path, version=1)
    before = sessions_of(db_path)
    migrations = migrations_dir(tmp_path, BASE, RENAME, REINDEX)
    run(db_path, migrations, to=2)
    run(db_path, migrations, "down", to=1)
    assert version_of(db_path) == 1
    assert sessions_of(db_path) == before
    run(db_path, migrations)
    with pytest.raises(MigrationError, match="cannot migrate down to 1: migration 0003.*no downgrade"):
        run(db_path, migrations, "down", to=1)
    assert version_of(db_path) == 3


def test_history_records_every_step(db_path, tmp_path):
    populate(db_path, version=1)
    migrations = migrations_dir(tmp_path, BASE, RENAME)
    run(db_path, migrations)
    run(db_path, migrations, "down", to=1)
    with open_database(db_path, check_version=False) as db, db.begin() as txn:
        history = db.get_meta(txn, HISTORY_KEY)
    assert [(h["version"], h["direction"], h["from"], h["to"]) for h in history] == [(2, "up", 1, 2), (2, "down", 2, 1)]


def test_plans_refuse_impossible_targets(tmp_path):
    migrations = migrations_dir(tmp_path, BASE, RENAME)
    with pytest.raises(MigrationError, match="newer than this cfxstore"):
        plan_up(3, migrations)
    with pytest.raises(MigrationError, match="no schema version 7"):
        plan_up(1, migrations, to=7)
    with pytest.raises(MigrationError, match="already at version 2.*migrate down"):
        plan_up(2, migrations, to=1)
    with pytest.raises(MigrationError, match="below 2.*migrate up"):
        plan_down(1, migrations, to=2)
    assert plan_up(2, migrations).empty


def test_a_step_refuses_to_run_on_an_unexpected_version(db_path, tmp_path):
    populate(db_path, version=1)
    migrations = migrations_dir(tmp_path, BASE, RENAME)
    with open_database(db_path, check_version=False) as db:
        runner = Runner(db)
        plan = plan_up(runner.current_version(), migrations)
        run(db_path, migrations)  # another process migrated meanwhile
        with pytest.raises(MigrationError, match="is at version 2, expected 1.*another process"):
            runner.run(plan)


# A migration that moves a CBOR table to FlatBuffers with the flatc-generated class of fbs/publication.fbs
# (the package fbsgen, made importable by the fbs_publication fixture).
TO_FLATBUFFERS = '''
VERSION = 2
DESCRIPTION = "publications as FlatBuffers"
import cbor2
from fbsgen import Publication as P

def build(record, builder):
    if record["topic"] == "{poison}":
        raise ValueError("cannot encode this one")
    topic = builder.CreateString(record["topic"])
    args = builder.CreateByteVector(cbor2.dumps(record["args"]))
    kwargs = builder.CreateByteVector(cbor2.dumps(record["kwargs"]))
    P.Start(builder)
    P.AddPublicationId(builder, record["publication_id"])
    P.AddTopic(builder, topic)
    P.AddPublisher(builder, record["publisher"])
    P.AddArgs(builder, args)
    P.AddKwargs(builder, kwargs)
    P.AddTimestamp(builder, record["timestamp"])
    return P.End(builder)

def upgrade(ctx):
    ctx.retype_table("publications", "flatbuffers", build=build)
'''


@pytest.fixture
def fbs_publication():
    """The generated FlatBuffers class of fbs/publication.fbs, its package importable as fbsgen."""
    from bench import fbsgen

    return fbsgen.table("Publication").Publication


def publications_as_stored(path):
    with open_database(path, check_version=False) as db:
        entry = next(e for e in db.catalog().values() if e["name"] == "publications")
        raw = db.stored_table(entry)
        with db.begin() as txn:
            return entry["value"], dict(raw.select(txn))


def test_a_migration_retypes_a_cbor_table_to_flatbuffers(db_path, tmp_path, fbs_publication):
    import cbor2

    populate(db_path, version=1, publications=5)
    before = {k: v for k, v in snapshot(db_path)["publications"]}
    [step] = run(db_path, migrations_dir(tmp_path, BASE, TO_FLATBUFFERS.replace("{poison}", "-")))
    assert version_of(db_path) == 2 and step.rows_written == 5
    value, stored = publications_as_stored(db_path)
    assert value == "flatbuffers" and stored.keys() == before.keys()
    for key, data in stored.items():
        p = fbs_publication.GetRootAs(data, 0)  # read with nothing but the generated class
        record = before[key]
        assert (p.PublicationId(), p.Topic().decode(), p.Publisher(), p.Timestamp()) == \
            (record["publication_id"], record["topic"], record["publisher"], record["timestamp"])
        assert cbor2.loads(p.ArgsAsNumpy().tobytes()) == record["args"]
        assert cbor2.loads(p.KwargsAsNumpy().tobytes()) == record["kwargs"]


def test_a_retype_that_fails_leaves_the_table_and_version_as_they_were(db_path, tmp_path, fbs_publication):
    populate(db_path, version=1, publications=5)
    before = snapshot(db_path)
    migrations = migrations_dir(tmp_path, BASE, TO_FLATBUFFERS.replace("{poison}", "com.example"))
    with pytest.raises(MigrationError, match="publications.*cannot encode this one.*stays at version 1"):
        run(db_path, migrations)
    assert version_of(db_path) == 1
    assert publications_as_stored(db_path)[0] == "cbor"
    assert {k: v for k, v in snapshot(db_path).items() if k != "__meta__"} == \
        {k: v for k, v in before.items() if k != "__meta__"}
