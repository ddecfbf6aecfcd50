"""The engine boundary: everything orm needs from a storage engine.

Tables and codecs talk to an engine only through the methods below, so a
second engine (PostgreSQL for router clusters) can slot in without touching
them. LMDB (``orm.engine.lmdb``) is the embedded default.

Engine:
    open_table(name, txn, create) -> handle | None
    begin(write) -> EngineTransaction
    info() -> dict, copy(dest, compact), close()

EngineTransaction (raw bytes in and out, keys ordered bytewise):
    get(key, default=None, db=handle) -> bytes | None
    put(handle, key, value, overwrite=True) -> bool   (False: key existed, nothing written)
    put_many(handle, pairs)                              overwriting puts, one engine call
    replace(handle, key, value) -> bytes | None         (the previous value)
    delete(handle, key) -> bool
    iterate(handle, start, stop, reverse=False) -> Iterator[(key, value)]   [start, stop)
    count(handle) -> int                                 exact, O(1)
    drop(handle) -> int                                  empties one table
    commit(), abort(), on_commit(fn), on_abort(fn)

Hot paths pass arguments positionally (keyword parsing costs py-lmdb
0.15 µs a call): ``get(key, None, handle)``. The hot write path avoids a
Python frame per put: callers use
``put_raw(key, value, dupdata, overwrite, append, handle)`` (the engine's own put),
append ``(PUT or ADD, handle, key, value)`` to ``wlog`` when it wrote, and
hand any exception to ``write_failed(exc, handle, key, value, what)``.
"""


from __future__ import annotations

# Write log opcodes shared by the engines and the hot-path callers.
PUT = 0   # put that overwrites
ADD = 1   # put that only inserts (overwrite=False)


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with prefix (None: no bound)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes((stripped[-1] + 1,))
