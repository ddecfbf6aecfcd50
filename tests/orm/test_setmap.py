"""SetMap: live set views whose changes persist."""

from __future__ import annotations

import uuid

import pytest

import orm


class S(orm.Schema):
    def attach(self, db):
        self.members = orm.MapUuidUuidSet(1)
        self.tags = orm.SetMap(2, key="str", member="str")
        self.neighbour = orm.MapUuidCbor(3)


@pytest.fixture
def s(db):
    return S.attach(db)


@pytest.mark.parametrize("n", [1, 2, 17, 10_000])
def test_sets_read_back_whole(db, s, n):
    key = uuid.uuid4()
    members = {uuid.uuid4() for _ in range(n)}
    with db.begin(write=True) as txn:
        view = s.members[txn, key]
        for m in members:
            view.add(m)
    with db.begin() as txn:
        view = s.members[txn, key]
        assert len(view) == n
        assert set(view) == members
        assert list(view) == sorted(members)
        some = next(iter(members))
        assert some in view and uuid.uuid4() not in view


def test_add_discard_remove_clear(db, s):
    k, a, b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with db.begin(write=True) as txn:
        s.members[txn, k].add(a)
        s.members[txn, k].add(a)  # idempotent
        s.members[txn, k].add(b)
    with db.begin(write=True) as txn:
        assert s.members[txn, k] == {a, b}
        assert s.members[txn, k].discard(a) is True
        assert s.members[txn, k].discard(a) is False
        with pytest.raises(KeyError):
            s.members[txn, k].remove(a)
        s.members[txn, k].remove(b)
        assert len(s.members[txn, k]) == 0 and not s.members[txn, k]
        assert (txn, k) not in s.members


def test_missing_key_is_an_empty_set(db, s):
    with db.begin() as txn:
        assert set(s.members[txn, uuid.uuid4()]) == set()


def test_sets_of_neighbouring_keys_stay_apart(db, s):
    with db.begin(write=True) as txn:
        s.tags[txn, "a"].update(["x", "y"])
        s.tags[txn, "ab"].add("z")
        s.tags[txn, "a\x00"].add("w")
    with db.begin() as txn:
        assert set(s.tags[txn, "a"]) == {"x", "y"}
        assert set(s.tags[txn, "ab"]) == {"z"}
        assert set(s.tags[txn, "a\x00"]) == {"w"}
        assert list(s.tags.select(txn, prefix="a")) == [("a", "x"), ("a", "y"), ("a\x00", "w"), ("ab", "z")]
        assert s.tags.count(txn) == 4


def test_assign_and_delete_whole_sets(db, s):
    k = uuid.uuid4()
    new = {uuid.uuid4() for _ in range(3)}
    with db.begin(write=True) as txn:
        s.members[txn, k].add(uuid.uuid4())
        s.members[txn, k] = new
        assert set(s.members[txn, k]) == new
        del s.members[txn, k]
        assert len(s.members[txn, k]) == 0
        with pytest.raises(KeyError):
            del s.members[txn, k]


def test_bad_member_type_writes_nothing(db, s):
    k = uuid.uuid4()
    with db.begin(write=True) as txn:
        s.members[txn, k].add(uuid.uuid4())
        with pytest.raises(TypeError, match="member"):
            s.members[txn, k] = [uuid.uuid4(), "nope"]
        assert len(s.members[txn, k]) == 1


def test_truncate_leaves_neighbours(db, s):
    k = uuid.uuid4()
    with db.begin(write=True) as txn:
        s.members[txn, k].add(uuid.uuid4())
        s.neighbour[txn, k] = 1
        s.members.truncate(txn)
        assert s.members.count(txn) == 0 and s.neighbour[txn, k] == 1
