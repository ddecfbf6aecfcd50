"""Indexes: maintained on put, update and delete; unique ones enforced; rebuild and check."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

import orm


@dataclass
class User:
    oid: uuid.UUID
    email: str
    team: str | None
    nick: str | None = None


class S(orm.Schema):
    def attach(self, db):
        self.users = orm.MapUuidCbor(1, marshal=lambda u: u.__dict__, unmarshal=lambda d: User(**d))
        self.by_email = orm.MapStringUuid(100)
        self.by_nick = orm.MapStringUuid(101)
        self.by_team = orm.MapStringUuidSet(102)
        self.users.attach_index("by_email", self.by_email, lambda u: u.email)
        self.users.attach_index("by_nick", self.by_nick, lambda u: u.nick, nullable=True)
        self.users.attach_index("by_team", self.by_team, lambda u: u.team, unique=False, nullable=True)


@pytest.fixture
def s(db):
    return S.attach(db)


def new_user(email="a@x", team="red", nick=None):
    return User(uuid.uuid4(), email, team, nick)


def snapshot(db, s):
    with db.begin() as txn:
        return {name: list(tab.select(txn)) for name, tab in s.tables().items()}


def test_insert_maintains_every_index(db, s):
    u = new_user(nick="al")
    with db.begin(write=True) as txn:
        s.users[txn, u.oid] = u
    with db.begin() as txn:
        assert s.by_email[txn, "a@x"] == u.oid
        assert s.by_nick[txn, "al"] == u.oid
        assert set(s.by_team[txn, "red"]) == {u.oid}
        assert s.users.keys_by_index(txn, "by_email", "a@x") == [u.oid]
        assert s.users.get_by_index(txn, "by_team", "red") == u


def test_unique_violation_writes_nothing(db, s):
    a = new_user("a@x", nick="al")
    with db.begin(write=True) as txn:
        s.users[txn, a.oid] = a
    before = snapshot(db, s)
    b = new_user("b@x", team="blue", nick="al")  # by_email is fine, by_nick collides
    with pytest.raises(orm.UniqueViolation, match="by_nick"):
        with db.begin(write=True) as txn:
            s.users[txn, b.oid] = b
    assert snapshot(db, s) == before


def test_unique_violation_inside_a_transaction_leaves_it_usable(db, s):
    a, b = new_user("a@x"), new_user("a@x", team="blue")
    with db.begin(write=True) as txn:
        s.users[txn, a.oid] = a
        with pytest.raises(orm.UniqueViolation):
            s.users[txn, b.oid] = b
        assert s.users[txn, b.oid] is None
        assert set(s.by_team[txn, "blue"]) == set()
        assert s.by_email[txn, "a@x"] == a.oid


def test_update_moves_index_entries(db, s):
    u = new_user("a@x", "red", "al")
    with db.begin(write=True) as txn:
        s.users[txn, u.oid] = u
        s.users[txn, u.oid] = User(u.oid, "new@x", "blue", None)
    with db.begin() as txn:
        assert s.by_email[txn, "a@x"] is None and s.by_email[txn, "new@x"] == u.oid
        assert s.by_nick.count(txn) == 0
        assert set(s.by_team[txn, "red"]) == set() and set(s.by_team[txn, "blue"]) == {u.oid}


def test_update_keeping_the_unique_key_is_not_a_violation(db, s):
    u = new_user("a@x")
    with db.begin(write=True) as txn:
        s.users[txn, u.oid] = u
        s.users[txn, u.oid] = User(u.oid, "a@x", "green")
    with db.begin() as txn:
        assert s.by_email[txn, "a@x"] == u.oid and s.users[txn, u.oid].team == "green"


def test_delete_removes_index_entries(db, s):
    u = new_user(nick="al")
    with db.begin(write=True) as txn:
        s.users[txn, u.oid] = u
        del s.users[txn, u.oid]
    with db.begin() as txn:
        for tab in s.tables().values():
            assert tab.count(txn) == 0


def test_null_keys_on_nullable_indexes_are_skipped(db, s):
    u = new_user(team=None, nick=None)
    with db.begin(write=True) as txn:
        s.users[txn, u.oid] = u
        assert s.by_team.count(txn) == 0 and s.by_nick.count(txn) == 0
        s.users.delete(txn, u.oid)
        assert s.users.count(txn) == 0


def test_null_key_on_non_nullable_index_is_refused_before_writing(db, s):
    u = User(uuid.uuid4(), None, "red")  # type: ignore[arg-type]
    with db.begin(write=True) as txn:
        with pytest.raises(orm.NullIndexKey, match="by_email"):
            s.users[txn, u.oid] = u
        assert all(tab.count(txn) == 0 for tab in s.tables().values())


def test_non_unique_lookup_returns_all_primary_keys(db, s):
    users = [new_user(f"{i}@x", "red") for i in range(5)] + [new_user("z@x", "blue")]
    with db.begin(write=True) as txn:
        for u in users:
            s.users[txn, u.oid] = u
    with db.begin() as txn:
        assert sorted(s.users.keys_by_index(txn, "by_team", "red")) == sorted(u.oid for u in users[:5])
        assert s.users.keys_by_index(txn, "by_team", "green") == []


def test_check_reports_and_repairs_drift(db, s):
    u, v = new_user("a@x"), new_user("b@x")
    with db.begin(write=True) as txn:
        s.users[txn, u.oid] = u
        s.users[txn, v.oid] = v
        del s.by_email[txn, "a@x"]          # drift: a missing entry
        s.by_team[txn, "ghost"].add(u.oid)  # drift: a stale entry
    with db.begin(write=True) as txn:
        problems = s.users.check_indexes(txn)
        assert any("by_email" in p and "missing" in p for p in problems)
        assert any("by_team" in p and "stale" in p for p in problems)
        assert s.users.check_indexes(txn, repair=True)
        assert s.users.check_indexes(txn) == []
        assert s.by_email[txn, "a@x"] == u.oid and len(s.by_team[txn, "ghost"]) == 0


def test_rebuild_index(db, s):
    u = new_user("a@x")
    with db.begin(write=True) as txn:
        s.users[txn, u.oid] = u
        s.by_email.truncate(txn)
        assert s.users.rebuild_index(txn, "by_email") == 1
        assert s.by_email[txn, "a@x"] == u.oid


def test_truncate_also_empties_its_indexes(db, s):
    with db.begin(write=True) as txn:
        u = new_user()
        s.users[txn, u.oid] = u
        s.users.truncate(txn)
        assert all(tab.count(txn) == 0 for tab in s.tables().values())


def test_index_added_later_is_backfilled(tmp_path):
    class V1(orm.Schema):
        def attach(self, db):
            self.users = orm.MapUuidCbor(1)

    class V2(orm.Schema):
        def attach(self, db):
            self.users = orm.MapUuidCbor(1)
            self.by_email = orm.MapStringUuid(100)
            self.users.attach_index("by_email", self.by_email, lambda u: u["email"])

    oid = uuid.uuid4()
    with orm.Database(tmp_path / "db") as db:
        s = V1.attach(db)
        with db.begin(write=True) as txn:
            s.users[txn, oid] = {"email": "a@x"}
    with orm.Database(tmp_path / "db") as db:
        s = V2.attach(db)
        with db.begin() as txn:
            assert s.by_email[txn, "a@x"] == oid


def test_index_table_must_match_the_primary_key():
    users = orm.MapUuidCbor(1)
    with pytest.raises(orm.SchemaError, match="primary key"):
        users.attach_index("x", orm.MapStringOid(2), lambda u: u)
    with pytest.raises(orm.SchemaError, match="SetMap"):
        users.attach_index("y", orm.MapStringUuid(3), lambda u: u, unique=False)
    with pytest.raises(orm.SchemaError, match="unknown|no index"):
        users.index("nope")


class Guarded(S):
    def attach(self, db):
        super().attach(db)
        self.ended = orm.Map(103, key="str", value="uint64")


def test_write_known_keeps_every_index_without_reading_and_honours_its_guard_and_existing(db):
    s = Guarded.attach(db)
    ann, bob, cid = new_user("ann@x", "red", "ann"), new_user("bob@x", "blue"), new_user("cid@x", "red")
    with db.begin(write=True) as txn:
        s.ended[txn, "blue"] = 10
        s.users.write_known(txn, [(u.oid, None, u) for u in (ann, bob, cid)],
                            guard=lambda u: (s.ended, u.team, 5) if u.team == "blue" else None)  # bob: left out
    moved = User(ann.oid, "ann@y", None, "ann")
    gone = User(bob.oid, "bob@y", "red")  # never stored: existing leaves it out
    with db.begin(write=True) as txn:
        s.users.write_known(txn, [(ann.oid, ann, moved), (bob.oid, bob, gone)], existing=True)
        s.users.write_known(txn, [(cid.oid, cid, User(cid.oid, "cid@x", "green"))],
                            guard=lambda u: (s.ended, "blue", 11))  # the guard holds 10 < 11: written
    with db.begin() as txn:
        assert s.users[txn, bob.oid] is None and s.users[txn, ann.oid] == moved
        assert s.users.get_by_index(txn, "by_email", "ann@y") == moved
        assert s.users.get_by_index(txn, "by_email", "ann@x") is None
        assert s.users.keys_by_index(txn, "by_team", "red") == []
        assert s.users.keys_by_index(txn, "by_team", "green") == [cid.oid]
        assert s.users.check_indexes(txn) == []


def test_records_found_through_a_unique_index_in_one_go_are_deleted_with_their_entries_by_write_known(db, s):
    users = [new_user(f"u{i}@x", "red" if i % 2 else "blue", f"n{i}") for i in range(6)]
    with db.begin(write=True) as txn:
        for u in users:
            s.users[txn, u.oid] = u
    with db.begin(write=True) as txn:
        found = s.users.get_many_by_index(txn, "by_email", ["u1@x", "u4@x", "nobody@x", "u1@x"])
        assert sorted(u.oid for u in found) == sorted([users[1].oid, users[4].oid])
        assert s.users.get_many_by_index(txn, "by_email", []) == []
        with pytest.raises(orm.SchemaError, match="unique"):
            s.users.get_many_by_index(txn, "by_team", ["red"])
        s.users.write_known(txn, [(u.oid, u, None) for u in found])
    with db.begin() as txn:
        assert sorted(s.users.keys_by_index(txn, "by_team", "blue")) == sorted(users[i].oid for i in (0, 2))
        assert s.users.get_by_index(txn, "by_email", "u4@x") is None and s.users[txn, users[1].oid] is None
        assert s.users.get_by_index(txn, "by_nick", "n1") is None
        assert s.users.check_indexes(txn) == []


def test_write_known_and_plain_writes_apply_in_the_order_they_were_made(db):
    # On PostgreSQL the writes wait in the client and go as a few statements at the commit: whatever
    # goes together, each guard and existence check sees what the writes made before it left.
    s = Guarded.attach(db)
    ann, bob, cid, dan, eve = (new_user(f"{n}@x", "red", n) for n in ("ann", "bob", "cid", "dan", "eve"))
    with db.begin(write=True) as txn:
        s.users[txn, ann.oid] = ann
        s.users[txn, eve.oid] = eve
    with db.begin(write=True) as txn:
        s.users.write_known(txn, [(bob.oid, None, bob)], guard=lambda u: (s.ended, "blue", 5))  # none: written
        s.ended[txn, "blue"] = 10  # after the check above
        s.ended[txn, "red"] = 10  # before the check below
        s.users.write_known(txn, [(cid.oid, None, cid)], guard=lambda u: (s.ended, "red", 5))  # left out
        s.ended.write_known(txn, [("green", None, 10)], guard=lambda v: (s.ended, "absent", 1))  # written
        s.users.write_known(txn, [(dan.oid, None, dan)], guard=lambda u: (s.ended, "green", 5))  # left out
        # Rewrites of stored records whose indexes stay: one deleted before (left out), one not.
        del s.users[txn, eve.oid]
        renamed = User(ann.oid, "ann@x", "red", "ann")
        s.users.write_known(txn, [(eve.oid, eve, eve), (ann.oid, ann, renamed)], existing=True)
        fay = new_user("fay@x", "red", "fay")
        s.users.write_known(txn, [(fay.oid, None, fay)], guard=lambda u: (s.ended, "red", 11))  # 10: written
        s.ended.write_known(txn, [("blue", 10, 11), ("nope", 1, 2), ("red", 10, 12)], existing=True)
        s.users.write_known(txn, [(eve.oid, None, eve)], guard=lambda u: (s.ended, "blue", 11))  # left out
    with db.begin() as txn:
        assert s.ended[txn, "blue"] == 11 and s.ended[txn, "nope"] is None and s.ended[txn, "red"] == 12
        assert s.users[txn, fay.oid] == fay
        assert s.users[txn, bob.oid] == bob and s.users[txn, ann.oid] == renamed
        assert s.users[txn, cid.oid] is None and s.users[txn, dan.oid] is None and s.users[txn, eve.oid] is None
        assert s.users.check_indexes(txn) == []
