"""The C accelerator (orm._core) and its Python twin behave the same."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import orm.core

HERE = Path(__file__).parent


def pure_env() -> dict[str, str]:
    return {**os.environ, "ORM_PURE_PYTHON": "1"}


@pytest.mark.skipif(os.environ.get("ORM_PURE_PYTHON") is not None, reason="the Python version was asked for")
@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no C compiler here")
def test_the_c_core_is_built_where_a_compiler_exists():
    assert orm.core.ACCELERATED, "orm._core was not built; pip install -e . with a C compiler builds it"


def test_the_environment_switch_selects_the_python_version():
    out = subprocess.run([sys.executable, "-c", "import orm.core; print(orm.core.ACCELERATED)"],
                         env=pure_env(), capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.skipif(not orm.core.ACCELERATED, reason="this run already uses the Python version")
def test_the_orm_suite_passes_on_the_python_version():
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", str(HERE),
                           "--deselect", f"{HERE / 'test_core.py'}::test_the_orm_suite_passes_on_the_python_version",
                           # orm.keys has no C twin: its codecs run the same code in both builds.
                           "--ignore", str(HERE / "test_keys.py")],
                          env=pure_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout


# -- the C item access against the Python path -------------------------------------------------

import tempfile  # noqa: E402
import uuid  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import orm  # noqa: E402

KEYS = st.one_of(st.text(max_size=8), st.text(min_size=500, max_size=600), st.integers(), st.none(), st.binary(max_size=4))
VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=20), st.lists(st.integers(), max_size=3),
                   st.dictionaries(st.text(max_size=4), st.integers(), max_size=3), st.just(object()),
                   st.builds(lambda: {"typed": Tagged(uuid.UUID(int=7))}))


@orm.table("5d0c7f4e-1f0e-4c1a-9a53-0d7b2c9e4a11")
class Tagged:
    def __init__(self, oid):
        self.oid = oid

    def marshal(self):
        return {"oid": str(self.oid)}

    @staticmethod
    def parse(data):
        return Tagged(uuid.UUID(data["oid"]))

    def __eq__(self, other):
        return isinstance(other, Tagged) and other.oid == self.oid


class Twins(orm.Schema):
    def attach(self, db):
        self.fast = orm.MapStringCbor(1)
        self.slow = orm.MapStringCbor(2)


def outcome(fn):
    try:
        return ("ok", fn())
    except Exception as exc:
        return ("error", type(exc), str(exc).replace("table slow (slot 2)", "table fast (slot 1)"))


@pytest.mark.skipif(not orm.core.ACCELERATED, reason="the C core is not built")
@given(ops=st.lists(st.tuples(st.sampled_from(["set", "get", "del"]), KEYS, VALUES), max_size=25))
def test_the_c_item_access_behaves_as_the_python_path(ops):
    # Differential: the same operations through tab[txn, k] (C) and the Python
    # methods it falls back to, on twin tables; same results, errors and bytes.
    with tempfile.TemporaryDirectory() as tmp:
        for db in (orm.Database(":memory:"), orm.Database(tmp, engine="lmdb", maxsize_limit=1 << 24)):
            with db:
                run_twins(db, ops)


def run_twins(db, ops):
    s = Twins.attach(db)
    with db.begin(write=True) as txn:
        s.fast.truncate(txn)
        s.slow.truncate(txn)
        for op, key, value in ops:
            if op == "set":
                a = outcome(lambda: s.fast.__setitem__((txn, key), value))
                b = outcome(lambda: s.slow._setitem_py((txn, key), value))
            elif op == "get":
                a = outcome(lambda: s.fast[txn, key])
                b = outcome(lambda: s.slow._getitem_py((txn, key)))
            else:
                a = outcome(lambda: s.fast.__delitem__((txn, key)))
                b = outcome(lambda: s.slow._delitem_py((txn, key)))
            assert a == b, (db.engine_name, op, key, value)
        assert list(txn.iterate(s.fast._h, None, None)) == list(txn.iterate(s.slow._h, None, None))


@pytest.mark.skipif(not orm.core.ACCELERATED, reason="the C core is not built")
def test_the_c_core_refuses_plans_and_decoders_it_could_not_call():
    tab = orm.MapStringCbor(1)
    good = (tab._kenc, tab._enc, tab._dec, tab._dec_slow, None, tab._h, 0, False, tab._getitem_py, tab._setitem_py,
            tab._delitem_py, tab._put_indexed)
    for i in (0, 1, 2, 8, 9, 10, 11):
        with pytest.raises(TypeError):
            tab.set_plan(*good[:i], None, *good[i + 1:])
    with pytest.raises(TypeError):  # a marker needs a slow decoder
        tab.set_plan(*good[:3], None, b"m", *good[5:])
    with pytest.raises(TypeError):
        orm.core.Decoder(None, None, b"m", None)
    core = orm.core.TableCore.__new__(orm.core.TableCore)  # never planned
    with pytest.raises(TypeError, match="not initialised"):
        core[None, "k"]
    tab.set_plan(*good)  # still whole after the refusals
    with orm.Database(":memory:") as db, db.begin() as txn:
        with pytest.raises(orm.SchemaError, match="not attached"):
            tab[txn, "k"]
