"""The change feed: one entry per committed change, in its transaction, numbered in commit order."""

from __future__ import annotations

import threading

import pytest

import pg
from cfxstore.database import open_database
from cfxstore.management import Management, feed
from cfxstore.management.feed import ChangeFeed
from cfxstore.management.wire import to_wire


def _entries(db, position=0):
    return [(e["kind"], e["op"], e["record"].get("name") or e["record"].get("uri")) for _, e in
            ChangeFeed(db).follow(position)]


def test_each_change_appends_its_record_in_wire_form(mgmt, db):
    start = ChangeFeed(db).last()
    role = mgmt.roles.create(name="feed-role")
    mgmt.roles.update(role.oid, description="changed")
    entries = ChangeFeed(db).after(start)
    assert [seq for seq, _ in entries] == [start + 1, start + 2]
    assert entries[0][1]["record"] == to_wire(role)
    assert (entries[1][1]["kind"], entries[1][1]["op"], entries[1][1]["record"]["description"]) == \
        ("role", "updated", "changed")
    assert ChangeFeed(db).last() == start + 2


def test_records_deleted_by_a_cascade_each_get_an_entry(mgmt, db):
    role = mgmt.roles.create(name="cascading")
    mgmt.permissions.create(role_oid=role.oid, uri="com.a.", match="prefix")
    start = ChangeFeed(db).last()
    mgmt.roles.delete(role.oid)
    assert _entries(db, start) == [("permission", "deleted", "com.a."), ("role", "deleted", "cascading")]


def test_an_aborted_or_refused_change_leaves_no_entry(mgmt, db):
    mgmt.roles.create(name="taken")
    start = ChangeFeed(db).last()
    with pytest.raises(RuntimeError):
        with db.begin(write=True) as txn:
            mgmt.roles.create(txn, name="never")
            raise RuntimeError("the caller changes its mind")
    with pytest.raises(Exception):
        mgmt.roles.create(name="taken")
    assert ChangeFeed(db).last() == start and _entries(db, start) == []


def test_changes_in_a_callers_transaction_are_numbered_in_order(mgmt, db):
    start = ChangeFeed(db).last()
    with db.begin(write=True) as txn:
        realm = mgmt.arealms.create(txn, name="shop")
        role = mgmt.roles.create(txn, name="buyer")
        mgmt.arealm_roles.create(txn, arealm_oid=realm.oid, role_oid=role.oid)
    assert [k for k, _, _ in _entries(db, start)] == ["arealm", "role", "arealm_role"]


def test_secrets_and_credential_records_never_enter_the_feed(mgmt, db):
    start = ChangeFeed(db).last()
    p = mgmt.principals.create(realm="realm1", authid="dora", role="user", ticket="doras-ticket-1")
    mgmt.principals.set_secret(p.oid, "ticket", "doras-ticket-2")
    kinds = {e["kind"] for _, e in ChangeFeed(db).follow(start)}
    assert kinds == {"principal"}
    assert "doras-ticket" not in repr(list(ChangeFeed(db).follow(start)))


def test_the_feed_keeps_the_newest_entries_and_the_sequence_keeps_growing(mgmt, db, monkeypatch):
    monkeypatch.setattr(feed, "KEEP", 5)
    for i in range(12):
        mgmt.routerclusters.create(name=f"c{i}")
    seqs = [seq for seq, _ in ChangeFeed(db).follow(0)]
    assert seqs == list(range(8, 13)) and ChangeFeed(db).last() == 12


def test_commits_in_this_process_wake_local_listeners_only_after_commit(mgmt, db):
    heard = []
    remove = feed.on_local_commit(db, lambda: heard.append(ChangeFeed(db).last()))
    try:
        with db.begin(write=True) as txn:
            mgmt.roles.create(txn, name="woken")
            assert heard == []
        assert heard == [ChangeFeed(db).last()]
    finally:
        remove()
    mgmt.roles.create(name="after-removal")
    assert len(heard) == 1


def test_changes_from_several_processes_share_one_sequence(mgmt, db):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    children = [ctx.Process(target=_create_roles, args=(db.path, f"p{i}", 20)) for i in range(2)]
    for child in children:
        child.start()
    for i in range(20):
        mgmt.roles.create(name=f"here{i}")
    for child in children:
        child.join(120)
        assert child.exitcode == 0
    seqs = [seq for seq, _ in ChangeFeed(db).follow(0)]
    assert seqs == list(range(1, 61))
    assert sorted(name for _, _, name in _entries(db)) == sorted(
        [f"here{i}" for i in range(20)] + [f"p{j}-{i}" for j in range(2) for i in range(20)])


def _create_roles(path: str, prefix: str, n: int) -> None:
    with open_database(path) as database:
        mgmt = Management(database)
        for i in range(n):
            mgmt.roles.create(name=f"{prefix}-{i}")


# -- PostgreSQL: a commit on one engine notifies the listeners of the others ----------------------

@pytest.fixture
def pg_url():
    yield from pg.private_url()


def test_on_postgresql_a_change_in_another_process_notifies_and_is_read_from_the_feed(pg_url):
    import multiprocessing

    with open_database(pg_url) as db:
        reader = ChangeFeed(db)
        heard = threading.Event()
        listener = db.listen(feed.CHANNEL, lambda payload: heard.set())
        try:
            assert listener.ready.wait(10), "the listener did not start listening"
            child = multiprocessing.get_context("spawn").Process(target=_create_roles, args=(pg_url, "pg", 1))
            child.start()
            child.join(120)
            assert child.exitcode == 0
            assert heard.wait(10), "no notification within 10 s"
        finally:
            listener.stop()
        entries = reader.after(0)
        assert [(e["kind"], e["op"], e["record"]["name"]) for _, e in entries] == [("role", "created", "pg-0")]
        assert reader.last() == entries[-1][0]


def test_a_database_from_before_the_feed_reads_read_only_and_gains_the_feed_when_written(tmp_path):
    from cfxstore.globalschema.schema import GlobalSchema
    from cfxstore.mrealm.entities import Principal
    from cfxstore.mrealm.schema import MrealmSchema

    path = str(tmp_path / "old")
    with open_database(path) as database:  # the management tables as they were before the feed
        GlobalSchema.attach(database)
        ann = Principal(realm="realm1", authid="ann", role="user")
        with database.begin(write=True) as txn:
            MrealmSchema.attach(database).principals[txn, ann.oid] = ann
        assert "changes" not in {e["name"] for e in database.catalog().values()}
    with open_database(path, readonly=True) as database:
        assert [p.authid for p in Management(database).principals.list().items] == ["ann"]
    with open_database(path) as database:
        Management(database).roles.create(name="first-change")
        assert _entries(database) == [("role", "created", "first-change")]


def test_principal_commands_of_the_cli_enter_the_feed_without_their_secrets(tmp_path):
    from click.testing import CliRunner

    from cfxstore.cli.main import cli

    path = str(tmp_path / "cli")
    run = CliRunner()
    for args, stdin in ((["add", "bo", "--role", "user", "--password-stdin", "--create"], "bos-ticket-1\n"),
                        (["passwd", "bo", "--generate"], None), (["remove", "bo", "--yes"], None)):
        result = run.invoke(cli, ["principals", *args, "--db", path], input=stdin)
        assert result.exit_code == 0, result.output
    with open_database(path) as database:
        entries = list(ChangeFeed(database).follow(0))
    assert [(e["kind"], e["op"], e["record"]["authid"]) for _, e in entries] == [
        ("principal", "created", "bo"), ("principal", "updated", "bo"), ("principal", "deleted", "bo")]
    assert "bos-ticket-1" not in repr(entries)


def test_a_principal_added_to_a_node_enters_the_feed_with_its_ticket_in_the_same_write(tmp_path):
    from cfxstore.credentials.service import CredentialService
    from cfxstore.node import nodeconfig
    from cfxstore.router.launcher import add_principal, init_node

    cbdir = str(tmp_path / "node")
    init_node(cbdir)
    ticket = add_principal(cbdir, realm="realm1", authid="carol", role="user")
    [path] = nodeconfig.credential_databases(nodeconfig.load_config(cbdir), cbdir)
    with open_database(path) as database:
        entries = list(ChangeFeed(database).follow(0))
        assert [(e["kind"], e["op"], e["record"]["authid"]) for _, e in entries] == [("principal", "created", "carol")]
        assert ticket not in repr(entries)
        assert CredentialService(database).verify_ticket("realm1", "carol", ticket) is not None


def test_following_reads_past_one_batch(mgmt, db):
    with db.begin(write=True) as txn:
        for i in range(feed.BATCH + 5):
            mgmt.routerclusters.create(txn, name=f"b{i}")
    seqs = [seq for seq, _ in ChangeFeed(db).follow(0)]
    assert seqs == list(range(1, feed.BATCH + 6))
    assert [seq for seq, _ in ChangeFeed(db).follow(feed.BATCH)] == list(range(feed.BATCH + 1, feed.BATCH + 6))
