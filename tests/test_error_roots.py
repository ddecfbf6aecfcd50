"""One error root per package: every exception orm defines is an orm.Error, every one cfxstore defines a
cfxstore.Error, and the builtin kinds callers caught before still catch them."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import cfxstore
import cfxstore.errors
import orm


def _exception_classes(package) -> list[type[BaseException]]:
    """The public exception classes defined (not merely imported) in package and its modules."""
    found = set()
    modules = [package] + [importlib.import_module(info.name)
                           for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    for module in modules:
        for name, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__
                    and not name.startswith("_")):  # private ones are control flow that never leaves its module
                found.add(value)
    return sorted(found, key=lambda cls: (cls.__module__, cls.__qualname__))


@pytest.mark.parametrize("package,root", [(orm, orm.Error), (cfxstore, cfxstore.Error)], ids=["orm", "cfxstore"])
def test_every_exception_a_package_defines_derives_from_its_root(package, root):
    classes = _exception_classes(package)
    assert root in classes
    strays = sorted(f"{cls.__module__}.{cls.__qualname__}" for cls in classes if not issubclass(cls, root))
    assert not strays, f"not derived from {root.__module__}.{root.__name__}: {strays}"


def test_the_roots_are_distinct():
    assert not issubclass(orm.Error, cfxstore.Error) and not issubclass(cfxstore.Error, orm.Error)


@pytest.mark.parametrize("error,builtin", [
    (orm.InvalidArgument, ValueError), (orm.WrongType, TypeError), (orm.KeyNotFound, KeyError),
    (orm.KeyTooLong, ValueError), (orm.ValueCodecError, ValueError), (orm.DatabaseNotFound, FileNotFoundError),
    (cfxstore.errors.InvalidArgument, ValueError), (cfxstore.errors.WrongType, TypeError),
    (cfxstore.errors.NotFound, LookupError),
])
def test_errors_stay_the_builtin_kind_callers_catch(error, builtin):
    assert issubclass(error, builtin)


def test_bad_input_to_the_orm_is_an_orm_error_and_still_the_builtin_kind(db):
    class S(orm.Schema):
        def attach(self, db):
            self.t = orm.Map(1, key="uint64", value="bytes")

    s = S.attach(db)
    with db.begin(write=True) as txn:
        with pytest.raises(orm.InvalidArgument, match="table t .*key -1 out of range"):
            s.t[txn, -1] = b"v"
        with pytest.raises(orm.WrongType, match="table t .*wrong type"):
            s.t[txn, "one"] = b"v"
        with pytest.raises(orm.KeyNotFound) as missing:
            del s.t[txn, 1]
    assert str(missing.value) == "table t (slot 1): no key 1"  # a sentence, not KeyError's quoted repr
    with pytest.raises(ValueError, match="maxsize"):
        orm.Database(db.path + "-other", maxsize=1)


def test_bad_input_to_cfxstore_is_a_cfxstore_error_and_still_a_value_error():
    from cfxstore.timeutil import parse_time

    with pytest.raises(cfxstore.errors.InvalidArgument, match="'soon' is not a time"):
        parse_time("soon")
    with pytest.raises(ValueError):
        parse_time("soon")


def test_the_older_names_are_the_shared_classes():
    from cfxstore.credentials import CredentialError, InvalidName, PrincipalExists, PrincipalNotFound
    from cfxstore.management import AlreadyExists, ManagementError, NotFound

    assert orm.OrmError is orm.Error
    assert ManagementError is CredentialError is cfxstore.Error
    assert PrincipalExists is AlreadyExists and PrincipalNotFound is NotFound
    assert InvalidName is cfxstore.errors.InvalidArgument
