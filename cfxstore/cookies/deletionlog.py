"""Cookie deletions told to the other processes of one machine that share an LMDB database.

LMDB has no notifications, so a deletion is appended to a small file beside
the data (``cookie-deletions`` in the database directory): one line
``<pid> <value hash hex>`` per cookie. Router processes poll the file's size
(``Follower.poll``, a stat and a short read) and act on the lines they have
not seen, skipping their own (they were told in-process). Appends take an
exclusive lock, so lines never interleave; past ``MAX_BYTES`` the appender
replaces the file by its newest ``KEEP_BYTES`` (a new inode: followers read
the new file from its start, seeing some lines twice, which is harmless).

The file works when the database cannot be written (a full map), which is
what lets a logout refuse its cookie in every process at once whatever the
database says. It holds hashes of deleted cookies only: nothing a reader of
the file could log in with.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from typing import IO, Iterable, Iterator

import orm

FILE = "cookie-deletions"
MAX_BYTES = 1 << 20
KEEP_BYTES = 64 << 10


def log_path(db: orm.Database) -> str | None:
    """The deletion file of an LMDB database; None for other engines (they notify, or are one process)."""
    return os.path.join(db.path, FILE) if db.engine_name == "lmdb" else None


@contextlib.contextmanager
def _locked(path: str) -> Iterator[IO[bytes]]:
    """The current file at path, opened for appending under an exclusive lock."""
    while True:
        f = open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")
        try:
            fcntl.flock(f, fcntl.LOCK_EX)
            if os.fstat(f.fileno()).st_ino == os.stat(path).st_ino:
                yield f
                return
        except FileNotFoundError:
            pass  # replaced between open and stat: try the new file
        finally:
            f.close()


def append(path: str, value_hashes: Iterable[bytes]) -> None:
    """Tell the other processes that these cookies are deleted (or must be refused)."""
    data = "".join(f"{os.getpid()} {h.hex()}\n" for h in value_hashes).encode()
    if not data:
        return
    with _locked(path) as f:
        f.write(data)
        f.flush()
        if f.tell() > MAX_BYTES:
            _shrink(path)


def _shrink(path: str) -> None:
    """Replace the file (locked by the caller) by its newest lines."""
    with open(path, "rb") as f:
        f.seek(-KEEP_BYTES, os.SEEK_END)
        tail = f.read()
    tail = tail[tail.index(b"\n") + 1:]
    fresh = f"{path}.{os.getpid()}.tmp"
    with open(os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(tail)
    os.replace(fresh, path)


class Follower:
    """Reads the deletions other processes append after it was made."""

    def __init__(self, path: str, pid: int | None = None) -> None:
        """pid: the process whose lines are skipped (this one)."""
        self.path = path
        self._pid = str(os.getpid() if pid is None else pid).encode()
        self._inode: int | None = None
        self._offset = 0
        try:
            st = os.stat(path)
            self._inode, self._offset = st.st_ino, st.st_size
        except FileNotFoundError:
            pass

    def poll(self) -> list[bytes]:
        """Value hashes appended by other processes since the last poll."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        if st.st_ino != self._inode or st.st_size < self._offset:
            self._inode, self._offset = st.st_ino, 0
        if st.st_size == self._offset:
            return []
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read(st.st_size - self._offset)
        except FileNotFoundError:
            return []
        data = data[:data.rfind(b"\n") + 1]  # a line still being written is read next time
        self._offset += len(data)
        found = []
        for line in data.splitlines():
            pid, _, hexed = line.partition(b" ")
            if pid != self._pid:
                try:
                    found.append(bytes.fromhex(hexed.decode("ascii")))
                except ValueError:
                    continue
        return found
