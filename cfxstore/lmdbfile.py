"""A cheap check that an LMDB data file is whole before it is mapped.

LMDB maps data.mdb and trusts its meta pages: a truncated copy (a backup
cut short, a partial file transfer) describes pages past the end of the
file, and touching them kills the reader with SIGBUS. The newest meta page
says how many pages the database uses; the file must hold them all.
"""

from __future__ import annotations

import os
import struct

import orm

_MAGIC = 0xBEEFC0DE
# MDB_meta after the 16-byte page header: magic, version, ..., the page size
# (in the free list's md_pad) at 40, mm_last_pg at 136 and mm_txnid at 144.
_HEAD = struct.Struct("=II")
_PSIZE = struct.Struct("=I")
_LAST_TXN = struct.Struct("=QQ")
_META_BYTES = 152


def _meta(page: bytes) -> tuple[int, int, int] | None:
    """(page size, last page, txnid) of one meta page, or None if it is not one."""
    if len(page) < _META_BYTES or _HEAD.unpack_from(page, 16)[0] != _MAGIC:
        return None
    last, txnid = _LAST_TXN.unpack_from(page, 136)
    return _PSIZE.unpack_from(page, 40)[0], last, txnid


def check_whole(path: str) -> None:
    """Raise orm.DatabaseError if the data.mdb in directory path is shorter than it claims."""
    data = os.path.join(path, "data.mdb")
    try:
        f = open(data, "rb")
    except OSError:
        return  # nothing to check (missing, not a directory, unreadable): the open itself says what is wrong
    with f:
        head = f.read(_META_BYTES)
        if not head:
            return  # LMDB initialises an empty file as a new database
        m0 = _meta(head)
        if m0 is None:
            raise orm.DatabaseError(f"database {path}: data.mdb is not an LMDB data file (bad header)")
        f.seek(m0[0])
        m1 = _meta(f.read(_META_BYTES))
        # The size is taken after the meta pages: a writer writes its pages before the
        # meta page that counts them, so a commit in between cannot look like truncation.
        size = os.fstat(f.fileno()).st_size
    newest = m0 if m1 is None or m0[2] >= m1[2] else m1
    need = (newest[1] + 1) * newest[0]
    if size < need:
        raise orm.DatabaseError(f"database {path}: data.mdb is truncated ({size} bytes of the {need} its header "
                                "describes); it is an incomplete copy, restore a complete backup")
