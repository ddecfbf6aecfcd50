"""The LMDB deletion file: what one process appends, the others read once, in order."""

from __future__ import annotations

import os
import subprocess
import sys

import orm
from cfxstore.cookies import deletionlog
from cfxstore.cookies.announce import announce_deleted, on_deleted, refuse_now
from cfxstore.cookies.service import CookieService

HASHES = [bytes([i]) * 32 for i in range(3)]


def append_from_another_process(path: str, hashes: list[bytes]) -> None:
    code = ("import sys; from cfxstore.cookies import deletionlog; "
            "deletionlog.append(sys.argv[1], [bytes.fromhex(h) for h in sys.argv[2:]])")
    subprocess.run([sys.executable, "-c", code, path, *(h.hex() for h in hashes)], check=True)


def test_a_follower_reads_what_other_processes_append_after_it_started(tmp_path):
    path = str(tmp_path / deletionlog.FILE)
    append_from_another_process(path, HASHES[:1])  # before the follower: not its business
    follower = deletionlog.Follower(path)
    assert follower.poll() == []
    append_from_another_process(path, HASHES[1:])
    assert follower.poll() == HASHES[1:]
    assert follower.poll() == []


def test_a_follower_skips_its_own_process_and_waits_for_whole_lines(tmp_path):
    path = str(tmp_path / deletionlog.FILE)
    follower = deletionlog.Follower(path)
    deletionlog.append(path, HASHES)  # this process was told directly
    assert follower.poll() == []
    with open(path, "ab") as f:
        f.write(b"1 " + HASHES[0].hex().encode())  # another process half way through its line
    assert follower.poll() == []
    with open(path, "ab") as f:
        f.write(b"\n")
    assert follower.poll() == [HASHES[0]]


def test_the_file_is_replaced_by_its_newest_lines_and_followers_go_on(tmp_path, monkeypatch):
    monkeypatch.setattr(deletionlog, "MAX_BYTES", 2000)
    monkeypatch.setattr(deletionlog, "KEEP_BYTES", 500)
    path = str(tmp_path / deletionlog.FILE)
    follower = deletionlog.Follower(path, pid=0)  # as in another process
    many = [i.to_bytes(32, "big") for i in range(40)]  # about 3000 bytes of lines
    for value_hash in many:
        deletionlog.append(path, [value_hash])
    assert os.path.getsize(path) <= 2000
    seen = follower.poll()
    assert seen and seen == many[-len(seen):]  # the newest, in order
    deletionlog.append(path, HASHES)
    assert follower.poll() == HASHES
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_a_committed_deletion_reaches_local_listeners_and_the_file_and_an_aborted_one_neither(db):
    heard: list[list[bytes]] = []
    stop = on_deleted(db, heard.append)
    path = deletionlog.log_path(db)
    service = CookieService(db)
    value, _ = service.create()
    try:
        with db.begin(write=True) as txn:
            announce_deleted(db, txn, HASHES)
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    assert heard == [] and not os.path.exists(path)
    assert service.clear_auth(value)
    assert heard == [[service.hash_value(value)]]
    with open(path) as f:
        assert f.read() == f"{os.getpid()} {service.hash_value(value).hex()}\n"
    stop()


def test_refuse_now_needs_no_transaction(db):
    heard: list[list[bytes]] = []
    on_deleted(db, heard.append)
    refuse_now(db, HASHES[:1])
    assert heard == [HASHES[:1]]
    with open(deletionlog.log_path(db)) as f:
        assert HASHES[0].hex() in f.read()


def test_only_lmdb_databases_have_a_deletion_file(tmp_path):
    with orm.Database(":memory:", engine="memory") as memory:
        assert deletionlog.log_path(memory) is None
