"""Files and directories that appear whole or not at all: built under a temporary
sibling name, synced, then renamed (or linked) into place.

A temporary sibling is ``.<name>.<purpose>-<pid>-<random>``: hidden, next to
its final path (so the rename stays on one file system) and recognisable as
stale once its process has died.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil

from . import crashpoint


def _parts(final: str) -> tuple[str, str]:
    final = os.path.abspath(final).rstrip(os.sep)
    return os.path.dirname(final), os.path.basename(final)


def process_alive(pid: int) -> bool:
    """True if a process with this id exists on this host (owned by anyone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pattern(name_regex: str, purpose: str) -> re.Pattern[str]:
    return re.compile(rf"^\.{name_regex}\.{re.escape(purpose)}-(\d+)-[0-9a-f]{{16}}$")


def is_temp(entry: str, final: str, purpose: str) -> bool:
    """True if entry (a name in final's directory) is one of final's temporaries."""
    return _pattern(re.escape(_parts(final)[1]), purpose).match(entry) is not None


def clean_stale(final: str, purpose: str, name_regex: str | None = None) -> list[str]:
    """Remove temporaries for final left by processes that died; returns what was removed.

    name_regex widens final's name to a family of names (for example every
    timestamped backup of one database).
    """
    parent, name = _parts(final)
    pattern = _pattern(re.escape(name) if name_regex is None else name_regex, purpose)
    removed = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.listdir(parent):
            m = pattern.match(entry)
            if m and int(m.group(1)) != os.getpid() and not process_alive(int(m.group(1))):
                shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)
                removed.append(entry)
    return removed


def temp_dir(final: str, purpose: str) -> str:
    """A new empty directory (0700) beside final, to be published with publish()."""
    parent, name = _parts(final)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    clean_stale(final, purpose)
    path = os.path.join(parent, f".{name}.{purpose}-{os.getpid()}-{secrets.token_hex(8)}")
    os.mkdir(path, 0o700)
    return path


def fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: str, final: str) -> None:
    """Sync every file of tmp and tmp itself, rename it to final, sync the parent.

    final must not exist or be an empty directory (rename replaces it
    atomically); otherwise OSError (EEXIST/ENOTEMPTY) and tmp is left as is.
    """
    for entry in os.listdir(tmp):
        fsync_path(os.path.join(tmp, entry))
    fsync_path(tmp)
    crashpoint.reached("publish-synced")
    os.rename(tmp, final)
    crashpoint.reached("publish-renamed")
    fsync_path(os.path.dirname(os.path.abspath(final)))


def publish_file(tmp: str, final: str) -> bool:
    """Sync file tmp and give it the name final unless final exists; sync final's directory.

    A hard link never replaces an existing file, so of two processes racing
    for final exactly one wins. Returns False (tmp untouched) if final existed.
    """
    fsync_path(tmp)
    crashpoint.reached("publish-synced")
    try:
        os.link(tmp, final)
    except FileExistsError:
        return False
    crashpoint.reached("publish-renamed")
    os.unlink(tmp)
    fsync_path(os.path.dirname(os.path.abspath(final)))
    return True


def discard(tmp: str) -> None:
    shutil.rmtree(tmp, ignore_errors=True)
